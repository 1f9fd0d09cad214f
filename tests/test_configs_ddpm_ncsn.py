"""Every DDPM / NCSN / NCSNv2 paper config: loads, validates, builds the original's network.

The parameter count of our flax network (from `jax.eval_shape`, no memory)
must equal the original score_sde (JAX) network's for each config. The
reference counts are literals. They were obtained with
`reference_param_count` below, a layer-by-layer walk of the original
modules (yang-song/score_sde models/ddpm.py, ncsnv2.py, layers.py,
normalization.py) that adds each layer's parameters by formula, run on each
config. Two facts about the original that the counts encode:

* the original DDPM applies attention once per level on the way up (after
  the level's last block), not after every up block as Ho et al.'s TF code
  does: 35,218,947 parameters on CIFAR-10 against the TF model's 35.7M
  (the difference is exactly two 256-channel attention blocks);
* the original NCSN (v1) conditional residual block calls
  `self.normalization(h, y)` instead of `self.normalization()(h, y)` on its
  downsampling path (it cannot run as written); the count is the intended
  network's, with that conditional InstanceNorm++ present, and the
  conditional layers have `model.num_scales` rows (the original's
  `model.num_classes` field exists in no config).
"""
import importlib.util
import pathlib

import jax
import numpy as np
import pytest

import models
import samplers
import sde_lib
from models.ncsnv2 import _PLANS   # backbone (mult, resample, dilation), refine multipliers
from utils import config_checks

ROOT = pathlib.Path(__file__).resolve().parent.parent
# DDPM-architecture configs are named *_ddpm[_*].py (not *_ddpmpp*, which is NCSN++'s DDPM++).
CONFIG_GLOBS = ('vp/ddpm/*.py', 've/ncsn/*.py', 've/ncsnv2/*.py') + tuple(
    f'{sde}/cifar10_ddpm{suffix}.py' for sde in ('vp', 'subvp', 've') for suffix in ('', '_*'))

# config path -> parameter count of the original network (see module docstring).
REFERENCE_PARAM_COUNTS = {
    'subvp/cifar10_ddpm_continuous.py': 35218947,
    've/cifar10_ddpm.py': 35218947,
    've/ncsn/celeba.py': 34428675,
    've/ncsn/celeba_124.py': 57384195,
    've/ncsn/celeba_1245.py': 57384195,
    've/ncsn/celeba_5.py': 34428675,
    've/ncsn/cifar10.py': 34428675,
    've/ncsn/cifar10_124.py': 44828931,
    've/ncsn/cifar10_1245.py': 44828931,
    've/ncsn/cifar10_5.py': 34428675,
    've/ncsnv2/bedroom.py': 83445379,
    've/ncsnv2/celeba.py': 33970563,
    've/ncsnv2/cifar10.py': 33970563,
    'vp/ddpm/bedroom.py': 111569923,
    'vp/ddpm/celebahq.py': 111569923,
    'vp/ddpm/church.py': 111569923,
    'vp/ddpm/cifar10.py': 35218947,
    'vp/ddpm/cifar10_continuous.py': 35218947,
    'vp/ddpm/cifar10_unconditional.py': 32329347,
}

# What each network reads from config.model (besides `name`); the SDE reads
# its own fields and training reads `ema_rate`.
_SDE_FIELDS = {'vpsde': {'beta_min', 'beta_max', 'num_scales'},
               'subvpsde': {'beta_min', 'beta_max', 'num_scales'},
               'vesde': {'sigma_min', 'sigma_max', 'num_scales'}}
_NET_FIELDS = {
    'ddpm': {'nf', 'ch_mult', 'num_res_blocks', 'attn_resolutions', 'dropout', 'resamp_with_conv',
             'conditional', 'scale_by_sigma', 'nonlinearity', 'normalization', 'dtype',
             'sigma_min', 'sigma_max', 'num_scales'},
    'ncsn': {'nf', 'nonlinearity', 'normalization', 'interpolation', 'scale_by_sigma', 'dtype',
             'sigma_min', 'sigma_max', 'num_scales'},
}
_NET_FIELDS.update({k: _NET_FIELDS['ncsn'] for k in ('ncsnv2_64', 'ncsnv2_128', 'ncsnv2_256')})
# Fields of the shared defaults that configs of the other SDE family carry unread.
_SHARED_DEFAULTS = {'beta_min', 'beta_max', 'sigma_min', 'sigma_max'}


