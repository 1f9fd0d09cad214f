"""Each convention has one home, and what reads it elsewhere gets the same numbers.

* The VE noise table lives in `sde_lib.VESDE.discrete_sigmas`; the networks'
  table (`models.config_utils.get_sigmas`, NCSN++'s `sigmas`) is that table
  reversed, and its float32 values (what the networks divide by) equal those of
  the formula the networks used before, for every config of the project.
* The data scaling [0, 1] <-> [-1, 1] by `data.centered` is
  `utils.scaling.to_model_space` / `from_model_space`; the scalers, the
  level converter and the dequantiser give exactly its values, and no other
  project source writes the map out.
* The bpd offset log2(L) - [centered] is `likelihood.bpd_offset`.
"""
import glob
import importlib
import os

import re
import tokenize

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

import data
import sde_lib
from data import transforms
from evaluation import baselines
from likelihood import bpd
from models import config_utils, ncsnpp
from utils import scaling

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


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_scaling_is_one_map_and_its_inverse(dtype):
  """to_model_space is 2v - 1 (centered) or v, from_model_space its inverse, dtype kept;
  the config scalers are exactly these maps."""
  assert transforms.to_model_space is scaling.to_model_space      # a re-export, not a copy
  assert transforms.from_model_space is scaling.from_model_space
  v = np.linspace(0., 1., 11, dtype=dtype)
  for centered in (False, True):
    x = transforms.to_model_space(v, centered)
    assert x.dtype == dtype
    np.testing.assert_array_equal(x, 2 * v - 1 if centered else v)
    np.testing.assert_allclose(transforms.from_model_space(x, centered), v, rtol=0,
                               atol=np.finfo(dtype).eps)
    config = ml_collections.ConfigDict({'data': {'centered': centered}})
    np.testing.assert_array_equal(data.get_data_scaler(config)(v), x)
    np.testing.assert_array_equal(data.get_data_inverse_scaler(config)(x),
                                  transforms.from_model_space(x, centered))
    xj = transforms.to_model_space(jnp.asarray(v), centered)
    assert xj.dtype == dtype
    np.testing.assert_array_equal(np.asarray(xj), x)


def test_level_converter_and_dequantiser_use_the_map():
  """levels_to_model_space and bpd.dequantize with centered=True are to_model_space of
  their centered=False values, bit for bit (same noise)."""
  levels = np.arange(17).reshape(1, 17)
  for noise in (None, np.random.default_rng(0).uniform(size=levels.shape)):
    v = transforms.levels_to_model_space(levels, 17, False, noise)
    np.testing.assert_array_equal(transforms.levels_to_model_space(levels, 17, True, noise),
                                  transforms.to_model_space(v, True))
  rng = jax.random.PRNGKey(0)
  for dtype in (jnp.float32, jnp.float64):
    v = bpd.dequantize(rng, levels, 17, centered=False, dtype=dtype)
    x = bpd.dequantize(rng, levels, 17, centered=True, dtype=dtype)
    np.testing.assert_array_equal(np.asarray(x), np.asarray(transforms.to_model_space(v, True)))


def test_bpd_offset_is_the_one_in_bits_per_dim_and_the_baseline():
  """bits_per_dim(0) is bpd_offset (log2 L - [centered]); the Gaussian baseline adds that
  offset: for data whose Gaussian fit is known it equals the closed form."""
  for levels, centered in ((256, False), (256, True), (17, False)):
    assert bpd.bpd_offset(levels, centered) == np.log2(levels) - centered
    np.testing.assert_allclose(np.asarray(bpd.bits_per_dim(jnp.zeros(3), (4,), levels, centered)),
                               bpd.bpd_offset(levels, centered), rtol=1e-15)
  # One pixel, levels 0 and 1 of L = 2 equally often: v has mean 1/2 and variance 1/4 + 1/48
  # (bin centres 1/4, 3/4 plus the uniform noise), E|v - 1/2|^2 the same.
  train = np.array([[0], [1]] * 50)
  var = 1 / 16 + 1 / 48
  nll = 0.5 * (np.log(2 * np.pi * var) + 1.)
  np.testing.assert_allclose(baselines.gaussian_bpd(train, train, 2),
                             nll / np.log(2) + bpd.bpd_offset(2), rtol=1e-12)


# Sources allowed to write the centred map out: its home, and the PyTorch port's own scaler
# that compare_pytorch_port.py reproduces on purpose; Inception's fixed input map is not
# the data scaling.
SCALING_HOMES = ('utils/scaling.py', 'benchmarks/compare_pytorch_port.py',
                 'evaluation/inception.py')
PACKAGES = ('benchmarks', 'data', 'evaluation', 'experiment', 'likelihood', 'models', 'samplers',
            'sde_lib', 'training', 'utils', 'main.py')


def _code_lines(path):
  """(line number, code) of a Python file with its strings and comments removed."""
  lines = {}
  with open(path, encoding='utf-8') as f:
    for tok in tokenize.generate_tokens(f.readline):
      if tok.type not in (tokenize.STRING, tokenize.COMMENT):
        lines.setdefault(tok.start[0], []).append(tok.string)
  return {n: ' '.join(parts) for n, parts in lines.items()}


def test_no_other_source_writes_the_scaling_out():
  """No project code outside SCALING_HOMES computes 2x - 1 or (x + 1) / 2 (strings and
  comments aside)."""
  # Float forms only: `2 * n - 1` counts things (edm's NFE), `2 * x - 1.` scales data.
  pattern = re.compile(r'2\.? \* \w+ - 1\.|2\. \* \w+ - 1\b|\* 2\.? - 1\.|\+ 1\.? \) / 2')
  offenders = []
  for top in PACKAGES:
    paths = glob.glob(os.path.join(ROOT, top, '**', '*.py'), recursive=True)
    for path in paths if not top.endswith('.py') else [os.path.join(ROOT, top)]:
      rel = os.path.relpath(path, ROOT)
      if rel in SCALING_HOMES:
        continue
      offenders += [f'{rel}:{n}: {code}' for n, code in _code_lines(path).items()
                    if pattern.search(code)]
  assert not offenders, offenders
