"""Importing the original code's released checkpoints (`models.pretrained`), against the originals.

Golden data (`tests/data/pretrained/`, copied from the fixtures made by running
yang-song/score_sde and yang-song/score_sde_pytorch; each folder's README says
how): per case, a shrunk paper config, a seed recipe for every tensor of a
release checkpoint, inputs, and the original code's scores with the EMA and
the raw weights. Each test rebuilds the checkpoint file in its exact release
format (the score_sde msgpack is checked byte for byte by its sha256),
imports it with `models.pretrained.load`, and requires
`models.get_score_fn(...)` to equal the original's scores per sample within
1e-4 * max(1, max|ref|), for ema=True and ema=False.

Families that score_sde_pytorch released but its fixtures lack (NCSN++ with
the output_skip / input_skip pyramids of the high-resolution releases; the VE
DDPM) are tested in the PyTorch format with a file built from the score_sde
fixture's weights, laid out by an independent walk of score_sde_pytorch's
`NCSNpp.__init__` / `DDPM.__init__` (`torch_module_names`): it must import to
the variables that reproduce the JAX original's scores. (The PyTorch code
cannot build NCSNv2 or an unconditional DDPM, so neither has a .pth file.)
"""
import hashlib
import importlib.util
import json
import pathlib
import re
import sys

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
import sde_lib
from fast_compile import FAST_COMPILE

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / 'tests' / 'data' / 'pretrained'
JAX_CASES = sorted(p.stem for p in (DATA / 'score_sde').glob('*.json') if p.stem != 'manifest')
TORCH_CASES = sorted(p.stem for p in (DATA / 'score_sde_pytorch').glob('*.json'))
WORST = {}   # (format, case, weights) -> worst error / tolerance, printed by the last test


# ----------------------------------------------------------------------------- helpers

def load_config(rel, overrides=None):
  """Our config file `configs/<rel>` with dotted overrides (lists become tuples)."""
  spec = importlib.util.spec_from_file_location('cfg', ROOT / rel)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  for key, value in (overrides or {}).items():
    section, field = key.split('.')
    config[section][field] = tuple(value) if isinstance(value, list) else value
  return config


def walk(leaves, seed, std, square=False):
  """The fixture's seeded walk over sorted [path, shape] leaves -> {path: float32 array}."""
  rng = np.random.default_rng(seed)
  out = {}
  for path, shape in leaves:
    a = rng.standard_normal(shape).astype(np.float32) * np.float32(std)
    out[path] = np.square(a) if square else a
  return out


def nest(flat):
  """Sorted 'a/b/c' paths -> nested dicts whose keys are in sorted order at every level."""
  tree = {}
  for path in sorted(flat):
    node = tree
    *parents, leaf = path.split('/')
    for p in parents:
      node = node.setdefault(p, {})
    node[leaf] = flat[path]
  return tree


def build_jax_checkpoint(case, directory):
  """The score_sde release file `checkpoint_1` of a case, byte for byte; returns its path."""
  leaves = case['params']['leaves']

  def build(node):
    if 'array' in node:
      return np.asarray(node['value'], node['array']).reshape(node['shape'])
    if 'params_tree' in node:
      spec = node['params_tree']
      if 'leaf' in spec:
        parts = {name: walk(leaves, s['seed'], s['std'], s.get('square', False))
                 for name, s in spec['leaf'].items()}
        return nest({p: {name: parts[name][p] for name in spec['leaf']}
                     for p, _ in leaves})
      return nest(walk(leaves, spec['seed'], spec['std']))
    return {k: build(v) for k, v in node.items()}

  data = flax.serialization.msgpack_serialize(build(case['state_layout']), in_place=True)
  assert hashlib.sha256(data).hexdigest() == case['checkpoint']['sha256']
  path = pathlib.Path(directory) / 'checkpoint_1'
  path.write_bytes(data)
  return path


def torch_draw(rng, shape, mean, std, dtype='float32'):
  z = rng.standard_normal(size=shape)
  return (np.float64(mean) + np.float64(std) * z).astype(dtype)


