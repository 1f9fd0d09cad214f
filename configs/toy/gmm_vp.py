"""VP SDE on the 2-D Gaussian mixture (exact density known).

  python main.py --config configs/toy/gmm_vp.py --workdir runs/gmm_vp --mode train
  python main.py --config configs/toy/gmm_vp.py --workdir runs/gmm_vp --mode likelihood

Trains in about a minute on a 2-core CPU; the held-out NLL comes within 0.1 nats of
the true mixture's NLL on the same points (tests/test_toy_e2e.py checks it).
"""
from configs.toy.default_toy_configs import get_default_configs


def get_config():
  config = get_default_configs()
  config.training.sde = 'vpsde'
  config.model.embedding_type = 'positional'
  return config
