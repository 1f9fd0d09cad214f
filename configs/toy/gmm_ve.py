"""VE SDE on the 2-D Gaussian mixture (exact density known).

  python main.py --config configs/toy/gmm_ve.py --workdir runs/gmm_ve --mode train
  python main.py --config configs/toy/gmm_ve.py --workdir runs/gmm_ve --mode likelihood

sigma_max = 10 exceeds the largest distance between training points (about 7), as
Song & Ermon's rule asks; the network's output is divided by sigma.
"""
from configs.toy.default_toy_configs import get_default_configs


def get_config():
  config = get_default_configs()
  config.training.sde = 'vesde'
  config.sampling.predictor = 'reverse_diffusion'
  config.model.embedding_type = 'fourier'
  config.model.scale_by_sigma = True
  return config
