"""The config schema: the allowed values of every config choice, and the start-up check.

This is the one home of each choice's allowed values (SDE, network, optimizer,
sampler, ODE solver, dataset, classifier, likelihood estimator, network
options, ...). The code that implements a choice reads its tuple from here
(and its registry is checked against it), and `validate` and every error
message list the same tuple. The module imports nothing of the project, so
everything may import it and it sits below what it validates.

Field types are already enforced by ml_collections (an override of the wrong
type fails); `validate` catches values of the right type that mean nothing,
with a message naming the field, the value and what is allowed.
"""
from utils import checks

# --- Allowed values of each choice (order: as error messages list them) ----------------------
SDE_NAMES = ('vpsde', 'subvpsde', 'vesde')
MODEL_NAMES = ('ddpm', 'mlp', 'ncsn', 'ncsnpp', 'ncsnv2_128', 'ncsnv2_256', 'ncsnv2_64')
OPTIMIZERS = ('Adam',)
LR_SCHEDULES = ('constant', 'cosine')
SAMPLING_METHODS = ('pc', 'ode', 'ddim', 'dpm_solver', 'edm_heun')
PREDICTORS = ('euler_maruyama', 'reverse_diffusion', 'ancestral_sampling', 'none')
CORRECTORS = ('langevin', 'ald', 'none')
# diffrax solvers by name ('rk45' is the original code's name for Dopri5); the first
# group has an embedded error estimate (adaptive steps), Euler does not.
ODE_SOLVERS = ('dopri5', 'rk45', 'tsit5', 'dopri8', 'bosh3', 'heun', 'euler')
DPM_ORDERS = (1, 2, 3)
DPM_METHODS = ('singlestep', 'multistep')
DPM_PREDICTIONS = ('data', 'noise')
NOISE_SCHEDULES = ('logsnr', 'time_uniform', 'time_quadratic')
TOY_DATASETS = ('gmm', 'checkerboard', 'moons')
IMAGE_DATASETS = ('DIGITS', 'DIGITS_RGB', 'CIFAR10', 'SVHN', 'CELEBA', 'LSUN', 'FFHQ', 'CelebAHQ')
DATASETS = TOY_DATASETS + IMAGE_DATASETS
DATA_SPLITS = ('train', 'test')
CLASSIFIER_NAMES = ('wideresnet',)
LIKELIHOOD_ESTIMATORS = ('rademacher', 'gaussian', 'exact')
# Network options (config.model).
ACTIVATIONS = ('elu', 'relu', 'lrelu', 'swish')
MODEL_DTYPES = ('float32', 'bfloat16')
EMBEDDING_TYPES = ('fourier', 'positional')
RESBLOCK_TYPES = ('biggan', 'ddpm')
PROGRESSIVE = ('none', 'output_skip', 'residual')
PROGRESSIVE_INPUT = ('none', 'input_skip', 'residual')
PROGRESSIVE_COMBINE = ('sum', 'cat')
NORMALIZATIONS = ('InstanceNorm', 'InstanceNorm++', 'VarianceNorm', 'GroupNorm')
CONDITIONAL_NORMALIZATIONS = ('InstanceNorm', 'InstanceNorm++', 'VarianceNorm')
DDPM_NORMALIZATIONS = ('GroupNorm',)
INTERPOLATIONS = ('bilinear', 'nearest_neighbor')

# config field -> its allowed values. Network options are checked here only where every
# network reading the field allows the same values (normalization depends on the network).
CHOICES = {
    'training.sde': SDE_NAMES,
    'model.name': MODEL_NAMES,
    'optim.optimizer': OPTIMIZERS,
    'optim.schedule': LR_SCHEDULES,
    'sampling.method': SAMPLING_METHODS,
    'sampling.predictor': PREDICTORS,
    'sampling.corrector': CORRECTORS,
    'sampling.ode_solver': ODE_SOLVERS,
    'sampling.order': DPM_ORDERS,
    'sampling.dpm_method': DPM_METHODS,
    'sampling.dpm_predict': DPM_PREDICTIONS,
    'sampling.schedule': NOISE_SCHEDULES,
    'data.dataset': DATASETS,
    'eval.bpd_dataset': DATA_SPLITS,
    'eval.likelihood_estimator': LIKELIHOOD_ESTIMATORS,
    'classifier.name': CLASSIFIER_NAMES,
    'model.nonlinearity': ACTIVATIONS,
    'model.dtype': MODEL_DTYPES,
    'model.embedding_type': EMBEDDING_TYPES,
    'model.resblock_type': RESBLOCK_TYPES,
    'model.progressive': PROGRESSIVE,
    'model.progressive_input': PROGRESSIVE_INPUT,
    'model.progressive_combine': PROGRESSIVE_COMBINE,
    'model.interpolation': INTERPOLATIONS,
}


def not_allowed(field, value, allowed, what='is not allowed'):
  """The one wording of a bad choice: `field=value <what>; allowed: a, b, c`."""
  return f"{field}={value!r} {what}; allowed: {', '.join(map(str, allowed))}"


def check_registered(kind, names, allowed):
  """Fails (at import of a registry) if `names` registers a choice the schema lacks."""
  extra = [n for n in names if n not in allowed]
  if extra:
    raise AssertionError(f"{kind} {extra} registered but not in utils/config_checks.py "
                         f"(allowed: {', '.join(map(str, allowed))})")


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
    if not checks.is_real(value):
      raise ConfigError(f"config.{path}={value!r} must be a number in {spec}")
    if not _in_range(value, spec):
      raise ConfigError(f"config.{path}={value!r} is out of range; allowed: {spec}")
  for path in POSITIVE_INT_SEQUENCES:
    value = _get(config, path)
    if value is _MISSING:
      continue
    if not isinstance(value, (tuple, list)) or not all(
        checks.is_int(v) and v >= 1 for v in value):
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
  for path, allowed in CHOICES.items():
    value = _get(config, path)
    # `True in (1, 2, 3)` holds in Python; a bool is never a choice here.
    if value is not _MISSING and (value not in allowed or checks.is_bool(value)):
      raise ConfigError(not_allowed(f'config.{path}', value, allowed))
  for paths, require in ((POSITIVE_INTS, checks.require_positive_int),
                         (BOOLS, checks.require_bool)):
    for path in paths:
      value = _get(config, path)
      if value is not _MISSING:
        try:
          require(f'config.{path}', value)
        except ValueError as err:
          raise ConfigError(str(err)) from None
  _check_ranges(config)
  _check_controllable(config)
  if not config.training.continuous and config.training.sde == 'subvpsde':
    raise ConfigError("config.training.continuous=False is not defined for "
                      "config.training.sde='subvpsde'; allowed: vpsde (DDPM), vesde (SMLD)")
