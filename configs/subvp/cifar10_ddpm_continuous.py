"""DDPM architecture on CIFAR-10 trained with the continuous sub-VP SDE objective.

Run: python main.py --config configs/subvp/cifar10_ddpm_continuous.py --workdir runs/subvp_cifar10_ddpm_continuous --mode train
Target: arXiv 2011.13456 Table 2, row "DDPM cont. (sub-VP)": 3.05 bits/dim, FID 3.56 (both with
the probability-flow ODE: --config.sampling.method=ode; bits/dim with --mode likelihood).
"""
from configs.vp.ddpm import cifar10_continuous as vp_twin


def get_config():
  """The VP twin with the sub-VP SDE: the original's two files differ only there."""
  config = vp_twin.get_config()
  config.training.sde = 'subvpsde'
  return config
