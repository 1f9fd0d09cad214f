"""The original code's released networks as variables of our models.

The authors released trained networks for the paper's configs in two formats;
`load` reads either into the variables of `models.get_model(config)`:

* yang-song/score_sde (JAX/Flax): `checkpoint_<k>`, flax 0.3's msgpack of the
  training `State` (`step`, `optimizer` = {`target`, `state`}, `lr`,
  `model_state`, `ema_rate`, `params_ema`, `rng`). `params_ema` holds the EMA
  weights, `optimizer.target` the raw ones.
* yang-song/score_sde_pytorch: `checkpoint_<k>.pth`, a `torch.save` dict with
  'model' (the state dict of the `DataParallel`-wrapped network: keys
  `module.all_modules.<i>.<path>` and the buffer `module.sigmas`), 'ema'
  (`shadow_params`: EMA copies of the trainable parameters, a list in
  `model.parameters()` order), 'optimizer' and 'step'. Needs torch
  (`pip install -r requirements-extras.txt`), imported only to read this format.

The format is told by the file's content (a zip or pickle stream is torch's, a
msgpack map is flax's), never by its name.

    variables = models.pretrained.load(config, path, ema=True)   # {'params': ...}
    python -m models.pretrained --config CONFIG --checkpoint PATH --workdir DIR [--raw]

The command writes the weights as a snapshot of our own checkpoint format to
DIR/checkpoints, so `main.py --mode eval|sample|train --config CONFIG --workdir
DIR` evaluates, samples from or fine-tunes the original's network.

How names map. Our networks build the same module tree as the JAX original,
with flax's automatic names; `original_path` lists the few places where the
names differ (NIN layers are our Dense layers, the FIR-fused convolution is
`Conv2d_0` with a `weight`, InstanceNorm++ is `InstanceNorm2dPlus` with (1, 1,
1, C) parameters). The PyTorch code uses the JAX original's names inside each
block, torch's layouts (OIHW convolutions, (out, in) linear maps, GroupNorm
`weight`), and for top-level modules their position in the flat `all_modules`
list, which is the order the forward pass calls them; we learn our forward
order by intercepting module calls while tracing `init`.

Exactness is checked, not assumed: every parameter of our tree is filled
exactly once from a checkpoint tensor of exactly the expected shape, and every
tensor of the checkpoint is used or skipped for a reason listed in `SKIPPED`;
anything else raises `CheckpointMismatch`, naming the parameter, both shapes,
the config and the checkpoint.

Time labels. The originals feed continuous VP and sub-VP networks `t * 999`;
`models.scoring` feeds `t * (N - 1)`, the same only when `model.num_scales` is
1000. A network is imported only under a config that gives it the labels it
was trained with (`check_time_labels`).
"""
import os
import re

import jax
import jax.numpy as jnp
import numpy as np

from models import config_utils, registry
from utils import extras

FORMATS = ('score_sde', 'score_sde_pytorch')

# Checkpoint content that is deliberately not a parameter of our tree, and why.
SKIPPED = {
    'score_sde': {
        'step, lr, ema_rate, rng': 'training bookkeeping, not network weights ("step" becomes '
                                   'the step of a converted snapshot)',
        'optimizer.state': "Adam's moment estimates; a fine-tuning run starts fresh moments",
        'params_ema / optimizer.target': 'the weight tree not asked for (ema=False / ema=True)',
        'model_state': 'must be empty: none of the original networks has batch statistics',
    },
    'score_sde_pytorch': {
        'module.sigmas': 'buffer: the VE noise table exp(linspace(log sigma_max, log sigma_min, '
                         'N)); recomputed from config.model.sigma_min/sigma_max/num_scales, and '
                         'checked equal to it where the network divides by it',
        'GaussianFourierProjection W (EMA)': 'frozen (requires_grad=False), so not in '
                                             'shadow_params; its EMA value is the one in "model"',
        'model (ema=True) / ema.shadow_params (ema=False)': 'the weight set not asked for',
        'optimizer, step, ema.decay, ema.num_updates': 'training bookkeeping, not network weights',
    },
}

