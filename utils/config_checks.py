"""Checks a config at start-up: every choice field against its allowed values, counts positive.

Field types are already enforced by ml_collections (an override of the wrong
type fails); this catches values of the right type that mean nothing, with a
message naming the field, the value and what is allowed.
"""
import sde_lib

CHOICES = {
    'training.sde': sde_lib.SDE_NAMES,
    'sampling.method': ('pc', 'ode'),
    'optim.optimizer': ('Adam',),
}
POSITIVE_INTS = ('training.batch_size', 'training.n_iters', 'training.n_jitted_steps',
                 'training.log_freq', 'training.snapshot_freq',
                 'training.snapshot_freq_for_preemption', 'model.num_scales',
                 'eval.batch_size', 'eval.num_samples')
BOOLS = ('training.continuous', 'training.reduce_mean', 'training.likelihood_weighting',
         'training.snapshot_sampling', 'training.eval_at_end', 'sampling.noise_removal',
         'sampling.probability_flow')


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


def validate(config):
  """Raises ConfigError naming the first bad field."""
  import models
  import samplers
  choices = dict(CHOICES)
  choices['model.name'] = models.model_names()
  choices['sampling.predictor'] = tuple(samplers.PREDICTORS)
  choices['sampling.corrector'] = tuple(samplers.CORRECTORS)
  choices['sampling.ode_solver'] = tuple(samplers.SOLVERS)
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
  if not config.training.continuous and config.training.sde == 'subvpsde':
    raise ConfigError("config.training.continuous=False is not defined for "
                      "config.training.sde='subvpsde'; allowed: vpsde (DDPM), vesde (SMLD)")
