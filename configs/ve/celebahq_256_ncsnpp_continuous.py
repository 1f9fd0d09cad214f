"""NCSN++ cont. on CelebA-HQ 256x256 with the VE SDE (sigma_max 348).

Run: python main.py --config configs/ve/celebahq_256_ncsnpp_continuous.py --workdir runs/ve_celebahq_256_ncsnpp_continuous --mode train
Target: CelebA-HQ 256x256 samples of arXiv 2011.13456 (Appendix, sample figures).
"""
from configs import blocks
from configs.default_lsun_configs import get_default_configs


def get_config():
  config = get_default_configs()
  blocks.ve_objective(config, continuous=True)
  data = config.data
  data.dataset = 'CelebAHQ'
  data.image_size = 256
  data.tfrecords_path = 'data/celebahq/celebahq-r08.tfrecords'
  blocks.ncsnpp_256(config)
  config.model.sigma_max = 348.
  return config
