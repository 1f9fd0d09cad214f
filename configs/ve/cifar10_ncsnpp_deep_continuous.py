"""NCSN++ cont. (deep: 8 blocks per resolution) on CIFAR-10 with the VE SDE.

Run: python main.py --config configs/ve/cifar10_ncsnpp_deep_continuous.py --workdir runs/ve_cifar10_ncsnpp_deep_continuous --mode train
Target: Table 3 of arXiv 2011.13456, "NCSN++ cont. (deep, VE)": FID 2.20, IS 9.89 (PC sampler).
"""
from configs.ve import cifar10_ncsnpp_continuous


def get_config():
  config = cifar10_ncsnpp_continuous.get_config()
  config.training.n_iters = 950001
  config.model.num_res_blocks = 8
  return config
