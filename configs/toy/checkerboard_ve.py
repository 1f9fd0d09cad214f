"""VE SDE on the 2-D checkerboard distribution.

  python main.py --config configs/toy/checkerboard_ve.py --workdir runs/checkerboard_ve --mode train
  python main.py --config configs/toy/checkerboard_ve.py --workdir runs/checkerboard_ve --mode sample
"""
from configs.toy.default_toy_configs import get_default_configs


def get_config():
  config = get_default_configs()
  config.data.dataset = 'checkerboard'
  config.training.sde = 'vesde'
  config.model.embedding_type = 'fourier'
  config.model.scale_by_sigma = True
  return config
