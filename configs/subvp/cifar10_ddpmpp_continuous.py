"""DDPM++ cont. on CIFAR-10 with the sub-VP SDE.

Run: python main.py --config configs/subvp/cifar10_ddpmpp_continuous.py --workdir runs/subvp_cifar10_ddpmpp_continuous --mode train
Target: Table 2/3 of arXiv 2011.13456, "DDPM++ cont. (sub-VP)": FID 2.61, IS 9.56; NLL 3.05 bits/dim.
"""
from configs.vp import cifar10_ddpmpp_continuous as vp_twin


def get_config():
  """The VP twin with the sub-VP SDE: the original's two files differ only there."""
  config = vp_twin.get_config()
  config.training.sde = 'subvpsde'
  return config
