"""The pieces the config files share: the objective, the PC sampler and each network's fields.

Each helper sets fields on a config in the order the original score_sde's
config files list them, so `config.json` (insertion-ordered) reads as before.
Fields the defaults already hold keep their place; a config file sets what
differs after calling the helper. The `small_*` helpers build the sections the
CPU-sized defaults (configs/toy, configs/digits) share.
"""
import ml_collections


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


def ve_objective(config, *, continuous):
  """The VE SDE (SMLD when discrete) sampled by PC with reverse diffusion and Langevin, as the
  original's VE configs."""
  objective(config, 'vesde', continuous=continuous)
  pc_sampler(config, 'reverse_diffusion', 'langevin')


def vp_objective(config, *, continuous, predictor):
  """The VP SDE (DDPM when discrete) with the loss averaged over pixels, data centred in
  [-1, 1] and the PC sampler with `predictor` and no corrector, as the original's VP configs."""
  objective(config, 'vpsde', continuous=continuous, reduce_mean=True)
  pc_sampler(config, predictor, 'none')
  config.data.centered = True


def ncsnv2_techniques(config, *, sigma_max, num_scales, snr):
  """NCSN with NCSNv2's techniques 1 (sigma_max: the largest distance between training images),
  2 (`num_scales` levels) and 4 (5 Langevin steps per level at this SNR)."""
  config.model.sigma_max = sigma_max
  config.model.num_scales = num_scales
  config.sampling.n_steps_each = 5
  config.sampling.snr = snr


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


def small_training(config, *, batch_size, n_iters, n_jitted_steps, log_freq, snapshot_freq,
                   snapshot_freq_for_preemption, eval_at_end=None):
  """The `training` section of the CPU-sized runs: VP SDE in continuous time, the loss averaged
  over dimensions and unweighted (VP's g^2/s^2 weight ~ 1/t makes it too noisy on small runs),
  a sample figure at each snapshot; the preemption checkpoint (kept 1) is where a killed run
  resumes."""
  config.training = training = ml_collections.ConfigDict()
  training.sde = 'vpsde'
  training.continuous = True
  training.reduce_mean = True
  training.likelihood_weighting = False
  training.batch_size = batch_size
  training.n_iters = n_iters
  training.n_jitted_steps = n_jitted_steps
  training.log_freq = log_freq
  training.snapshot_freq = snapshot_freq
  training.snapshot_freq_for_preemption = snapshot_freq_for_preemption
  training.snapshot_sampling = True
  if eval_at_end is not None:
    training.eval_at_end = eval_at_end   # `--mode train` ends with `--mode eval` of the last snapshot
  training.restore_fallback = False   # True: a corrupt newest checkpoint falls back to the previous


def small_sampling(config, *, corrector):
  """The `sampling` section of the CPU-sized runs: PC, reverse diffusion, one corrector step."""
  config.sampling = sampling = ml_collections.ConfigDict()
  pc_sampler(config, 'reverse_diffusion', corrector)
  sampling.snr = 0.16
  sampling.n_steps_each = 1
  sampling.noise_removal = True
  sampling.probability_flow = False


def small_sde_scales(model, *, num_scales, sigma_max):
  """The EMA rate and the SDEs' fields of the CPU-sized runs (VP: beta 0.1 -> 20, the paper's;
  VE: sigma 0.01 -> `sigma_max`, above the data's largest pairwise distance)."""
  model.ema_rate = 0.999
  model.num_scales = num_scales
  model.beta_min = 0.1
  model.beta_max = 20.
  model.sigma_min = 0.01
  model.sigma_max = sigma_max


def small_adam(config, *, lr):
  """The `optim` section of the CPU-sized runs: Adam, 200 warm-up steps, clipping at 1, and a
  cosine decay to 0 at n_iters (a sharper final score)."""
  config.optim = optim = ml_collections.ConfigDict()
  optim.optimizer = 'Adam'
  optim.lr = lr
  optim.beta1 = 0.9
  optim.eps = 1e-8
  optim.weight_decay = 0.
  optim.warmup = 200
  optim.grad_clip = 1.
  optim.schedule = 'cosine'


def classifier(config, *, blocks_per_group, channel_multiplier, embedding_size, n_iters,
               batch_size, snapshot_freq, lr, ema_rate):
  """The noise-conditional Wide-ResNet classifier for class-conditional sampling (--mode
  train_classifier; fields documented in models/classifier.py and training/classifier.py)."""
  config.classifier = section = ml_collections.ConfigDict()
  section.name = 'wideresnet'
  section.blocks_per_group = blocks_per_group
  section.channel_multiplier = channel_multiplier
  section.embedding_size = embedding_size
  section.num_classes = 10
  section.n_iters = n_iters
  section.batch_size = batch_size
  section.snapshot_freq = snapshot_freq
  section.lr = lr
  section.ema_rate = ema_rate
  section.workdir = ''             # '' = WORKDIR/classifier


def controllable(config, *, baseline):
  """--mode inpaint | colorize | conditional (evaluation/controllable.py documents them);
  `baseline`: also score unconditional samples the same way."""
  config.controllable = section = ml_collections.ConfigDict()
  section.mask = 'left_half'     # center | left_half | random_pixels:P | a PNG (white = known)
  section.labels = 'all'         # all (each class in turn) | comma-separated class indices
  section.scale = 1.             # classifier guidance scale (1: the paper's method)
  section.num_samples = 100
  section.images = ''            # '' = the test split; or an .npz with `images` in [0, 1]
  section.baseline = baseline
