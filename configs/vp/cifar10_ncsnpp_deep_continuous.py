"""NCSN++ cont. (deep) on CIFAR-10 with the VP SDE.

Run: python main.py --config configs/vp/cifar10_ncsnpp_deep_continuous.py --workdir runs/vp_cifar10_ncsnpp_deep_continuous --mode train
Target: Architecture ablation of arXiv 2011.13456 (Appendix H): deep NCSN++ with the VP SDE
(the original's config of this name; its checkpoint was not among the released ones).
"""
from configs.subvp import cifar10_ncsnpp_deep_continuous as subvp_deep


def get_config():
  """The sub-VP deep NCSN++ config with the VP SDE: the original's two files differ only there."""
  config = subvp_deep.get_config()
  config.training.sde = 'vpsde'
  return config
