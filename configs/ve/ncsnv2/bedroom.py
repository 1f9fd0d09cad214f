"""NCSNv2 (Song & Ermon 2020) on LSUN bedroom 128x128: sigma 190 -> 0.01 over 1086 levels.

Run: python main.py --config configs/ve/ncsnv2/bedroom.py --workdir runs/ve_ncsnv2_bedroom --mode train
Target: the LSUN bedroom 128x128 model of Song & Ermon 2020 (NCSNv2); not a row of arXiv 2011.13456.
"""
from configs import blocks
from configs.default_lsun_configs import get_default_configs


def get_config():
  config = get_default_configs()
  config.training.batch_size = 128
  config.data.category = 'bedroom'
  config.data.image_size = 128
  blocks.ncsn(config, name='ncsnv2_128', scale_by_sigma=True, ema_rate=0.9999, lr=1e-4,
              sigma_max=190., num_scales=1086, n_steps_each=3, snr=0.095)
  return config
