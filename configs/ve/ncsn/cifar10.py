"""NCSN (v1, Song & Ermon 2019) on CIFAR-10: 10 noise levels from 1 to 0.01, annealed Langevin dynamics.

Run: python main.py --config configs/ve/ncsn/cifar10.py --workdir runs/ve_ncsn_cifar10 --mode train
Target: arXiv 2011.13456 Table 3, row "NCSN" (FID 25.32, IS 8.87, as reported by Song & Ermon 2019).
"""
from configs import blocks
from configs.default_cifar10_configs import get_default_configs


def get_config():
  config = get_default_configs()
  blocks.ncsn(config, ema_rate=0., lr=1e-3, sigma_max=1., num_scales=10, n_steps_each=100,
              snr=0.316)
  return config