# Networks each format can hold, with the reason where it cannot.
UNSUPPORTED = {
    ('score_sde', 'ncsn'): (
        'the original score_sde cannot run NCSN v1 (no NCSN config defines model.num_classes, '
        'and its ConditionalResidualBlock fails with a TypeError), so no such checkpoint exists'),
    **{('score_sde_pytorch', name): (
        'score_sde_pytorch cannot build NCSN/NCSNv2 (models/ncsnv2.py reads config.data.channels, '
        'which none of its configs defines), and its authors released no NCSN/NCSNv2 checkpoint')
       for name in ('ncsn', 'ncsnv2_64', 'ncsnv2_128', 'ncsnv2_256')},
    ('score_sde', 'mlp'): 'the originals have no MLP network',
    ('score_sde_pytorch', 'mlp'): 'the originals have no MLP network',
}

# Step labels of the originals' continuous VP / sub-VP networks: t * 999.
ORIGINAL_VP_LABEL_SCALE = 999
_TORCH_BUFFERS = ('sigmas',)


class CheckpointMismatch(ValueError):
  """A checkpoint does not fit the network of the config it is loaded into."""


def _split(name):
  """'Conv_12' -> ('Conv', 12); a name without a counter -> (name, None)."""
  m = re.fullmatch(r'(.*)_(\d+)', name)
  return (m.group(1), int(m.group(2))) if m else (name, None)


def original_path(path, conditional=True, model_name='ncsnpp'):
  """(JAX original's param path, kind) of our param `path` (a tuple of names).

  kind says how the tensor is laid out: 'conv' (HWIO kernel), 'linear'
  (Dense kernel (in, out)), 'nin' (NIN W (in, out), as a Dense kernel),
  'vector' (bias, norm scale, Fourier W), 'inorm' (InstanceNorm++ (C,),
  stored (1, 1, 1, C) by the original). Raises NotImplementedError for a layer
  the originals do not have.
  """
  out = []
  for i, name in enumerate(path[:-1]):
    cls, k = _split(name)
    parent = _split(path[i - 1])[0] if i else None
    if parent in ('AttnBlock', 'AttnBlockpp') and cls == 'Dense':
      name = f'NIN_{k}'                      # the attention's q, k, v, out projections
    elif parent == 'ResnetBlockDDPM' and cls == 'Dense' and not (conditional and k == 0):
      name = 'NIN_0'                         # the shortcut (Dense_0 is the time embedding's)
    elif cls == 'FIRConv2d':
      name = f'Conv2d_{k}'
    elif cls == 'InstanceNormPlus':
      name = f'InstanceNorm2dPlus_{k}'
    elif i == 0 and cls == 'ResnetBlockDDPM' and model_name == 'ncsnpp':
      name = f'ResnetBlockDDPMpp_{k}'
    out.append(name)
  owner, leaf = _split(out[-1])[0] if out else None, path[-1]
  table = {
      ('Conv', 'kernel'): ('kernel', 'conv'), ('Conv', 'bias'): ('bias', 'vector'),
      ('Conv2d', 'kernel'): ('weight', 'conv'), ('Conv2d', 'bias'): ('bias', 'vector'),
      ('Dense', 'kernel'): ('kernel', 'linear'), ('Dense', 'bias'): ('bias', 'vector'),
      ('NIN', 'kernel'): ('W', 'nin'), ('NIN', 'bias'): ('b', 'vector'),
      ('GroupNorm', 'scale'): ('scale', 'vector'), ('GroupNorm', 'bias'): ('bias', 'vector'),
      ('GaussianFourierProjection', 'W'): ('W', 'vector'),
      ('InstanceNorm2dPlus', 'alpha'): ('alpha', 'inorm'),
      ('InstanceNorm2dPlus', 'gamma'): ('gamma', 'inorm'),
      ('InstanceNorm2dPlus', 'beta'): ('beta', 'inorm'),
  }
  if (owner, leaf) not in table:
    raise NotImplementedError(
        f"parameter {'/'.join(path)} of a {model_name} network has no counterpart in the "
        "original code's checkpoints")
  name, kind = table[(owner, leaf)]
  return tuple(out) + (name,), kind


# torch name of each kind's leaf, and the torch -> our layout map.
_TORCH_LEAF = {'kernel': 'weight', 'scale': 'weight'}
_FROM_TORCH = {
    'conv': lambda a: a.transpose(2, 3, 1, 0),   # OIHW -> HWIO, no flip: both cross-correlate
    'linear': lambda a: a.T,                     # nn.Linear (out, in) -> Dense (in, out)
    'nin': lambda a: a,                          # NIN.W is (in, out) in both
    'vector': lambda a: a,
}


