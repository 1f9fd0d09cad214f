"""NCSN++ on CIFAR-10, SMLD (discrete VE, 1000 noise scales).

Run: python main.py --config configs/ve/cifar10_ncsnpp.py --workdir runs/ve_cifar10_ncsnpp --mode train
Target: no row of arXiv 2011.13456 (its Table 1 SMLD models use the DDPM architecture:
configs/ve/cifar10_ddpm.py); the discrete-objective counterpart of ve/cifar10_ncsnpp_continuous.py.
"""
from configs import blocks
from configs.default_cifar10_configs import get_default_configs


def get_config():
  return smld_ncsnpp(get_default_configs())


def smld_ncsnpp(config):
  """NCSN++ with the discrete SMLD objective on top of a dataset's defaults (CelebA's:
  configs/ve/celeba_ncsnpp.py)."""
  blocks.ve_objective(config, continuous=False)
  blocks.ncsnpp_ve(config, embedding_type='positional')
  return config