def build_torch_checkpoint(case, arrays, directory):
  """The score_sde_pytorch release file of a case (its README's recipe); returns its path."""
  import torch
  rules = {k: (mean, std) for k, mean, std, _ in case['weights']['per_key']}
  rng = np.random.default_rng(case['weights']['seed'])
  model = {}
  for key, shape, dtype, kind in case['state_dict']:
    model[key] = (arrays[key] if kind == 'buffer' else torch_draw(rng, shape, *rules[key], dtype))
  rng = np.random.default_rng(case['ema']['seed'])
  shadow = [torch_draw(rng, shape, *rules[key], dtype)
            for key, shape, dtype, kind in case['state_dict'] if kind == 'param']
  assert len(shadow) == case['ema']['count']
  assert hashlib.sha256(b''.join(s.tobytes() for s in shadow)).hexdigest() == case['ema']['sha256']
  rng = np.random.default_rng(case['optimizer']['seed'])
  state, index = {}, 0
  for key, shape, dtype, kind in case['state_dict']:
    if kind == 'buffer':
      continue
    if kind == 'param':
      avg = (1e-3 * rng.standard_normal(shape)).astype(np.float32)
      sq = np.square(1e-3 * rng.standard_normal(shape)).astype(np.float32)
      state[index] = {'step': torch.tensor(float(case['step'])), 'exp_avg': torch.from_numpy(avg),
                      'exp_avg_sq': torch.from_numpy(sq)}
    index += 1
  groups = [dict(g, betas=tuple(g['betas'])) for g in case['optimizer']['param_groups']]
  path = pathlib.Path(directory) / 'checkpoint_1.pth'
  torch.save({'optimizer': {'state': state, 'param_groups': groups},
              'model': {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.items()},
              'ema': {'decay': case['ema']['decay'], 'num_updates': case['ema']['num_updates'],
                      'shadow_params': [torch.from_numpy(s) for s in shadow]},
              'step': case['step']}, path)
  return path


def scores(config, variables, x, t):
  """models.get_score_fn of `config` at (x, t) for each variables set, compiled once per config."""
  key = config.to_json_best_effort(sort_keys=True)
  if key not in _COMPILED:
    sde = sde_lib.get_sde(config)
    score_fn = models.get_score_fn(sde, models.get_model(config),
                                   continuous=config.training.continuous)
    _COMPILED[key] = jax.jit(score_fn).lower(variables[0], x, t).compile(
        compiler_options=FAST_COMPILE)
  return [np.asarray(_COMPILED[key](v, x, t)) for v in variables]


_COMPILED = {}


def assert_close(ours, ref, key):
  """Per sample b: max|ours_b - ref_b| <= 1e-4 * max(1, max|ref_b|); records the worst ratio."""
  ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
  assert ours.shape == ref.shape
  err = np.abs(ours - ref).reshape(len(ref), -1).max(axis=1)
  tol = 1e-4 * np.maximum(1., np.abs(ref).reshape(len(ref), -1).max(axis=1))
  WORST[key] = (float((err / tol).max()), float(err.max()))
  assert np.all(err <= tol), f"{key}: errors {err} exceed {tol}"


# ----------------------------------------------------------------------------- torch layout

# Children of each score_sde_pytorch block in registration (= state dict) order, and the
# parameters of each leaf module, from models/layerspp.py and models/layers.py.
TORCH_CHILDREN = {
    'ResnetBlockBigGANpp': ('GroupNorm_0', 'Conv_0', 'Dense_0', 'GroupNorm_1', 'Conv_1', 'Conv_2'),
    'ResnetBlockDDPM': ('GroupNorm_0', 'Conv_0', 'Dense_0', 'GroupNorm_1', 'Conv_1', 'Conv_2',
                        'NIN_0'),
    'AttnBlockpp': ('GroupNorm_0', 'NIN_0', 'NIN_1', 'NIN_2', 'NIN_3'),
    'AttnBlock': ('GroupNorm_0', 'NIN_0', 'NIN_1', 'NIN_2', 'NIN_3'),
    'Combine': ('Conv_0',), 'Downsample': ('Conv_0', 'Conv2d_0'), 'Upsample': ('Conv_0', 'Conv2d_0'),
}


