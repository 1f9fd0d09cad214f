"""NCSN++ cont. on LSUN church_outdoor 256x256 with the VE SDE (sigma_max 380).

Run: python main.py --config configs/ve/church_ncsnpp_continuous.py --workdir runs/ve_church_ncsnpp_continuous --mode train
Target: LSUN church 256x256 samples of arXiv 2011.13456 (Appendix, sample figures).

`configs/ve/bedroom_ncsnpp_continuous.py` with the church_outdoor category and sigma_max 380.
"""
from configs.ve import bedroom_ncsnpp_continuous


def get_config():
  config = bedroom_ncsnpp_continuous.get_config()
  config.data.category = 'church_outdoor'
  config.model.sigma_max = 380.0
  return config
