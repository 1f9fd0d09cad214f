"""NCSN v1 on CIFAR-10 with NCSNv2's technique 5 only (an EMA of the weights, rate 0.999).

Run: python main.py --config configs/ve/ncsn/cifar10_5.py --workdir runs/ve_ncsn_cifar10_5 --mode train
Target: the technique ablation of Song & Ermon 2020 (NCSNv2), not a row of arXiv 2011.13456.
"""
from configs.ve.ncsn import cifar10


def get_config():
  config = cifar10.get_config()
  config.model.ema_rate = 0.999            # technique 5
  return config
