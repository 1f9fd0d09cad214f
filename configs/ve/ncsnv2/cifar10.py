"""NCSNv2 (Song & Ermon 2020) on CIFAR-10: sigma 50 -> 0.01 over 232 levels, output scaled by 1/sigma.

Run: python main.py --config configs/ve/ncsnv2/cifar10.py --workdir runs/ve_ncsnv2_cifar10 --mode train
Target: arXiv 2011.13456 Table 3, row "NCSNv2" (FID 10.87, IS 8.40, as reported by Song & Ermon 2020).
"""
from configs import blocks
from configs.default_cifar10_configs import get_default_configs


def get_config():
  config = get_default_configs()
  blocks.ncsn(config, name='ncsnv2_64', scale_by_sigma=True, ema_rate=0.999, lr=1e-4,
              num_scales=232, n_steps_each=5, snr=0.176)
  return config
