"""NCSN v1 on CIFAR-10 with NCSNv2's techniques 1, 2, 4 (sigma_max 50, 232 levels, 5 Langevin steps at SNR 0.176).

Run: python main.py --config configs/ve/ncsn/cifar10_124.py --workdir runs/ve_ncsn_cifar10_124 --mode train
Target: the technique ablation of Song & Ermon 2020 (NCSNv2), not a row of arXiv 2011.13456.
"""
from configs import blocks
from configs.ve.ncsn import cifar10


def get_config():
  config = cifar10.get_config()
  blocks.ncsnv2_techniques(config, sigma_max=50., num_scales=232, snr=0.176)
  return config
