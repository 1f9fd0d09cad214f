"""Each convention has one home, and what reads it elsewhere gets the same numbers.

* The VE noise table lives in `sde_lib.VESDE.discrete_sigmas`; the networks'
  table (`models.config_utils.get_sigmas`, NCSN++'s `sigmas`) is that table
  reversed, and its float32 values (what the networks divide by) equal those of
  the formula the networks used before, for every config of the project.
"""
import glob
import importlib
import os

import numpy as np
import pytest

import sde_lib
from models import config_utils, ncsnpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _configs_with_sigmas():
  out = []
  for path in sorted(glob.glob(os.path.join(ROOT, 'configs', '**', '*.py'), recursive=True)):
    rel = os.path.relpath(path, ROOT)
    if rel.endswith('__init__.py'):
      continue
    module = importlib.import_module(rel[:-3].replace(os.sep, '.'))
    if not hasattr(module, 'get_config'):
      continue
    config = module.get_config()
    if 'sigma_max' in config.model and 'num_scales' in config.model:
      out.append((rel, config))
  return out


CONFIGS = _configs_with_sigmas()


def test_the_networks_sigma_table_is_the_sdes():
  """get_sigmas is VESDE.discrete_sigmas reversed (sigma_max first), bit for bit."""
  assert CONFIGS
  for rel, config in CONFIGS:
    m = config.model
    sde = sde_lib.VESDE(m.sigma_min, m.sigma_max, m.num_scales)
    np.testing.assert_array_equal(config_utils.get_sigmas(config), sde.discrete_sigmas[::-1],
                                  err_msg=rel)


def test_float32_table_unchanged_for_every_config():
  """The float32 table the networks divide by equals the one of their former formula
  exp(linspace(log sigma_max, log sigma_min, N)) for every config with VE fields (the
  float64 tables differ in the last bits, which float32 rounds away)."""
  for rel, config in CONFIGS:
    m = config.model
    former = np.exp(np.linspace(np.log(m.sigma_max), np.log(m.sigma_min), m.num_scales))
    np.testing.assert_array_equal(config_utils.get_sigmas(config).astype(np.float32),
                                  former.astype(np.float32), err_msg=rel)


def test_ncsnpp_positional_divides_by_the_sde_table():
  """NCSN++ with positional labels and scale_by_sigma holds the SDE's table (no formula of
  its own); without scale_by_sigma it holds none."""
  rel, config = next((r, c) for r, c in CONFIGS if c.model.name == 'ncsnpp')
  config.model.embedding_type = 'positional'
  config.model.scale_by_sigma = True
  config.training.continuous = False
  model = ncsnpp.build(config)
  assert model.sigmas == tuple(float(s) for s in config_utils.get_sigmas(config)), rel
  config.model.scale_by_sigma = False
  assert ncsnpp.build(config).sigmas == ()


@pytest.mark.parametrize('bad', [dict(sigma_min=1., sigma_max=1.), dict(num_scales=1)])
def test_bad_table_fields_are_named(bad):
  """A table that cannot be built names the fields."""
  rel, config = CONFIGS[0]
  for k, v in bad.items():
    config.model[k] = v
  with pytest.raises(ValueError, match='config.model.'):
    config_utils.get_sigmas(config)