def _torch_shape(kind, shape):
  if kind == 'conv':
    return (shape[3], shape[2], shape[0], shape[1])
  if kind == 'linear':
    return shape[::-1]
  return shape


def trace(config):
  """(abstract params of our network, names of its top-level modules in forward order).

  Traced with `jax.eval_shape`: nothing is allocated, even for full-size networks.
  """
  import flax.linen as nn
  order = []

  def record(next_fun, args, kwargs, context):
    path = context.module.path
    if len(path) == 1 and path[0] not in order:
      order.append(path[0])
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(record):
    variables = jax.eval_shape(lambda rng: registry.init_model(rng, config)[1],
                               jax.random.PRNGKey(0))
  return variables['params'], order


def _flatten(tree, prefix=()):
  out = {}
  for k, v in tree.items():
    if isinstance(v, dict):
      out.update(_flatten(v, prefix + (k,)))
    else:
      out[prefix + (k,)] = v
  return out


def _unflatten(flat):
  tree = {}
  for path, v in flat.items():
    node = tree
    for k in path[:-1]:
      node = node.setdefault(k, {})
    node[path[-1]] = v
  return tree


def get_layout(config):
  """The `Layout` of `config`'s network, traced once per distinct config."""
  key = config.to_json_best_effort(sort_keys=True)
  if key not in _LAYOUTS:
    _LAYOUTS[key] = Layout(config)
  return _LAYOUTS[key]


_LAYOUTS = {}


class Layout:
  """Where each parameter of `config`'s network lives in each release format.

  `entries`: one per leaf of our tree, (our path, shape, original flax path,
  kind, torch key relative to `module.`). `top_order`: our top-level modules
  with parameters, in forward order = the order of the torch `all_modules`.
  """

  def __init__(self, config):
    m = config.model
    self.model_name = m.name
    params, order = trace(config)
    flat = _flatten(params)
    self.top_order = [name for name in order if name in params]
    top_index = {name: i for i, name in enumerate(self.top_order)}
    conditional = bool(m.get('conditional', True))
    self.entries = []
    for path, leaf in flat.items():
      orig, kind = original_path(path, conditional, m.name)
      rest = orig[1:-1] + (_TORCH_LEAF.get(orig[-1], orig[-1]),)
      torch_key = '.'.join(('all_modules', str(top_index[path[0]])) + rest)
      self.entries.append((path, tuple(leaf.shape), orig, kind, torch_key))
    for column, what in ((2, 'original path'), (4, 'torch key')):
      keys = [e[column] for e in self.entries]
      if len(set(keys)) != len(keys):   # a parameter must be filled from exactly one tensor
        raise AssertionError(f"two parameters of the {m.name} network share an {what}")
    self.fourier_keys = {e[4] for e in self.entries
                         if _split(e[0][0])[0] == 'GaussianFourierProjection'}

  def flax_shapes(self):
    """{original flax path: shape as the original stores it}."""
    return {e[2]: ((1, 1, 1) + e[1] if e[3] == 'inorm' else e[1]) for e in self.entries}

  def torch_shapes(self):
    """{torch key (without 'module.'): shape as torch stores it} for the parameters."""
    return {e[4]: _torch_shape(e[3], e[1]) for e in self.entries}


def detect_format(path):
  """'score_sde' (flax msgpack) or 'score_sde_pytorch' (torch.save), read from the content."""
  path = os.fspath(path)
  if os.path.isdir(path):
    raise IsADirectoryError(
        f"checkpoint={path!r} is a directory; pass the checkpoint file itself (score_sde: "
        "checkpoints/checkpoint_<k>; score_sde_pytorch: checkpoints/checkpoint_<k>.pth)")
  with open(path, 'rb') as f:
    head = f.read(2)
  if head[:2] == b'PK':                       # torch >= 1.6 zip container
    return 'score_sde_pytorch'
  if len(head) == 2 and head[0] == 0x80 and head[1] in (2, 3, 4, 5):   # legacy torch pickle
    return 'score_sde_pytorch'
  if head and (0x81 <= head[0] <= 0x8f or head[0] in (0xde, 0xdf)):     # msgpack map
    return 'score_sde'
  raise ValueError(
      f"checkpoint={path!r} is neither a score_sde checkpoint (flax msgpack of the training "
      "State) nor a score_sde_pytorch one (torch.save zip)")


