"""Defaults for the built-in digits (scikit-learn's 8x8 digits, 17 grey levels, 1437 training images).

A small DDPM++/NCSN++ trains on a 2-core CPU in minutes; eval computes the
test-set bits/dim for the 17 levels (not 256) and the digits Frechet distance
(the project's own metric, in the feature space of a small digits classifier).

Sampling: `sampling.method` is 'pc' (the paper's predictor-corrector, N =
model.num_scales steps), 'ode' (adaptive RK45), or one of the fast
probability-flow samplers, which read only their own fields below:
'ddim' (`num_steps` evaluations, `eta`), 'dpm_solver' (`num_steps` + 1
evaluations; `order`, `dpm_method` singlestep|multistep, `dpm_predict`
data|noise, `schedule` logsnr|time_uniform|time_quadratic) and 'edm_heun'
(`num_steps` levels, 2 num_steps - 1 evaluations; `rho`, `s_churn`, `s_min`,
`s_max`, `s_noise`). README "Fast samplers" lists the best one per budget.
"""
import ml_collections

from configs import blocks


def get_default_configs():
  config = ml_collections.ConfigDict()
  blocks.small_training(config, batch_size=32, n_iters=3000, n_jitted_steps=10, log_freq=50,
                        snapshot_freq=1500, snapshot_freq_for_preemption=500, eval_at_end=True)
  blocks.small_sampling(config, corrector='none')
  sampling = config.sampling
  # The fast samplers' fields (module docstring; samplers.get_sampler):
  sampling.num_steps = 19             # ddim / dpm_solver / edm_heun
  sampling.eta = 0.                   # ddim: 0 deterministic, 1 the posterior's full noise
  sampling.order = 2                  # dpm_solver: 1, 2, 3
  sampling.dpm_method = 'multistep'   # dpm_solver: 'singlestep' | 'multistep'
  sampling.dpm_predict = 'data'       # dpm_solver: 'data' (DPM-Solver++) | 'noise'
  sampling.schedule = 'logsnr'        # dpm_solver: 'logsnr' | 'time_uniform' | 'time_quadratic'
  sampling.rho = 7.                   # edm_heun: level schedule exponent
  sampling.s_churn = 0.               # edm_heun: stochasticity (0: deterministic)
  sampling.s_min = 0.
  sampling.s_max = float('inf')
  sampling.s_noise = 1.

  config.eval = evaluate = ml_collections.ConfigDict()
  evaluate.begin_ckpt = 2             # snapshot k is step k * snapshot_freq: the final one
  evaluate.end_ckpt = 2
  evaluate.batch_size = 360           # the whole test split in one batch
  evaluate.enable_loss = True
  evaluate.enable_bpd = True
  evaluate.bpd_dataset = 'test'
  evaluate.bpd_num_repeats = 1        # dequantisation draws averaged over the test set
  evaluate.likelihood_estimator = 'rademacher'
  evaluate.rtol = 1e-5
  evaluate.atol = 1e-5
  evaluate.enable_sampling = True
  evaluate.num_samples = 360

  config.data = data = ml_collections.ConfigDict()
  data.dataset = 'DIGITS'
  data.image_size = 8
  data.num_channels = 1
  data.random_flip = False            # digits are not mirror-symmetric
  data.centered = True
  data.uniform_dequantization = True

  config.model = model = ml_collections.ConfigDict()
  model.name = 'ncsnpp'
  model.nf = 32
  model.ch_mult = (1, 2)
  model.num_res_blocks = 2
  model.attn_resolutions = (4,)
  model.dropout = 0.1
  model.resamp_with_conv = True
  model.conditional = True
  blocks.ncsnpp_resampling(model, fir=False)
  model.embedding_type = 'positional'
  model.scale_by_sigma = False
  model.nonlinearity = 'swish'
  model.dtype = 'float32'
  # num_scales: PC sampling steps; also fixes the VP time labels t * (N - 1).
  blocks.small_sde_scales(model, num_scales=500, sigma_max=12.)
  blocks.small_adam(config, lr=1e-3)

  # Widths 16, 32, 64: a class-conditional PC step (score + this classifier's gradient)
  # costs 1.37-1.45 plain ones, goal <= 1.6 (benchmarks/controllable.py; widths 32, 64,
  # 128 cost 2.1-2.2, for ~10 points more conditional accuracy: README).
  blocks.classifier(config, blocks_per_group=1, channel_multiplier=1, embedding_size=32,
                    n_iters=2000, batch_size=64, snapshot_freq=1000, lr=1e-3, ema_rate=0.999)
  blocks.controllable(config, baseline=True)

  config.seed = 0
  return config
