"""Score networks by name (`config.model.name`), and their initialisation."""
import importlib

import jax
import jax.numpy as jnp

from utils import config_checks

# name -> "module:builder", where builder(config) returns the flax module. Loaded
# by import path on use, so a config only imports the network it names.
_MODELS = {
    'mlp': 'models.mlp:build',
    'ncsnpp': 'models.ncsnpp:build',
    'ddpm': 'models.ddpm:build',
    'ncsn': 'models.ncsnv2:build_ncsn',
    'ncsnv2_64': 'models.ncsnv2:build_ncsnv2_64',
    'ncsnv2_128': 'models.ncsnv2:build_ncsnv2_128',
    'ncsnv2_256': 'models.ncsnv2:build_ncsnv2_256',
}
config_checks.check_registered('models', _MODELS, config_checks.MODEL_NAMES)


def model_names():
  """The registered names, in the schema's order (`config_checks.MODEL_NAMES`)."""
  return tuple(n for n in config_checks.MODEL_NAMES if n in _MODELS)


def get_model(config):
  """The flax module named by `config.model.name`, configured from `config`."""
  name = config.model.name
  if name not in _MODELS:
    raise ValueError(config_checks.not_allowed('config.model.name', name, model_names(),
                                               'is not a model'))
  module, builder = _MODELS[name].split(':')
  return getattr(importlib.import_module(module), builder)(config)


def input_shape(config):
  """Shape of one example: (H, W, C) for images, (dim,) for vector data."""
  data = config.data
  if 'image_size' in data:
    return (data.image_size, data.image_size, data.num_channels)
  return (data.dim,)


def init_model(rng, config, batch_size: int = 1):
  """(module, variables) with variables = {'params': ...}; works under jax.eval_shape.

  The network is initialised on a dummy batch of the data's shape with noise
  labels of shape (batch_size,).
  """
  model = get_model(config)
  x = jnp.zeros((batch_size,) + input_shape(config), jnp.float32)
  labels = jnp.ones((batch_size,), jnp.float32)
  params_rng, dropout_rng = jax.random.split(rng)
  variables = model.init({'params': params_rng, 'dropout': dropout_rng}, x, labels, train=False)
  return model, dict(variables)
