"""NCSN++ cont. (deep) on CIFAR-10 with the VP SDE.

Run: python main.py --config configs/vp/cifar10_ncsnpp_deep_continuous.py --workdir runs/vp_cifar10_ncsnpp_deep_continuous --mode train
Target: Architecture ablation of arXiv 2011.13456 (Appendix H): deep NCSN++ with the VP SDE
(the original's config of this name; its checkpoint was not among the released ones).
"""
from configs.vp import cifar10_ncsnpp_continuous


def get_config():
  config = cifar10_ncsnpp_continuous.get_config()
  config.training.n_iters = 950001
  config.model.num_res_blocks = 8
  return config
