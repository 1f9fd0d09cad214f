"""DDPM on CIFAR-10 without the time-step input (the network never sees the noise level).

An ablation the original ships (NCSNv2's technique 3 asks whether the noise
conditioning can be dropped): same U-Net as configs/vp/ddpm/cifar10.py with
`model.conditional = False`, discrete DDPM objective.

Run: python main.py --config configs/vp/ddpm/cifar10_unconditional.py --workdir runs/vp_ddpm_cifar10_unconditional --mode train
Target: no row of arXiv 2011.13456; compare its FID with Table 3, row "DDPM" (FID 3.17).
"""
from configs.vp.ddpm import cifar10


def get_config():
  config = cifar10.get_config()
  config.model.conditional = False
  return config
