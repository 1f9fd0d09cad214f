"""DDPM architecture on CIFAR-10 trained with the continuous VP SDE objective.

Run: python main.py --config configs/vp/ddpm/cifar10_continuous.py --workdir runs/vp_ddpm_cifar10_continuous --mode train
Target: arXiv 2011.13456 Table 2, row "DDPM cont. (VP)": 3.21 bits/dim, FID 3.69 (both with the
probability-flow ODE: --config.sampling.method=ode; bits/dim with --mode likelihood).
"""
from configs.vp.ddpm import cifar10


def get_config():
  config = cifar10.get_config()
  config.training.continuous = True
  config.sampling.predictor = 'euler_maruyama'
  return config