class _Checkpoint:
  """A release checkpoint read once: its format, step and weight sets, keyed as it stores them."""

  def __init__(self, path):
    self.path = os.fspath(path)
    self.format = detect_format(self.path)
    if self.format == 'score_sde':
      self._read_flax()
    else:
      self._read_torch()

  def _read_flax(self):
    import flax.serialization
    with open(self.path, 'rb') as f:
      state = flax.serialization.msgpack_restore(f.read())
    missing = [k for k in ('params_ema', 'optimizer') if k not in state]
    if missing or 'target' not in state['optimizer']:
      raise ValueError(f"checkpoint {self.path} is a msgpack file but not a score_sde training "
                       f"State: it lacks {missing or ['optimizer.target']}")
    if state.get('model_state'):
      raise CheckpointMismatch(
          f"checkpoint {self.path} has model_state collections {sorted(state['model_state'])}; "
          "none of the original networks has any")
    self.step = int(np.asarray(state['step']))
    self.weights = {True: _flatten(state['params_ema']),
                    False: _flatten(state['optimizer']['target'])}

  def _read_torch(self):
    torch = extras.require(
        'torch', f"checkpoint {self.path} is a score_sde_pytorch (torch.save) file; reading it")
    ckpt = torch.load(self.path, map_location='cpu', weights_only=True)
    if not isinstance(ckpt, dict) or 'model' not in ckpt or 'ema' not in ckpt:
      keys = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
      raise ValueError(f"checkpoint {self.path} is a torch file but not a score_sde_pytorch "
                       f"checkpoint (needs 'model' and 'ema'; has {keys})")
    state = ckpt['model']
    prefixed = all(k.startswith('module.') for k in state)
    self.prefix = 'module.' if prefixed else ''
    self.model = {k[len(self.prefix):]: v.detach().cpu().numpy() for k, v in state.items()}
    self.shadow = [p.detach().cpu().numpy() for p in ckpt['ema']['shadow_params']]
    self.step = int(ckpt.get('step', 0))


def _describe(config, config_name):
  if config_name:
    return f'config {config_name}'
  m = config.model
  return (f"config (model.name={m.name}, nf={m.get('nf')}, ch_mult={m.get('ch_mult')}, "
          f"data.image_size={config.data.get('image_size')})")


def check_time_labels(config, trained_num_scales=None):
  """Refuses a config under which the imported network would get other labels than in training.

  Continuous VP / sub-VP: the originals' label is t * 999, ours t * (N - 1),
  so N = model.num_scales must be 1000. Discrete networks (VP, VE) were
  trained with labels on the grid of their N; when the checkpoint tells it
  (`trained_num_scales`, the length of the torch `sigmas` buffer), it must
  equal the config's.
  """
  sde = config.training.sde.lower()
  n = int(config.model.num_scales)
  continuous = bool(config.training.continuous)
  if sde in ('vpsde', 'subvpsde') and continuous and n - 1 != ORIGINAL_VP_LABEL_SCALE:
    raise ValueError(
        f"config.model.num_scales={n}: the original continuous {sde} networks take the label "
        f"t * {ORIGINAL_VP_LABEL_SCALE}, and models.scoring feeds t * (num_scales - 1), so an "
        f"imported network needs num_scales={ORIGINAL_VP_LABEL_SCALE + 1}")
  if not continuous and trained_num_scales is not None and n != trained_num_scales:
    raise ValueError(
        f"config.model.num_scales={n}, but the checkpoint's discrete network was trained on "
        f"{trained_num_scales} noise levels (its labels index them); use "
        f"num_scales={trained_num_scales}")


