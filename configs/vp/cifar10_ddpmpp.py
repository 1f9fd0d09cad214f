"""DDPM++ on CIFAR-10, DDPM (discrete VP, 1000 steps).

Run: python main.py --config configs/vp/cifar10_ddpmpp.py --workdir runs/vp_cifar10_ddpmpp --mode train
Target: no row of arXiv 2011.13456 (its Table 1 DDPM models use the DDPM architecture:
configs/vp/ddpm/cifar10.py); the discrete-objective counterpart of vp/cifar10_ddpmpp_continuous.py.
"""
from configs.vp import cifar10_ddpmpp_continuous


def get_config():
  config = cifar10_ddpmpp_continuous.get_config()
  config.training.continuous = False
  config.sampling.predictor = 'ancestral_sampling'
  return config
