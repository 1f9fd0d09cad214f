"""NCSN++ cont. on CIFAR-10 with the VP SDE.

Run: python main.py --config configs/vp/cifar10_ncsnpp_continuous.py --workdir runs/vp_cifar10_ncsnpp_continuous --mode train
Target: Architecture ablation of arXiv 2011.13456 (Appendix H): NCSN++ with the continuous VP objective.
"""
from configs import blocks
from configs.default_cifar10_configs import get_default_configs


def get_config():
  config = get_default_configs()
  blocks.vp_objective(config, continuous=True, predictor='euler_maruyama')
  blocks.ncsnpp_vp(config)
  return config