def _convert(config, ckpt, ema, config_name=None, layout=None):
  """Our {'params': ...} from an open `_Checkpoint`, every tensor accounted for."""
  name = config.model.name
  if (ckpt.format, name) in UNSUPPORTED:
    raise NotImplementedError(
        f"config.model.name={name!r} cannot be imported from a {ckpt.format} checkpoint: "
        f"{UNSUPPORTED[(ckpt.format, name)]}")
  layout = get_layout(config) if layout is None else layout
  where = f"{_describe(config, config_name)}, checkpoint {ckpt.path}"
  note = ''
  if ckpt.format == 'score_sde':
    check_time_labels(config)
    source = {'/'.join(k): v for k, v in ckpt.weights[bool(ema)].items()}
    keyed = [(e, '/'.join(e[2]), e[3]) for e in layout.entries]
    expected = layout.flax_shapes()
    want = {'/'.join(k): s for k, s in expected.items()}
  else:
    source, note = _torch_source(config, ckpt, layout, ema, where)
    keyed = [(e, e[4], e[3]) for e in layout.entries]
    want = layout.torch_shapes()
  shape_errors, missing, used, out = [], [], set(), {}
  for entry, key, kind in keyed:
    path, shape = entry[0], entry[1]
    if key not in source:
      missing.append(f"parameter {'/'.join(path)} {shape} (checkpoint tensor {key!r})")
      continue
    used.add(key)
    value = np.asarray(source[key])
    if tuple(value.shape) != tuple(want[key]) or not np.issubdtype(value.dtype, np.floating):
      shape_errors.append(f"parameter {'/'.join(path)}: checkpoint tensor {key!r} has shape "
                          f"{tuple(value.shape)} ({value.dtype}), the network needs "
                          f"{tuple(want[key])} (float)")
      continue
    if ckpt.format == 'score_sde_pytorch':
      value = _FROM_TORCH[kind](value)
    out[path] = np.ascontiguousarray(value.reshape(shape), dtype=np.float32)
  unused = [f"checkpoint tensor {key!r} {tuple(np.shape(source[key]))} has no place in the network"
            for key in sorted(set(source) - used)]
  if shape_errors or missing or unused:
    parts = [f"{len(found)} {what}: " + '; '.join(found[:3]) + ('; ...' if len(found) > 3 else '')
             for what, found in (('shape mismatches', shape_errors),
                                 ('parameters the checkpoint lacks', missing),
                                 ('unused checkpoint tensors', unused)) if found]
    raise CheckpointMismatch(
        f"the checkpoint does not fit the network of the config ({where}): " + note
        + ' | '.join(parts))
  return {'params': _unflatten({k: jnp.asarray(v) for k, v in out.items()})}


def _torch_source(config, ckpt, layout, ema, where):
  """{key: array} of the parameters of a torch checkpoint, for `ema` or the raw weights."""
  model = dict(ckpt.model)
  check_time_labels(config, len(model['sigmas']) if 'sigmas' in model else None)
  for buffer in _TORCH_BUFFERS:
    if buffer in model:
      _check_sigmas(config, model.pop(buffer), where)
  # Top-level modules: the i-th one of the file (by all_modules index) is our i-th one.
  found = sorted({int(k.split('.')[1]) for k in model if k.startswith('all_modules.')})
  note = ''
  if len(found) != len(layout.top_order):
    note = (f"the checkpoint's network has {len(found)} top-level modules with parameters, the "
            f"config's has {len(layout.top_order)} | ")
  renumber = {str(i): str(j) for j, i in enumerate(found)}

  def ours(key):
    parts = key.split('.')
    if parts[0] == 'all_modules' and len(parts) > 2:
      parts[1] = renumber[parts[1]]
    return '.'.join(parts)

  model = {ours(k): v for k, v in model.items()}
  frozen = [k for k in model if k in layout.fourier_keys]
  trainable = [k for k in model if k not in layout.fourier_keys]
  if len(ckpt.shadow) != len(trainable):
    raise CheckpointMismatch(
        f"ema.shadow_params has {len(ckpt.shadow)} tensors, but the state dict has "
        f"{len(trainable)} trainable parameters ({where})")
  for key, value in zip(trainable, ckpt.shadow):
    if value.shape != model[key].shape:
      raise CheckpointMismatch(
          f"ema.shadow_params does not follow the state dict's order: the entry for {key!r} has "
          f"shape {value.shape}, the parameter {model[key].shape} ({where})")
  if not ema:
    return model, note
  source = dict(zip(trainable, ckpt.shadow))
  source.update({k: model[k] for k in frozen})   # never trained: its EMA is itself
  return source, note


def _check_sigmas(config, sigmas, where):
  """The torch `sigmas` buffer against the config, where the network divides by it."""
  m = config.model
  uses = bool(m.get('scale_by_sigma', False)) and (
      m.name == 'ddpm' or m.get('embedding_type', 'fourier') == 'positional')
  if not uses:
    return
  ours = config_utils.get_sigmas(config)
  if sigmas.shape != ours.shape or not np.allclose(sigmas, ours, rtol=1e-6, atol=0):
    raise CheckpointMismatch(
        f"the checkpoint's noise table module.sigmas (shape {sigmas.shape}, from "
        f"{float(sigmas[0]):.6g} to {float(sigmas[-1]):.6g}) differs from the config's "
        f"(shape {ours.shape}, model.sigma_max={m.sigma_max} to model.sigma_min={m.sigma_min}) "
        f"({where})")


