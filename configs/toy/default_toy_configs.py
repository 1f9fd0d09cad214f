"""Defaults for the 2-D toy experiments: a small MLP score network, trained in about a minute on a CPU."""
import ml_collections

from configs import blocks


def get_default_configs():
  config = ml_collections.ConfigDict()
  blocks.small_training(config, batch_size=256, n_iters=4000, n_jitted_steps=50, log_freq=100,
                        snapshot_freq=2000, snapshot_freq_for_preemption=500)
  blocks.small_sampling(config, corrector='langevin')
  sampling = config.sampling
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
  blocks.small_sde_scales(model, num_scales=1000, sigma_max=10.)
  blocks.small_adam(config, lr=2e-3)

  config.seed = 0
  return config
