"""DDPM on LSUN church_outdoor 256x256: the 256-px DDPM U-Net (ch_mult 1,1,2,2,4,4) with the discrete DDPM objective.

Run: python main.py --config configs/vp/ddpm/church.py --workdir runs/vp_ddpm_church --mode train
Target: the LSUN church_outdoor 256x256 model of Ho et al. 2020 (DDPM), sampled with ancestral sampling; no table
of arXiv 2011.13456 reports it.

`configs/vp/ddpm/bedroom.py` with the church_outdoor category.
"""
from configs.vp.ddpm import bedroom


def get_config():
  config = bedroom.get_config()
  config.data.category = 'church_outdoor'
  return config