def _as_config(config):
  """(ConfigDict, name) from a ConfigDict or the path of a config file."""
  if isinstance(config, (str, os.PathLike)):
    import importlib.util
    path = os.fspath(config)
    spec = importlib.util.spec_from_file_location('_pretrained_config', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(), path
  return config, None


def load(config, path, ema=True, config_name=None):
  """The variables {'params': ...} of `models.get_model(config)` from a release checkpoint.

  Args:
    config: the config the network was trained with (a ConfigDict, or the
      path of a config file).
    path: a score_sde `checkpoint_<k>` or a score_sde_pytorch `checkpoint_<k>.pth`.
    ema: the EMA weights (what the authors evaluate) when True, else the raw ones.
    config_name: how to name the config in errors (default: its file, or its model fields).
  """
  config, name = _as_config(config)
  return _convert(config, _Checkpoint(path), ema, config_name or name)


def convert(config, checkpoint, workdir, raw=False, config_name=None):
  """Writes the checkpoint as a snapshot of our format to `workdir`/checkpoints; returns its step.

  params are the raw weights, ema_params the EMA ones (the raw ones again with
  `raw`); eval and sample read ema_params, training continues from both with
  fresh Adam moments. The step is the original's, so the snapshot keeps the
  original's number k = step / training.snapshot_freq. The config is recorded as
  WORKDIR/config.json, so eval and sample refuse a config the network does not belong to
  (another `model.num_scales`, hence other time labels, included).
  """
  # Writing a run's checkpoint is the experiment layer's (above models): imported here only.
  from experiment import checkpoints as ckpt_lib, run_config, state as state_lib
  config, name = _as_config(config)
  config_name = config_name or name
  ckpt = _Checkpoint(checkpoint)
  layout = get_layout(config)
  params = _convert(config, ckpt, False, config_name, layout)
  ema_params = params if raw else _convert(config, ckpt, True, config_name, layout)
  optimizer = state_lib.get_optimizer(config)
  state = state_lib.TrainState(step=jnp.asarray(ckpt.step, jnp.int32), params=params,
                               ema_params=ema_params, opt_state=optimizer.init(params))
  with ckpt_lib.Checkpoints(workdir, async_save=False) as ckpts:
    if ckpts.latest() is not None:
      raise FileExistsError(f"workdir={workdir!r} already holds checkpoints {ckpts.latest()}; "
                            "convert into an empty workdir")
    ckpts.save('snapshot', state)
    ckpts.wait()
  run_config.record(config, workdir)   # later commands on the workdir are checked against it
  return ckpt.step


def _main():
  from absl import app, flags
  from ml_collections import config_flags
  config_flags.DEFINE_config_file('config', None, 'Config the network was trained with.',
                                  lock_config=True)
  flags.DEFINE_string('checkpoint', None, 'score_sde checkpoint_<k> or score_sde_pytorch '
                      'checkpoint_<k>.pth file.')
  flags.DEFINE_string('workdir', None, 'Workdir to write the snapshot to (WORKDIR/checkpoints).')
  flags.DEFINE_bool('raw', False, 'Evaluate the raw weights instead of the EMA ones.')
  flags.mark_flags_as_required(['config', 'checkpoint', 'workdir'])
  FLAGS = flags.FLAGS

  def main(argv):
    del argv
    from absl import logging
    from utils import xla_flags
    xla_flags.configure()
    logging.set_verbosity(logging.WARNING)   # orbax is chatty at INFO
    step = convert(FLAGS.config, FLAGS.checkpoint, FLAGS.workdir, raw=FLAGS.raw,
                   config_name=config_flags.get_config_filename(FLAGS['config']))
    print(f"wrote {os.path.join(os.path.abspath(FLAGS.workdir), 'checkpoints', str(step))} "
          f"(step {step}, {'raw' if FLAGS.raw else 'EMA'} weights for eval/sample)")

  app.run(main)


if __name__ == '__main__':
  _main()
