"""DDPM++ (small) with the sub-VP SDE on the built-in digits.

  python main.py --config configs/digits/ddpmpp_subvp.py --workdir runs/digits_subvp
  python main.py --config configs/digits/ddpmpp_subvp.py --workdir runs/digits_subvp --mode eval
"""
from configs.digits.default_digits_configs import get_default_configs


def get_config():
  config = get_default_configs()
  config.training.sde = 'subvpsde'
  config.sampling.predictor = 'euler_maruyama'
  return config
