"""DDPM++ cont. (deep) on CIFAR-10 with the VP SDE.

Run: python main.py --config configs/vp/cifar10_ddpmpp_deep_continuous.py --workdir runs/vp_cifar10_ddpmpp_deep_continuous --mode train
Target: Table 2/3 of arXiv 2011.13456, "DDPM++ cont. (deep, VP)": FID 2.41, IS 9.68; NLL 3.13 bits/dim.
"""
from configs.vp import cifar10_ddpmpp_continuous


def get_config():
  config = cifar10_ddpmpp_continuous.get_config()
  config.training.n_iters = 950001
  config.model.num_res_blocks = 8
  return config
