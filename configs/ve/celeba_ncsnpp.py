"""NCSN++ on CelebA 64x64, SMLD (discrete VE, sigma_max 90).

Run: python main.py --config configs/ve/celeba_ncsnpp.py --workdir runs/ve_celeba_ncsnpp --mode train
Target: CelebA 64x64 samples of arXiv 2011.13456 (Appendix); the author reports FID about 2.5.
"""
from configs.default_celeba_configs import get_default_configs
from configs.ve import cifar10_ncsnpp


def get_config():
  return cifar10_ncsnpp.smld_ncsnpp(get_default_configs())