def config_paths():
  found = set()
  for pattern in CONFIG_GLOBS:
    found |= {str(p.relative_to(ROOT / 'configs')) for p in (ROOT / 'configs').glob(pattern)}
  return sorted(found)


def load_config(rel):
  spec = importlib.util.spec_from_file_location('cfg_' + rel.replace('/', '_')[:-3],
                                                ROOT / 'configs' / rel)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module, module.get_config()


# ----------------------------------------------------------------------------
# The original networks' parameter counts, by formula.

def _conv(k, cin, cout, bias=True):
  return k * k * cin * cout + (cout if bias else 0)


def _ddpm_count(m, image_size, channels):
  gn = lambda c: 2 * c  # noqa: E731  GroupNorm scale + bias
  temb = 4 * m.nf

  def resblock(cin, cout):
    n = gn(cin) + _conv(3, cin, cout) + gn(cout) + _conv(3, cout, cout)
    n += _conv(1, temb, cout) if m.conditional else 0        # Dense on the embedding
    n += _conv(1, cin, cout) if cin != cout else 0           # NIN shortcut
    return n

  attn = lambda c: gn(c) + 4 * _conv(1, c, c)  # noqa: E731  q, k, v, out NINs
  n = _conv(1, m.nf, temb) + _conv(1, temb, temb) if m.conditional else 0
  n += _conv(3, channels, m.nf)
  hs, res = [m.nf], image_size
  for level, mult in enumerate(m.ch_mult):
    for _ in range(m.num_res_blocks):
      n += resblock(hs[-1], m.nf * mult) + (attn(m.nf * mult) if res in m.attn_resolutions else 0)
      hs.append(m.nf * mult)
    if level != len(m.ch_mult) - 1:
      n += _conv(3, hs[-1], hs[-1])                          # Downsample with conv
      hs.append(hs[-1])
      res //= 2
  h = hs[-1]
  n += 2 * resblock(h, h) + attn(h)
  for level in reversed(range(len(m.ch_mult))):
    for _ in range(m.num_res_blocks + 1):
      n += resblock(h + hs.pop(), m.nf * m.ch_mult[level])
      h = m.nf * m.ch_mult[level]
    n += attn(h) if res in m.attn_resolutions else 0        # once per level (see docstring)
    if level != 0:
      n += _conv(3, h, h)                                    # Upsample with conv
      res *= 2
  return n + gn(h) + _conv(3, h, channels)


def _refinenet_count(m, channels):
  assert m.normalization == 'InstanceNorm++'
  conditional = m.name == 'ncsn'
  norm = (lambda c: m.num_scales * 3 * c) if conditional else (lambda c: 3 * c)  # noqa: E731
  inner = norm if conditional else (lambda c: 0)  # noqa: E731  norms inside RCU/CRP/MSF: v1 only

  def resblock(cin, cout, resample, dil):
    n = norm(cin)
    if resample == 'down':
      n += _conv(3, cin, cin) + norm(cin)
      n += 2 * _conv(3, cin, cout) if dil > 1 else _conv(3, cin, cout) + _conv(1, cin, cout)
    else:
      if cout != cin:
        n += _conv(3 if dil > 1 else 1, cin, cout)
      n += _conv(3, cin, cout) + norm(cout) + _conv(3, cout, cout)
    return n

  rcu = lambda f, blocks: blocks * 2 * (_conv(3, f, f, bias=False) + inner(f))  # noqa: E731
  stages, refine = _PLANS[m.name]
  n, h, skips = _conv(3, channels, m.nf), m.nf, []
  for mult, resample, dil in stages:
    n += resblock(h, mult * m.nf, resample, dil) + resblock(mult * m.nf, mult * m.nf, None, dil)
    h = mult * m.nf
    skips.append(h)
  ref = None
  for i, (skip, mult) in enumerate(zip(reversed(skips), refine)):
    f, ins = mult * m.nf, [skip] if ref is None else [skip, ref]
    n += sum(rcu(c, 2) for c in ins)
    n += sum(_conv(3, c, f) + inner(c) for c in ins) if ref is not None else 0   # MSF
    n += 2 * (_conv(3, f, f, bias=False) + inner(f))                             # CRP
    n += rcu(f, 3 if i == len(skips) - 1 else 1)
    ref = f
  return n + norm(ref) + _conv(3, ref, channels)


