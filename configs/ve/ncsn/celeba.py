"""NCSN (v1, Song & Ermon 2019) on CelebA 64x64: 10 noise levels from 1 to 0.01.

Run: python main.py --config configs/ve/ncsn/celeba.py --workdir runs/ve_ncsn_celeba --mode train
Target: the CelebA samples of Song & Ermon 2019 (NCSN); not a row of arXiv 2011.13456.
"""
from configs import blocks
from configs.default_celeba_configs import get_default_configs


def get_config():
  config = get_default_configs()
  blocks.ncsn(config, ema_rate=0., lr=1e-3, sigma_max=1., num_scales=10, n_steps_each=100,
              snr=0.316)
  return config
