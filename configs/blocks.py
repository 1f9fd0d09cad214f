"""The pieces the config files share: the objective, the PC sampler and each network's fields.

Each helper sets fields on a config in the order the original score_sde's
config files list them, so `config.json` (insertion-ordered) reads as before.
Fields the defaults already hold keep their place; a config file sets what
differs after calling the helper.
"""


def objective(config, sde, *, continuous, reduce_mean=None):
  """The SDE ('vesde' | 'vpsde' | 'subvpsde') and the loss: continuous time or the discrete
  SMLD / DDPM objective, summed or averaged over pixels (None: the defaults' choice)."""
  training = config.training
  training.sde = sde
  training.continuous = continuous
  if reduce_mean is not None:
    training.reduce_mean = reduce_mean


def pc_sampler(config, predictor, corrector):
  """The predictor-corrector sampler with this predictor and corrector."""
  sampling = config.sampling
  sampling.method = 'pc'
  sampling.predictor = predictor
  sampling.corrector = corrector


def ncsnpp_resampling(model, *, fir, progressive='none', progressive_input='none'):
  """NCSN++'s resampling and skip fields: FIR up/down-sampling or not, BigGAN residual blocks,
  skips rescaled by 1/sqrt(2), and the progressive growing of the output / input pyramids."""
  model.fir = fir
  model.fir_kernel = (1, 3, 3, 1)
  model.skip_rescale = True
  model.resblock_type = 'biggan'
  model.progressive = progressive
  model.progressive_input = progressive_input
  model.progressive_combine = 'sum'
  model.init_scale = 0.


def ncsnpp(config, *, scale_by_sigma, ema_rate, fir, progressive_input, embedding_type,
           progressive='none', nf=128, ch_mult=(1, 2, 2, 2), num_res_blocks=4):
  """NCSN++ (`fir`, residual input pyramid) or DDPM++ (no FIR, no pyramid), Song et al. 2021
  Section 4.4; 'fourier' embeddings get the original's Fourier scale 16."""
  model = config.model
  model.name = 'ncsnpp'
  model.scale_by_sigma = scale_by_sigma
  model.ema_rate = ema_rate
  model.nonlinearity = 'swish'
  model.nf = nf
  model.ch_mult = ch_mult
  model.num_res_blocks = num_res_blocks
  model.attn_resolutions = (16,)
  model.resamp_with_conv = True
  model.conditional = True
  ncsnpp_resampling(model, fir=fir, progressive=progressive, progressive_input=progressive_input)
  model.embedding_type = embedding_type
  if embedding_type == 'fourier':
    model.fourier_scale = 16.


def ncsnpp_ve(config, *, ema_rate=0.999, progressive_input='residual', embedding_type='fourier',
              **architecture):
  """NCSN++ as the VE configs use it: output divided by sigma, FIR, by default EMA 0.999, a
  residual input pyramid and the Fourier embedding (positional for the discrete objective)."""
  ncsnpp(config, scale_by_sigma=True, ema_rate=ema_rate, fir=True,
         progressive_input=progressive_input, embedding_type=embedding_type, **architecture)


def ncsnpp_256(config):
  """The NCSN++ of the 256x256 VE configs: 7 resolutions, 2 blocks each, output skips and an
  input-skip pyramid."""
  ncsnpp_ve(config, ch_mult=(1, 1, 2, 2, 2, 2, 2), num_res_blocks=2, progressive='output_skip',
            progressive_input='input_skip')


def ncsnpp_vp(config, *, num_res_blocks=4):
  """NCSN++ as the VP / sub-VP configs use it: no 1/sigma scaling, EMA 0.9999, positional."""
  ncsnpp(config, scale_by_sigma=False, ema_rate=0.9999, fir=True, progressive_input='residual',
         embedding_type='positional', num_res_blocks=num_res_blocks)


def ddpmpp(config, *, num_res_blocks=4):
  """DDPM++ (NCSN++ without FIR and input pyramid), as the VP / sub-VP configs use it."""
  ncsnpp(config, scale_by_sigma=False, ema_rate=0.9999, fir=False, progressive_input='none',
         embedding_type='positional', num_res_blocks=num_res_blocks)


def ddpm(config, *, scale_by_sigma=False, ema_rate=0.9999, ch_mult=(1, 2, 2, 2), conditional=True):
  """Ho et al.'s DDPM U-Net (GroupNorm, 2 blocks per resolution, attention at 16x16); it always
  embeds the time step sinusoidally, so the defaults' `embedding_type` goes."""
  model = config.model
  del model.embedding_type
  model.name = 'ddpm'
  model.scale_by_sigma = scale_by_sigma
  model.ema_rate = ema_rate
  model.normalization = 'GroupNorm'
  model.nonlinearity = 'swish'
  model.nf = 128
  model.ch_mult = ch_mult
  model.num_res_blocks = 2
  model.attn_resolutions = (16,)
  model.resamp_with_conv = True
  model.conditional = conditional


def ncsn(config, *, name='ncsn', scale_by_sigma=False, ema_rate, lr, num_scales, sigma_max=None,
         n_steps_each, snr):
  """NCSN (RefineNet, Song & Ermon 2019) or NCSNv2 ('ncsnv2_64' | 'ncsnv2_128', Song & Ermon
  2020) with their objective (discrete VE) and sampler (annealed Langevin dynamics alone):
  instance norm++, ELU, no dropout, the noise level only through the normalisation (NCSN) or
  1/sigma (NCSNv2), so no `embedding_type`; Adam without warm-up or gradient clipping.
  `sigma_max` None keeps the defaults' (Technique 1 of NCSNv2: the data's largest distance)."""
  objective(config, 'vesde', continuous=False)
  pc_sampler(config, 'none', 'ald')
  config.sampling.n_steps_each = n_steps_each
  config.sampling.snr = snr
  model = config.model
  del model.embedding_type
  del model.dropout
  model.name = name
  model.scale_by_sigma = scale_by_sigma
  if sigma_max is not None:
    model.sigma_max = sigma_max
  model.num_scales = num_scales
  model.ema_rate = ema_rate
  model.normalization = 'InstanceNorm++'
  model.nonlinearity = 'elu'
  model.nf = 128
  model.interpolation = 'bilinear'
  optim = config.optim
  optim.lr = lr
  optim.warmup = 0
  optim.grad_clip = -1.
