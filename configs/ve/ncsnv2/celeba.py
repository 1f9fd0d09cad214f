"""NCSNv2 (Song & Ermon 2020) on CelebA 64x64: sigma 90 -> 0.01 over 500 levels.

Run: python main.py --config configs/ve/ncsnv2/celeba.py --workdir runs/ve_ncsnv2_celeba --mode train
Target: the CelebA 64x64 model of Song & Ermon 2020 (NCSNv2); not a row of arXiv 2011.13456.
"""
from configs import blocks
from configs.default_celeba_configs import get_default_configs


def get_config():
  config = get_default_configs()
  blocks.ncsn(config, name='ncsnv2_64', scale_by_sigma=True, ema_rate=0.999, lr=1e-4,
              num_scales=500, n_steps_each=5, snr=0.128)
  return config
