"""NCSN++ cont. on FFHQ 256x256 with the VE SDE (sigma_max 348).

Run: python main.py --config configs/ve/ffhq_256_ncsnpp_continuous.py --workdir runs/ve_ffhq_256_ncsnpp_continuous --mode train
Target: FFHQ 256x256 samples of arXiv 2011.13456 (Appendix, sample figures).

`configs/ve/celebahq_256_ncsnpp_continuous.py` with the FFHQ data.
"""
from configs.ve import celebahq_256_ncsnpp_continuous


def get_config():
  config = celebahq_256_ncsnpp_continuous.get_config()
  config.data.dataset = 'FFHQ'
  config.data.tfrecords_path = 'data/ffhq/ffhq-r08.tfrecords'
  return config
