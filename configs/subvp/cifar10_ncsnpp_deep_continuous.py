"""NCSN++ cont. (deep) on CIFAR-10 with the sub-VP SDE.

Run: python main.py --config configs/subvp/cifar10_ncsnpp_deep_continuous.py --workdir runs/subvp_cifar10_ncsnpp_deep_continuous --mode train
Target: Architecture ablation of arXiv 2011.13456 (Appendix H): deep NCSN++ with the sub-VP SDE.
"""
from configs.vp import cifar10_ncsnpp_deep_continuous as vp_twin


def get_config():
  """The VP twin with the sub-VP SDE: the original's two files differ only there."""
  config = vp_twin.get_config()
  config.training.sde = 'subvpsde'
  return config
