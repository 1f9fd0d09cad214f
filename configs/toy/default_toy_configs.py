"""Defaults for the 2-D toy experiments: a small MLP score network, trained in about a minute on a CPU."""
import ml_collections


def get_default_configs():
  config = ml_collections.ConfigDict()
  config.training = training = ml_collections.ConfigDict()
  training.sde = 'vpsde'
  training.continuous = True
  training.reduce_mean = True
  training.likelihood_weighting = False   # VP's g^2/s^2 weight ~ 1/t makes the loss too noisy here
  training.batch_size = 256
  training.n_iters = 4000
  training.n_jitted_steps = 50
  training.log_freq = 100
  training.snapshot_freq = 2000
  training.snapshot_freq_for_preemption = 500   # kept 1: where a killed run resumes
  training.snapshot_sampling = True               # a scatter plot of samples at each snapshot
  training.restore_fallback = False   # True: a corrupt newest checkpoint falls back to the previous

  config.sampling = sampling = ml_collections.ConfigDict()
  sampling.method = 'pc'
  sampling.predictor = 'reverse_diffusion'
  sampling.corrector = 'langevin'
  sampling.snr = 0.16
  sampling.n_steps_each = 1
  sampling.noise_removal = True
  sampling.probability_flow = False
  sampling.rtol = 1e-5
  sampling.atol = 1e-5
  sampling.ode_solver = 'dopri5'

  config.eval = evaluate = ml_collections.ConfigDict()
  evaluate.num_samples = 4000          # samples written by --mode sample
  evaluate.batch_size = 1000
  evaluate.likelihood_estimator = 'exact'   # d = 2: the exact divergence is cheap
  evaluate.rtol = 1e-5
  evaluate.atol = 1e-5

  config.data = data = ml_collections.ConfigDict()
  data.dataset = 'gmm'
  data.dim = 2
  data.num_test = 2000                 # held-out points for --mode likelihood

  config.model = model = ml_collections.ConfigDict()
  model.name = 'mlp'
  model.nf = 128
  model.num_layers = 3
  model.embedding_type = 'positional'
  model.fourier_scale = 16.
  model.scale_by_sigma = False
  model.ema_rate = 0.999
  model.num_scales = 1000
  model.beta_min = 0.1
  model.beta_max = 20.
  model.sigma_min = 0.01
  model.sigma_max = 10.

  config.optim = optim = ml_collections.ConfigDict()
  optim.optimizer = 'Adam'
  optim.lr = 2e-3
  optim.beta1 = 0.9
  optim.eps = 1e-8
  optim.weight_decay = 0.
  optim.warmup = 200
  optim.grad_clip = 1.
  optim.schedule = 'cosine'           # decay to 0 at n_iters: a sharper final score

  config.seed = 0
  return config
