"""Sub-VP SDE on the 2-D Gaussian mixture (exact density known).

  python main.py --config configs/toy/gmm_subvp.py --workdir runs/gmm_subvp --mode train
  python main.py --config configs/toy/gmm_subvp.py --workdir runs/gmm_subvp --mode likelihood
"""
from configs.toy.default_toy_configs import get_default_configs


def get_config():
  config = get_default_configs()
  config.training.sde = 'subvpsde'
  config.model.embedding_type = 'positional'
  return config
