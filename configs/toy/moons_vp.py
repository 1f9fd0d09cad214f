"""VP SDE on the 2-D moons distribution.

  python main.py --config configs/toy/moons_vp.py --workdir runs/moons_vp --mode train
  python main.py --config configs/toy/moons_vp.py --workdir runs/moons_vp --mode sample
"""
from configs.toy.default_toy_configs import get_default_configs


def get_config():
  config = get_default_configs()
  config.data.dataset = 'moons'
  config.training.sde = 'vpsde'

  return config
