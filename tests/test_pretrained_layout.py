"""The converter's key mapping on the full-size networks of every released config.

For each paper config whose network the originals released (and the new
vp/cifar10_ncsnpp_deep_continuous), our full parameter tree is built with
`jax.eval_shape` (nothing allocated) and mapped by `models.pretrained`:

* score_sde format: the mapped tree must be the JAX original's tree exactly,
  path for path and shape for shape. `tests/data/pretrained/original_trees.json`
  holds, per config, the leaf count, parameter count and the sha256 of the
  sorted "path shape" lines of the original's tree, computed by `jax.eval_shape`
  of yang-song/score_sde@0acb9e0's `model.init` (its models/ read unchanged;
  `flax.optim` stubbed out of its `State` class, which init does not use).
* score_sde_pytorch format: the top-level modules, in the forward order the
  converter pairs with torch's `all_modules` indices, must be the list an
  independent walk of score_sde_pytorch's constructors gives
  (`test_pretrained.torch_module_names`), and every parameter gets its own key.
"""
import hashlib
import json

import numpy as np
import pytest

import models
from test_pretrained import DATA, load_config, torch_module_names

ORIGINAL = json.loads((DATA / 'original_trees.json').read_text())
# The released checkpoints (both originals' READMEs) -> our config of the same network.
RELEASED = {
    've/cifar10_ncsnpp': 've/cifar10_ncsnpp.py',
    've/cifar10_ncsnpp_continuous': 've/cifar10_ncsnpp_continuous.py',
    've/cifar10_ncsnpp_deep_continuous': 've/cifar10_ncsnpp_deep_continuous.py',
    'vp/cifar10_ddpm': 'vp/ddpm/cifar10.py',
    'vp/cifar10_ddpm_continuous': 'vp/ddpm/cifar10_continuous.py',
    'vp/cifar10_ddpmpp': 'vp/cifar10_ddpmpp.py',
    'vp/cifar10_ddpmpp_continuous': 'vp/cifar10_ddpmpp_continuous.py',
    'vp/cifar10_ddpmpp_deep_continuous': 'vp/cifar10_ddpmpp_deep_continuous.py',
    'subvp/cifar10_ddpm_continuous': 'subvp/cifar10_ddpm_continuous.py',
    'subvp/cifar10_ddpmpp_continuous': 'subvp/cifar10_ddpmpp_continuous.py',
    'subvp/cifar10_ddpmpp_deep_continuous': 'subvp/cifar10_ddpmpp_deep_continuous.py',
    've/bedroom_ncsnpp_continuous': 've/bedroom_ncsnpp_continuous.py',
    've/church_ncsnpp_continuous': 've/church_ncsnpp_continuous.py',
    've/ffhq_1024_ncsnpp_continuous': 've/ffhq_ncsnpp_continuous.py',
    've/ffhq_256_ncsnpp_continuous': 've/ffhq_256_ncsnpp_continuous.py',
    've/celebahq_256_ncsnpp_continuous': 've/celebahq_256_ncsnpp_continuous.py',
}
CONFIGS = sorted(set(RELEASED.values()) | {'vp/cifar10_ncsnpp_deep_continuous.py'})
# Fields that do not change a network's parameter tree: configs differing only in them share
# one trace.
_NOT_ARCHITECTURE = ('sigma_min', 'sigma_max', 'num_scales', 'beta_min', 'beta_max', 'dropout',
                     'ema_rate')
_LAYOUTS = {}


def layout(rel):
  config = load_config('configs/' + rel)
  key = json.dumps([sorted((k, str(v)) for k, v in config.model.items()
                           if k not in _NOT_ARCHITECTURE),
                    config.data.image_size, config.data.num_channels,
                    config.training.continuous], sort_keys=True)
  if key not in _LAYOUTS:
    _LAYOUTS[key] = models.pretrained.Layout(config)
  return config, _LAYOUTS[key]


@pytest.mark.slow
@pytest.mark.parametrize('rel', CONFIGS)
def test_flax_mapping_is_the_original_tree(rel):
  """Our full-size tree, renamed to the original's paths and layouts, is exactly the JAX
  original's tree (same leaves, same shapes), so every checkpoint tensor fills one parameter."""
  _, lay = layout(rel)
  shapes = lay.flax_shapes()
  lines = sorted(f"{'/'.join(path)} {tuple(shape)}" for path, shape in shapes.items())
  want = ORIGINAL[rel]
  assert len(lines) == len(lay.entries) == want['leaves']
  assert sum(int(np.prod(s)) for s in shapes.values()) == want['params']
  assert hashlib.sha256('\n'.join(lines).encode()).hexdigest() == want['sha256']


@pytest.mark.slow
@pytest.mark.parametrize('rel', sorted(set(RELEASED.values())))
def test_torch_mapping_follows_the_pytorch_constructor(rel):
  """Our top-level modules in forward order, named as the original names them, are the
  modules score_sde_pytorch appends to all_modules, in its order; each parameter has its
  own torch key, and the torch shapes hold the same number of parameters."""
  config, lay = layout(rel)
  by_top = {e[0][0]: models.pretrained.original_path(e[0], config.model.conditional,
                                                     config.model.name)[0][0]
            for e in lay.entries}
  assert [by_top[name] for name in lay.top_order] == torch_module_names(config)
  keys = lay.torch_shapes()
  assert len(keys) == len(lay.entries)
  assert sum(int(np.prod(s)) for s in keys.values()) == ORIGINAL[rel]['params']


def test_new_deep_vp_config_has_the_originals_parameter_count():
  """configs/vp/cifar10_ncsnpp_deep_continuous.py builds the original's network of that name:
  107,521,411 parameters (jax.eval_shape of the original's init, see the module docstring)."""
  assert ORIGINAL['vp/cifar10_ncsnpp_deep_continuous.py']['params'] == 107521411
  config, lay = layout('vp/cifar10_ncsnpp_deep_continuous.py')
  assert config.training.sde == 'vpsde' and config.training.continuous
  assert sum(int(np.prod(e[1])) for e in lay.entries) == 107521411
