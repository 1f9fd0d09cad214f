"""NCSN++ cont. on CelebA-HQ 1024x1024 with the VE SDE.

Run: python main.py --config configs/ve/celebahq_ncsnpp_continuous.py --workdir runs/ve_celebahq_ncsnpp_continuous --mode train
Target: CelebA-HQ 1024x1024 samples of arXiv 2011.13456 (Appendix, sample figures).
"""
from configs import blocks
from configs.default_ffhq_configs import get_default_configs


def get_config():
  config = get_default_configs()
  blocks.ve_objective(config, continuous=True)
  config.data.dataset = 'CelebAHQ'
  config.data.tfrecords_path = 'data/celebahq/celebahq-r10.tfrecords'
  blocks.ncsnpp_ve(config, ema_rate=0.9999, nf=16, ch_mult=(1, 2, 4, 8, 16, 32, 32, 32),
                   num_res_blocks=1, progressive='output_skip', progressive_input='input_skip')
  return config
