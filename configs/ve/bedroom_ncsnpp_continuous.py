"""NCSN++ cont. on LSUN bedroom 256x256 with the VE SDE.

Run: python main.py --config configs/ve/bedroom_ncsnpp_continuous.py --workdir runs/ve_bedroom_ncsnpp_continuous --mode train
Target: LSUN bedroom 256x256 samples of arXiv 2011.13456 (Appendix, sample figures).
"""
from configs import blocks
from configs.default_lsun_configs import get_default_configs


def get_config():
  config = get_default_configs()
  blocks.ve_objective(config, continuous=True)
  config.data.category = 'bedroom'
  blocks.ncsnpp_256(config)
  return config