def torch_module_names(config):
  """Flax names (the JAX original's) of score_sde_pytorch's `all_modules`, index by index.

  An independent walk of `NCSNpp.__init__` / `DDPM.__init__` of score_sde_pytorch: the
  torch class of each appended module, named as the JAX original names it (its class,
  numbered per class in call order; torch's list order is the forward order).
  """
  m = config.model
  nres, ch_mult = len(m.ch_mult), m.ch_mult
  res = [config.data.image_size // 2 ** i for i in range(nres)]
  ncsnpp = m.name == 'ncsnpp'
  block = 'ResnetBlockBigGANpp' if ncsnpp and m.resblock_type == 'biggan' else (
      'ResnetBlockDDPMpp' if ncsnpp else 'ResnetBlockDDPM')
  attn = 'AttnBlockpp' if ncsnpp else 'AttnBlock'
  mods = []
  if ncsnpp and m.embedding_type == 'fourier':
    mods.append('GaussianFourierProjection')
  if m.conditional:
    mods += ['Dense', 'Dense']
  mods.append('Conv')
  for i in range(nres):
    for _ in range(m.num_res_blocks):
      mods.append(block)
      if res[i] in m.attn_resolutions:
        mods.append(attn)
    if i != nres - 1:
      if not ncsnpp or m.resblock_type == 'ddpm':
        mods.append('Downsample')
      else:
        mods.append(block)
      if ncsnpp and m.progressive_input == 'input_skip':
        mods.append('Combine')
      elif ncsnpp and m.progressive_input == 'residual':
        mods.append('Downsample')
  mods += [block, attn, block]
  for i in reversed(range(nres)):
    mods += [block] * (m.num_res_blocks + 1)
    if res[i] in m.attn_resolutions:
      mods.append(attn)
    if ncsnpp and m.progressive != 'none':
      if i == nres - 1 or m.progressive == 'output_skip':
        mods += ['GroupNorm', 'Conv']
      else:
        mods.append('Upsample')
    if i != 0:
      mods.append('Upsample' if not ncsnpp or m.resblock_type == 'ddpm' else block)
  if not ncsnpp or m.progressive != 'output_skip':
    mods += ['GroupNorm', 'Conv']
  counts, names = {}, []
  for cls in mods:
    names.append(f'{cls}_{counts.get(cls, 0)}')
    counts[cls] = counts.get(cls, 0) + 1
  return names


def torch_file_from_jax(config, flat_ema, flat_raw, directory, sigmas):
  """A score_sde_pytorch-format file holding the JAX original's weights (by the torch layout)."""
  import torch
  top = {name: i for i, name in enumerate(torch_module_names(config))}
  state, trainable = {'module.sigmas': sigmas}, []

  def key_and_value(path, a):
    *mods, leaf = path.split('/')
    cls = mods[-1].rsplit('_', 1)[0]
    if cls in ('Conv', 'Conv2d') and leaf in ('kernel', 'weight'):
      a, leaf = a.transpose(3, 2, 0, 1), 'weight'     # HWIO -> OIHW
    elif cls == 'Dense' and leaf == 'kernel':
      a, leaf = a.T, 'weight'                          # (in, out) -> nn.Linear (out, in)
    elif cls == 'GroupNorm' and leaf == 'scale':
      leaf = 'weight'
    return '.'.join(['module.all_modules', str(top[mods[0]])] + mods[1:] + [leaf]), a

  def order(path):   # state dict order: module index, then children, then weight before bias
    *mods, leaf = path.split('/')
    cls = mods[0].rsplit('_', 1)[0]
    child = TORCH_CHILDREN[cls].index(mods[1]) if len(mods) > 1 else 0
    return top[mods[0]], child, ('kernel', 'weight', 'scale', 'W', 'bias', 'b').index(leaf)

  shadow = []
  for path in sorted(flat_raw, key=order):
    key, value = key_and_value(path, flat_raw[path])
    state[key] = value
    if not path.startswith('GaussianFourierProjection'):   # frozen in torch: no EMA copy
      shadow.append(key_and_value(path, flat_ema[path])[1])
    trainable.append(key)
  path = pathlib.Path(directory) / 'converted.pth'
  t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
  torch.save({'model': {k: t(v) for k, v in state.items()},
              'ema': {'decay': 0.999, 'num_updates': 1, 'shadow_params': [t(s) for s in shadow]},
              'optimizer': {}, 'step': 7}, path)
  return path


# ----------------------------------------------------------------------------- golden tests

def jax_case(stem):
  case = json.loads((DATA / 'score_sde' / f'{stem}.json').read_text())
  ref = dict(np.load(DATA / 'score_sde' / f'{stem}.npz'))
  return case, ref, load_config(case['config'], case['overrides'])


@pytest.mark.slow
@pytest.mark.parametrize('stem', JAX_CASES)
def test_score_sde_checkpoint_equals_original(stem, tmp_path):
  """A score_sde release checkpoint (rebuilt byte for byte) gives the JAX original's scores with
  its EMA and raw weights; where score_sde_pytorch has the network and no PyTorch fixture
  covers its family, the same weights in the PyTorch release layout give them too."""
  case, ref, config = jax_case(stem)
  path = build_jax_checkpoint(case, tmp_path)
  variables = [models.pretrained.load(config, path, ema=e) for e in (True, False)]
  x, t = jnp.asarray(ref['x']), jnp.asarray(ref['t'])
  out = scores(config, variables, x, t)
  assert_close(out[0], ref['score_ema'], ('score_sde', stem, 'ema'))
  assert_close(out[1], ref['score_params'], ('score_sde', stem, 'raw'))
  if stem in ('ve__celebahq_256_ncsnpp_continuous', 've__cifar10_ddpm'):
    check_torch_layout(case, config, variables, tmp_path)


def check_torch_layout(case, config, variables, directory):
  """The same weights written in the score_sde_pytorch layout import to the same variables.

  Equal variables give equal scores, so these checkpoints give the original's scores too.
  One difference is by design: the frozen Fourier W has no EMA copy in PyTorch, so the
  EMA variables take the raw W (the fixture's two trees differ there; a release's do not).
  """
  pytest.importorskip('torch', reason='writing .pth checkpoints needs torch')
  flat = {e: {'/'.join(k): v for k, v in flax.traverse_util.flatten_dict(
      nest(walk(case['params']['leaves'], case[tree]['seed'], case['params']['std']))).items()}
      for e, tree in ((True, 'params_ema'), (False, 'params'))}
  sigmas = np.exp(np.linspace(np.log(config.model.sigma_max), np.log(config.model.sigma_min),
                              config.model.num_scales))
  path = torch_file_from_jax(config, flat[True], flat[False], directory, sigmas)
  ema, raw = (models.pretrained.load(config, path, ema=e) for e in (True, False))
  want_ema = dict(variables[0]['params'])
  if 'GaussianFourierProjection_0' in want_ema:
    want_ema['GaussianFourierProjection_0'] = variables[1]['params']['GaussianFourierProjection_0']
  assert tree_equal(raw, variables[1]) and tree_equal(ema, {'params': want_ema})


def tree_equal(a, b):
  return (jax.tree.structure(a) == jax.tree.structure(b) and all(
      np.array_equal(np.asarray(u), np.asarray(v))
      for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b))))

