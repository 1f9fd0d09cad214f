"""DDPM++ (small) with the sub-VP SDE on the built-in digits.

  python main.py --config configs/digits/ddpmpp_subvp.py --workdir runs/digits_subvp

Trains, then evaluates the final snapshot (training.eval_at_end); `--mode eval`
alone re-evaluates.
"""
from configs.digits.default_digits_configs import get_default_configs


def get_config():
  config = get_default_configs()
  config.training.sde = 'subvpsde'
  config.sampling.predictor = 'euler_maruyama'
  return config
