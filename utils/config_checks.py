"""Checks a config at start-up: choices against their allowed values, numbers against their ranges.

Field types are already enforced by ml_collections (an override of the wrong
type fails); this catches values of the right type that mean nothing, with a
message naming the field, the value and what is allowed.
"""
import sde_lib

CHOICES = {
    'training.sde': sde_lib.SDE_NAMES,
    'optim.optimizer': ('Adam',),
}
POSITIVE_INTS = ('training.batch_size', 'training.n_iters', 'training.n_jitted_steps',
                 'training.log_freq', 'training.snapshot_freq',
                 'training.snapshot_freq_for_preemption', 'model.num_scales',
                 'eval.batch_size', 'eval.num_samples', 'eval.bpd_num_repeats',
                 'training.eval_freq', 'model.nf', 'model.num_res_blocks', 'model.num_layers',
                 'sampling.n_steps_each', 'data.image_size', 'data.num_channels', 'data.dim',
                 'data.num_test', 'classifier.blocks_per_group',
                 'classifier.channel_multiplier', 'classifier.embedding_size',
                 'classifier.num_classes', 'classifier.n_iters', 'classifier.batch_size',
                 'classifier.snapshot_freq', 'controllable.num_samples')
# Real-valued fields: 'INTERVAL[ or INTERVAL][: note]', read by the check and by its message.
# Time runs in [eps, T] with T = 1 for every SDE here.
RANGES = {
    'optim.lr': '(0, inf)',
    'classifier.lr': '(0, inf)',
    'classifier.ema_rate': '[0, 1]',
    'controllable.scale': '[0, inf): 1 is the paper\'s guidance, 0 none',
    'optim.beta1': '[0, 1)',
    'optim.eps': '(0, inf)',
    'optim.weight_decay': '[0, inf)',
    'optim.warmup': '[0, inf)',
    'optim.grad_clip': '(0, inf) or (-inf, 0): a negative value disables clipping',
    'model.ema_rate': '[0, 1]',
    'model.dropout': '[0, 1)',
    'model.sigma_min': '(0, inf)',
    'model.sigma_max': '(0, inf)',
    'model.beta_min': '[0, inf)',
    'model.beta_max': '(0, inf)',
    'model.fourier_scale': '(0, inf)',
    'model.init_scale': '[0, inf)',
    'sampling.snr': '(0, inf)',
    'sampling.eps': '(0, 1): t runs in [eps, T], T = 1',
    'sampling.rtol': '(0, inf)',
    'sampling.atol': '(0, inf)',
    'eval.rtol': '(0, inf)',
    'eval.atol': '(0, inf)',
    'eval.begin_ckpt': '[0, inf)',
    'eval.end_ckpt': '[0, inf)',
    'seed': '[0, inf)',
}
# Sequences of positive integers (channel multipliers, resolutions, FIR taps).
POSITIVE_INT_SEQUENCES = ('model.ch_mult', 'model.attn_resolutions')
# (smaller, larger): the first must be below (or equal to, when the flag says so) the second.
ORDERED = (('model.sigma_min', 'model.sigma_max', False),
           ('model.beta_min', 'model.beta_max', True),
           ('eval.begin_ckpt', 'eval.end_ckpt', True))
BOOLS = ('training.continuous', 'training.reduce_mean', 'training.likelihood_weighting',
         'training.snapshot_sampling', 'training.eval_at_end', 'sampling.noise_removal',
         'sampling.probability_flow', 'controllable.baseline')


class ConfigError(ValueError):
  pass


def _get(config, path):
  node = config
  for part in path.split('.'):
    if part not in node:
      return _MISSING
    node = node[part]
  return node


_MISSING = object()


def _parse_interval(text):
  lo, hi = (float(v) for v in text[1:-1].split(','))
  return lo, hi, text[0] == '[', text[-1] == ']'


def _in_range(value, spec):
  intervals = spec.split(':')[0].split(' or ')
  for lo, hi, lo_closed, hi_closed in map(_parse_interval, intervals):
    if ((lo < value or (lo_closed and lo == value))
        and (value < hi or (hi_closed and value == hi))):
      return True
  return False   # NaN lands here: every comparison is False


def _check_ranges(config):
  for path, spec in RANGES.items():
    value = _get(config, path)
    if value is _MISSING or value is None:
      continue
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      raise ConfigError(f"config.{path}={value!r} must be a number in {spec}")
    if not _in_range(value, spec):
      raise ConfigError(f"config.{path}={value!r} is out of range; allowed: {spec}")
  for path in POSITIVE_INT_SEQUENCES:
    value = _get(config, path)
    if value is _MISSING:
      continue
    if not isinstance(value, (tuple, list)) or any(
        isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value):
      raise ConfigError(f"config.{path}={value!r} must be a sequence of positive integers")
  for small, large, equal_ok in ORDERED:
    a, b = _get(config, small), _get(config, large)
    if a is _MISSING or b is _MISSING:
      continue
    if a > b or (a == b and not equal_ok):
      raise ConfigError(f"config.{small}={a!r} must be {'at most' if equal_ok else 'below'} "
                        f"config.{large}={b!r}")


def _check_controllable(config):
  """The mask and label specs of `config.controllable` (their grammar lives in utils.masks)."""
  from utils import masks
  mask, labels = _get(config, 'controllable.mask'), _get(config, 'controllable.labels')
  classes = _get(config, 'classifier.num_classes')
  try:
    if mask is not _MISSING:
      masks.check_mask_spec(mask)
    if labels is not _MISSING and classes is not _MISSING:
      masks.parse_labels(labels, 1, classes)
  except ValueError as err:
    raise ConfigError(str(err)) from None


def validate(config):
  """Raises ConfigError naming the first bad field."""
  import models
  import samplers
  choices = dict(CHOICES)
  choices['model.name'] = models.model_names()
  choices['sampling.predictor'] = tuple(samplers.PREDICTORS)
  choices['sampling.corrector'] = tuple(samplers.CORRECTORS)
  choices['sampling.ode_solver'] = tuple(samplers.SOLVERS)
  choices['sampling.method'] = samplers.METHODS
  choices['sampling.order'] = samplers.DPM_ORDERS
  choices['sampling.dpm_method'] = samplers.DPM_METHODS
  choices['sampling.dpm_predict'] = samplers.PREDICTIONS
  choices['sampling.schedule'] = samplers.SCHEDULES
  import data
  from data import toy
  choices['data.dataset'] = tuple(toy.TOY_DATASETS) + tuple(data.IMAGE_DATASETS)
  from models import classifier
  choices['classifier.name'] = classifier.CLASSIFIER_NAMES
  for path, allowed in choices.items():
    value = _get(config, path)
    if value is not _MISSING and value not in allowed:
      raise ConfigError(f"config.{path}={value!r} is not allowed; allowed: {', '.join(map(str, allowed))}")
  for path in POSITIVE_INTS:
    value = _get(config, path)
    if value is _MISSING:
      continue
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
      raise ConfigError(f"config.{path}={value!r} must be a positive integer")
  for path in BOOLS:
    value = _get(config, path)
    if value is not _MISSING and not isinstance(value, bool):
      raise ConfigError(f"config.{path}={value!r} must be True or False")
  _check_ranges(config)
  _check_controllable(config)
  if not config.training.continuous and config.training.sde == 'subvpsde':
    raise ConfigError("config.training.continuous=False is not defined for "
                      "config.training.sde='subvpsde'; allowed: vpsde (DDPM), vesde (SMLD)")
