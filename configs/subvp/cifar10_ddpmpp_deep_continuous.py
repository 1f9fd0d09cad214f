"""DDPM++ cont. (deep) on CIFAR-10 with the sub-VP SDE.

Run: python main.py --config configs/subvp/cifar10_ddpmpp_deep_continuous.py --workdir runs/subvp_cifar10_ddpmpp_deep_continuous --mode train
Target: Table 2/3 of arXiv 2011.13456, "DDPM++ cont. (deep, sub-VP)": FID 2.41, IS 9.57; NLL 2.99 bits/dim.
"""
from configs.vp import cifar10_ddpmpp_deep_continuous as vp_twin


def get_config():
  """The VP twin with the sub-VP SDE: the original's two files differ only there."""
  config = vp_twin.get_config()
  config.training.sde = 'subvpsde'
  return config