@pytest.mark.slow
@pytest.mark.parametrize('stem', TORCH_CASES)
def test_score_sde_pytorch_checkpoint_equals_original(stem, tmp_path):
  """A score_sde_pytorch release checkpoint (rebuilt by its recipe) gives the PyTorch
  original's scores with its EMA and raw ('model') weights."""
  pytest.importorskip('torch', reason='reading .pth checkpoints needs torch '
                      '(pip install -r requirements-extras.txt)')
  case = json.loads((DATA / 'score_sde_pytorch' / f'{stem}.json').read_text())
  ref = dict(np.load(DATA / 'score_sde_pytorch' / f'{stem}.npz'))
  config = load_config(case['config'], case['overrides'])
  path = build_torch_checkpoint(case, ref, tmp_path)
  variables = [models.pretrained.load(config, path, ema=e) for e in (True, False)]
  x = jnp.asarray(ref['x'].transpose(0, 2, 3, 1))          # NCHW -> NHWC
  out = scores(config, variables, x, jnp.asarray(ref['t']))
  assert_close(out[0], ref['score_ema'].transpose(0, 2, 3, 1), ('score_sde_pytorch', stem, 'ema'))
  assert_close(out[1], ref['score_model'].transpose(0, 2, 3, 1),
               ('score_sde_pytorch', stem, 'raw'))


@pytest.mark.parametrize('stem', JAX_CASES)
def test_noise_labels_are_the_originals(stem):
  """The labels our scoring feeds each imported network are the ones the original fed it
  (`network_labels`): t * 999 for continuous VP / sub-VP, unfloored t * (N - 1) for discrete
  VP, sigma(t) for continuous VE, round((1 - t)(N - 1)) for discrete VE."""
  case, ref, config = jax_case(stem)
  sde = sde_lib.get_sde(config)
  labels = np.asarray(models.noise_labels(sde, jnp.asarray(ref['t']), config.training.continuous))
  want = np.asarray(case['network_labels']['values'])
  if np.issubdtype(labels.dtype, np.integer):
    np.testing.assert_array_equal(labels, want)
  else:
    np.testing.assert_allclose(labels.astype(np.float32), want.astype(np.float32), rtol=2e-7)


