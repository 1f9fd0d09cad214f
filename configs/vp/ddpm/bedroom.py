"""DDPM on LSUN bedroom 256x256: the 256-px DDPM U-Net (ch_mult 1,1,2,2,4,4) with the discrete DDPM objective.

Run: python main.py --config configs/vp/ddpm/bedroom.py --workdir runs/vp_ddpm_bedroom --mode train
Target: the LSUN bedroom 256x256 model of Ho et al. 2020 (DDPM), sampled with ancestral sampling; no table
of arXiv 2011.13456 reports it.
"""
from configs import blocks
from configs.default_lsun_configs import get_default_configs


def get_config():
  config = get_default_configs()
  blocks.vp_objective(config, continuous=False, predictor='ancestral_sampling')
  config.data.category = 'bedroom'
  blocks.ddpm(config, ch_mult=(1, 1, 2, 2, 4, 4))
  config.model.num_scales = 1000
  config.optim.lr = 2e-5
  return config
