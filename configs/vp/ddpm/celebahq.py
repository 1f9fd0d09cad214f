"""DDPM on CelebA-HQ 256x256: the 256-px DDPM U-Net (ch_mult 1,1,2,2,4,4) with the discrete DDPM objective.

Run: python main.py --config configs/vp/ddpm/celebahq.py --workdir runs/vp_ddpm_celebahq --mode train
Target: the CelebA-HQ 256x256 model of Ho et al. 2020 (DDPM), sampled with ancestral sampling; no table
of arXiv 2011.13456 reports it.
"""
from configs.vp.ddpm import bedroom


def get_config():
  config = bedroom.get_config()
  data = config.data
  del data.category
  data.dataset = 'CelebAHQ'
  data.tfrecords_path = 'data/celebahq/celebahq-r08.tfrecords'
  return config