@pytest.mark.parametrize('stem', TORCH_CASES)
def test_torch_noise_labels_are_the_originals(stem):
  """Same for the PyTorch original: our labels equal the exact second argument its
  get_score_fn passed to the network (the npz's `labels`)."""
  case = json.loads((DATA / 'score_sde_pytorch' / f'{stem}.json').read_text())
  ref = np.load(DATA / 'score_sde_pytorch' / f'{stem}.npz')
  config = load_config(case['config'], case['overrides'])
  labels = np.asarray(models.noise_labels(sde_lib.get_sde(config), jnp.asarray(ref['t']),
                                          config.training.continuous))
  if np.issubdtype(ref['labels'].dtype, np.integer):
    np.testing.assert_array_equal(labels, ref['labels'])
  else:
    np.testing.assert_allclose(labels.astype(np.float32), ref['labels'], rtol=2e-7)


def test_continuous_vp_import_needs_the_originals_label_scale(tmp_path):
  """The originals feed continuous VP networks t * 999, ours t * (N - 1): importing under a
  config with N != 1000 (which would feed other labels) is refused, naming the field."""
  case, _, config = jax_case('vp__cifar10_ddpmpp_continuous')
  path = build_jax_checkpoint(case, tmp_path)
  config.model.num_scales = 2000
  with pytest.raises(ValueError, match=r'num_scales=2000.*t \* 999'):
    models.pretrained.load(config, path)


# ----------------------------------------------------------------------------- exactness

@pytest.fixture(scope='module')
def ncsnpp_file(tmp_path_factory):
  case, _, config = jax_case('ve__cifar10_ncsnpp_continuous')
  return build_jax_checkpoint(case, tmp_path_factory.mktemp('ncsnpp')), case


@pytest.mark.parametrize('field,value', [('model.nf', 64), ('model.ch_mult', (1, 2)),
                                         ('training.sde', 'vpsde')])
def test_checkpoint_of_another_config_is_refused(ncsnpp_file, field, value):
  """A checkpoint loaded under another config (nf, ch_mult, SDE) fails with an error naming a
  parameter, both shapes or the missing tensor, the config file and the checkpoint."""
  path, case = ncsnpp_file
  rel = ('configs/vp/cifar10_ddpmpp_continuous.py' if field == 'training.sde'
         else case['config'])
  overrides = dict(case['overrides'])
  if field != 'training.sde':
    overrides[field] = value
  config = load_config(rel, overrides)
  with pytest.raises(models.pretrained.CheckpointMismatch) as info:
    models.pretrained.load(config, path, config_name=rel)
  message = str(info.value)
  assert rel in message and str(path) in message
  if field == 'model.nf':
    assert ("parameter AttnBlockpp_0/Dense_0/kernel: checkpoint tensor 'AttnBlockpp_0/NIN_0/W' "
            "has shape (64, 64) (float32), the network needs (128, 128)") in message
  elif field == 'model.ch_mult':   # one level fewer: the checkpoint's last level has no place
    assert re.search(r"\d+ shape mismatches: parameter .*\| \d+ parameters the checkpoint lacks: "
                     r".*\| 88 unused checkpoint tensors: checkpoint tensor '", message)
  else:   # a VP DDPM++: positional embedding (nf wide, not 2 nf), no FIR input pyramid, no W
    assert ("1 shape mismatches: parameter Dense_0/kernel: checkpoint tensor 'Dense_0/kernel' "
            "has shape (64, 128) (float32), the network needs (32, 128)") in message
    assert ("5 unused checkpoint tensors: checkpoint tensor 'Downsample_0/Conv2d_0/bias' (32,) "
            "has no place in the network") in message


def test_every_tensor_is_used_or_named(ncsnpp_file, tmp_path):
  """An extra tensor in the weight tree, or a missing one, is an error naming it."""
  path, case = ncsnpp_file
  state = flax.serialization.msgpack_restore(path.read_bytes())
  config = load_config(case['config'], case['overrides'])
  state['params_ema']['Extra_0'] = {'kernel': np.zeros((3,), np.float32)}
  bad = tmp_path / 'extra'
  bad.write_bytes(flax.serialization.msgpack_serialize(state))
  with pytest.raises(models.pretrained.CheckpointMismatch, match=r"'Extra_0/kernel' \(3,\) has no place"):
    models.pretrained.load(config, bad)
  models.pretrained.load(config, bad, ema=False)   # the raw tree is untouched
  del state['params_ema']['Extra_0'], state['params_ema']['Conv_0']['bias']
  bad.write_bytes(flax.serialization.msgpack_serialize(state))
  with pytest.raises(models.pretrained.CheckpointMismatch,
                     match=r"1 parameters the checkpoint lacks: parameter Conv_0/bias \(32,\)"):
    models.pretrained.load(config, bad)


