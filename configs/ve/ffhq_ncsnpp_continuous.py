"""NCSN++ cont. on FFHQ 1024x1024 with the VE SDE.

Run: python main.py --config configs/ve/ffhq_ncsnpp_continuous.py --workdir runs/ve_ffhq_ncsnpp_continuous --mode train
Target: Figure 1 / FFHQ 1024x1024 samples of arXiv 2011.13456.

`configs/ve/celebahq_ncsnpp_continuous.py` with the FFHQ data and a mean (not summed) loss.
"""
from configs.ve import celebahq_ncsnpp_continuous


def get_config():
  config = celebahq_ncsnpp_continuous.get_config()
  config.training.reduce_mean = True
  config.data.dataset = 'FFHQ'
  config.data.tfrecords_path = 'data/ffhq/ffhq-r10.tfrecords'
  return config
