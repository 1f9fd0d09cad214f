"""NCSN++ on CIFAR-10, DDPM (discrete VP) objective.

Run: python main.py --config configs/vp/cifar10_ncsnpp.py --workdir runs/vp_cifar10_ncsnpp --mode train
Target: Architecture ablation of arXiv 2011.13456 (Appendix H): NCSN++ trained with the DDPM objective.
"""
from configs.vp import cifar10_ncsnpp_continuous


def get_config():
  config = cifar10_ncsnpp_continuous.get_config()
  config.training.continuous = False
  config.sampling.predictor = 'reverse_diffusion'
  return config