def test_format_is_told_by_content(ncsnpp_file, tmp_path):
  """The format comes from the bytes, not the file name; other files are refused clearly."""
  path, _ = ncsnpp_file
  renamed = tmp_path / 'model.pth'
  renamed.write_bytes(path.read_bytes())
  assert models.pretrained.detect_format(renamed) == 'score_sde'
  other = tmp_path / 'checkpoint_2'
  other.write_bytes(b'not a checkpoint')
  with pytest.raises(ValueError, match='neither a score_sde checkpoint'):
    models.pretrained.detect_format(other)
  with pytest.raises(IsADirectoryError, match='pass the checkpoint file'):
    models.pretrained.detect_format(tmp_path)


def test_torch_format_without_torch_says_how_to_install(tmp_path, monkeypatch):
  """A .pth file read where torch is missing: an ImportError telling the pip command."""
  path = tmp_path / 'checkpoint_1.pth'
  path.write_bytes(b'PK\x03\x04' + bytes(60))
  monkeypatch.setitem(sys.modules, 'torch', None)   # `import torch` raises ImportError
  config = load_config('configs/vp/cifar10_ddpmpp_continuous.py')
  with pytest.raises(ImportError, match='pip install -r requirements-extras.txt'):
    models.pretrained.load(config, path)


def test_unsupported_networks_say_why(tmp_path):
  """NCSN v1 (no checkpoint of the original can exist) is refused with the reason."""
  case, _, _ = jax_case('ve__ncsnv2__cifar10')
  path = build_jax_checkpoint(case, tmp_path)
  config = load_config('configs/ve/ncsn/cifar10.py')
  with pytest.raises(NotImplementedError, match='cannot run NCSN v1'):
    models.pretrained.load(config, path)


# ----------------------------------------------------------------------------- command line

@pytest.mark.slow
def test_converted_workdir_is_what_eval_and_sample_restore(tmp_path):
  """`convert` (the command line's work) writes a snapshot that eval's and sample's restore
  path reads back unchanged: EMA weights as ema_params (raw ones with raw=True), the raw
  ones as params, the original's step (numbered k = step / snapshot_freq, as the original
  names checkpoint_k), and the same score as `load`."""
  from evaluation import runs
  from experiment import checkpoints as ckpt_lib
  case, ref, config = jax_case('vp__ddpm__cifar10_unconditional')
  path = build_jax_checkpoint(case, tmp_path)
  rel = case['config']
  assert models.pretrained.convert(config, path, tmp_path / 'ema', config_name=rel) == 50000
  models.pretrained.convert(config, path, tmp_path / 'raw', raw=True, config_name=rel)
  ema, raw = (models.pretrained.load(config, path, ema=e) for e in (True, False))
  trainer, state = runs.restore(config, tmp_path / 'ema')
  with ckpt_lib.Checkpoints(tmp_path / 'raw', async_save=False) as ckpts:
    state_raw = ckpts.restore(trainer.abstract_state())
  assert int(state.step) == int(state_raw.step) == 50000
  assert tree_equal(state.ema_params, ema) and tree_equal(state.params, raw)
  assert tree_equal(state_raw.ema_params, raw) and tree_equal(state_raw.params, raw)
  config.training.snapshot_freq = 50000
  config.eval.begin_ckpt = config.eval.end_ckpt = 1
  assert runs._eval_checkpoints(config, tmp_path / 'ema') == [(1, 50000)]
  out = scores(config, [state.ema_params], jnp.asarray(ref['x']), jnp.asarray(ref['t']))
  assert_close(out[0], ref['score_ema'], ('converted workdir', 'vp__ddpm__cifar10_unconditional',
                                          'ema'))
  with pytest.raises(FileExistsError, match='empty workdir'):
    models.pretrained.convert(config, path, tmp_path / 'ema')

def test_zz_report_worst_errors():
  """Prints the worst error per case relative to the tolerance (read with -s)."""
  for key in sorted(WORST):
    ratio, err = WORST[key]
    print(f"{' / '.join(key):70s} max err {err:.3g}  = {ratio:.3g} x tolerance")
