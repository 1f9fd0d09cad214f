"""VP SDE on the 2-D checkerboard distribution.

  python main.py --config configs/toy/checkerboard_vp.py --workdir runs/checkerboard_vp --mode train
  python main.py --config configs/toy/checkerboard_vp.py --workdir runs/checkerboard_vp --mode sample
"""
from configs.toy.default_toy_configs import get_default_configs


def get_config():
  config = get_default_configs()
  config.data.dataset = 'checkerboard'
  config.training.sde = 'vpsde'

  return config
