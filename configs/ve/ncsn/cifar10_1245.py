"""NCSN v1 on CIFAR-10 with NCSNv2's techniques 1, 2, 4, 5 (technique 3, scaling the output by 1/sigma, is what NCSNv2 adds).

Run: python main.py --config configs/ve/ncsn/cifar10_1245.py --workdir runs/ve_ncsn_cifar10_1245 --mode train
Target: the technique ablation of Song & Ermon 2020 (NCSNv2), not a row of arXiv 2011.13456.
"""
from configs.ve.ncsn import cifar10_124


def get_config():
  config = cifar10_124.get_config()
  config.model.ema_rate = 0.999            # technique 5
  return config
