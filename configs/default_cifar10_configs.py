"""Defaults shared by every CIFAR-10 experiment (the original score_sde's values).

Experiment configs in `configs/{ve,vp,subvp}/` start from `get_default_configs()`
and set the SDE, the sampler and the network.
"""
import ml_collections


def get_default_configs():
  config = ml_collections.ConfigDict()
  config.training = training = ml_collections.ConfigDict()
  training.batch_size = 128
  training.n_iters = 1300001
  training.snapshot_freq = 50000
  training.log_freq = 50
  training.eval_freq = 100
  training.snapshot_freq_for_preemption = 10000   # frequent checkpoint, kept 1
  training.snapshot_sampling = True               # a sample grid at each snapshot
  training.likelihood_weighting = False
  training.continuous = True
  training.n_jitted_steps = 5
  training.reduce_mean = False
  training.restore_fallback = False   # True: a corrupt newest checkpoint falls back to the previous

  config.sampling = sampling = ml_collections.ConfigDict()
  sampling.n_steps_each = 1
  sampling.noise_removal = True
  sampling.probability_flow = False
  sampling.snr = 0.16

  config.eval = evaluate = ml_collections.ConfigDict()
  evaluate.begin_ckpt = 9
  evaluate.end_ckpt = 26
  evaluate.batch_size = 1024
  evaluate.enable_sampling = False
  evaluate.num_samples = 50000
  evaluate.enable_loss = True
  evaluate.enable_bpd = False
  evaluate.bpd_dataset = 'test'
  evaluate.bpd_num_repeats = 5               # dequantisation draws averaged for bits/dim
  evaluate.likelihood_estimator = 'rademacher'
  evaluate.rtol = 1e-5                       # probability-flow ODE tolerances for bits/dim
  evaluate.atol = 1e-5
  evaluate.inception_weights = ''            # converted FID Inception .npz (see README)
  evaluate.stats_path = ''                   # dataset statistics; '' = assets/stats/ default

  config.data = data = ml_collections.ConfigDict()
  data.dataset = 'CIFAR10'
  data.image_size = 32
  data.random_flip = True
  data.centered = False
  data.uniform_dequantization = False
  data.num_channels = 3
  data.data_dir = ''                         # TFDS data directory; '' = TFDS's default

  config.model = model = ml_collections.ConfigDict()
  model.sigma_min = 0.01
  model.sigma_max = 50.
  model.num_scales = 1000
  model.beta_min = 0.1
  model.beta_max = 20.
  model.dropout = 0.1
  model.embedding_type = 'fourier'
  model.dtype = 'float32'     # compute dtype: 'float32' | 'bfloat16' (params stay float32)

  config.optim = optim = ml_collections.ConfigDict()
  optim.weight_decay = 0.
  optim.optimizer = 'Adam'
  optim.lr = 2e-4
  optim.beta1 = 0.9
  optim.eps = 1e-8
  optim.warmup = 5000
  optim.grad_clip = 1.

  config.seed = 42
  return config
