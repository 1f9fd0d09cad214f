"""VE SDE on the 2-D moons distribution.

  python main.py --config configs/toy/moons_ve.py --workdir runs/moons_ve --mode train
  python main.py --config configs/toy/moons_ve.py --workdir runs/moons_ve --mode sample
"""
from configs.toy.default_toy_configs import get_default_configs


def get_config():
  config = get_default_configs()
  config.data.dataset = 'moons'
  config.training.sde = 'vesde'
  config.model.embedding_type = 'fourier'
  config.model.scale_by_sigma = True
  return config