def reference_param_count(config):
  if config.model.name == 'ddpm':
    return _ddpm_count(config.model, config.data.image_size, config.data.num_channels)
  return _refinenet_count(config.model, config.data.num_channels)


# ----------------------------------------------------------------------------

_COUNT_CACHE = {}


def param_count(config):
  """Parameters of models.init_model(config) by jax.eval_shape.

  Configs that build an identical module (equal dataclass fields, same input
  shape) necessarily have identical counts, so each distinct one is traced once.
  """
  key = (repr(models.get_model(config)), models.input_shape(config))
  if key not in _COUNT_CACHE:
    variables = jax.eval_shape(lambda rng: models.init_model(rng, config)[1], jax.random.PRNGKey(0))
    _COUNT_CACHE[key] = sum(int(np.prod(v.shape)) for v in jax.tree_util.tree_leaves(variables))
  return _COUNT_CACHE[key]


def test_every_config_has_a_reference_count():
  """The configs on disk are exactly those with a reference count (a new config needs one)."""
  assert config_paths() == sorted(REFERENCE_PARAM_COUNTS)


@pytest.mark.parametrize('rel', sorted(REFERENCE_PARAM_COUNTS))
def test_reference_literal_is_the_walk_of_the_original(rel):
  """Each literal is what the formula walk of the original network gives for the config."""
  _, config = load_config(rel)
  assert reference_param_count(config) == REFERENCE_PARAM_COUNTS[rel]


@pytest.mark.parametrize('rel', sorted(REFERENCE_PARAM_COUNTS))
def test_param_count_equals_original(rel):
  """Our network for the config has exactly the original's number of parameters."""
  _, config = load_config(rel)
  assert param_count(config) == REFERENCE_PARAM_COUNTS[rel]


@pytest.mark.parametrize('rel', sorted(REFERENCE_PARAM_COUNTS))
def test_config_is_valid_and_runnable(rel):
  """The config passes the start-up checks, builds its SDE and its sampler, and states how
  to run it and what it targets."""
  module, config = load_config(rel)
  config_checks.validate(config)
  doc = module.__doc__
  assert f'python main.py --config configs/{rel} --workdir' in doc and '--mode train' in doc
  assert 'Target:' in doc
  sde = sde_lib.get_sde(config)
  shape = (2,) + models.input_shape(config)
  sampler = samplers.get_sampler(config, sde, lambda params, x, t: -x, shape)
  assert callable(sampler)
  expected_sde = {'ve': 'vesde', 'vp': 'vpsde', 'subvp': 'subvpsde'}[rel.split('/')[0]]
  assert config.training.sde == expected_sde


@pytest.mark.parametrize('rel', sorted(REFERENCE_PARAM_COUNTS))
def test_config_has_no_unread_model_fields(rel):
  """Every config.model field is read by the network, the SDE or training (ema_rate)."""
  _, config = load_config(rel)
  m = config.model
  read = {'name', 'ema_rate'} | _NET_FIELDS[m.name] | _SDE_FIELDS[config.training.sde]
  unread = set(m.keys()) - read - _SHARED_DEFAULTS
  assert not unread, f'{rel}: config.model fields nothing reads: {sorted(unread)}'
  if m.name != 'ddpm':
    assert 'dropout' not in m and 'embedding_type' not in m
