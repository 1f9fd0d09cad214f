"""Reading a score network's options from `config.model`, shared by DDPM and NCSN/NCSNv2.

* `choice` / `compute_dtype`: checked reads of string options, failing with a
  message that names the field, the value and the allowed values.
* `get_sigmas` / `label_sigmas`: the SMLD noise levels and how a network's
  noise label maps onto them. The table runs from sigma_max down to
  sigma_min (index 0 is the largest noise), matching the discrete VE label
  round((T - t)(N - 1)) of `models.scoring.noise_labels`.
"""
import jax.numpy as jnp
import numpy as np

import sde_lib
from utils import config_checks

DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}
config_checks.check_registered('model dtypes', DTYPES, config_checks.MODEL_DTYPES)


def choice(config, field: str, allowed, default=None):
  """config.model.<field> checked against `allowed`; `default` when the field is absent."""
  model = config.model
  if field not in model:
    if default is None:
      raise ValueError(f"config.model.{field} is missing; allowed: {', '.join(map(str, allowed))}")
    return default
  value = model[field]
  if value not in allowed:
    raise ValueError(config_checks.not_allowed(f'config.model.{field}', value, allowed))
  return value


def compute_dtype(config):
  """The compute dtype named by config.model.dtype ('float32' default); params stay float32."""
  return DTYPES[choice(config, 'dtype', config_checks.MODEL_DTYPES, default='float32')]


def get_sigmas(config) -> np.ndarray:
  """SMLD noise levels sigma_max ... sigma_min, `model.num_scales` of them (float64).

  The VE SDE's own table (`sde_lib.VESDE.discrete_sigmas`, built from the
  same `model.sigma_min`, `model.sigma_max`, `model.num_scales`), largest
  first: the index is the discrete VE label. Networks that divide by sigma
  read it here whatever `training.sde` is, so this never builds its own.
  """
  m = config.model
  if not 0 < m.sigma_min < m.sigma_max:
    raise ValueError(
        f"need 0 < config.model.sigma_min < config.model.sigma_max, got "
        f"sigma_min={m.sigma_min}, sigma_max={m.sigma_max}")
  if int(m.num_scales) < 2:
    raise ValueError(f"config.model.num_scales={m.num_scales} must be at least 2")
  return sde_lib.VESDE(float(m.sigma_min), float(m.sigma_max), int(m.num_scales)).discrete_sigmas[::-1].copy()


def label_index(labels, sigmas: np.ndarray):
  """The index into `sigmas` that a noise label stands for, int32 of shape (batch,).

  Integer labels are that index already (discrete VE convention). Floating
  labels are a noise level sigma (continuous VE convention) and map to the
  nearest table entry in log-space, which class-conditional layers need.
  """
  labels = jnp.asarray(labels)
  if jnp.issubdtype(labels.dtype, jnp.integer):
    return labels.astype(jnp.int32)
  log_max, log_min = float(np.log(sigmas[0])), float(np.log(sigmas[-1]))
  position = (log_max - jnp.log(labels.astype(jnp.float32))) / (log_max - log_min)
  index = jnp.round(position * (len(sigmas) - 1))
  return jnp.clip(index, 0, len(sigmas) - 1).astype(jnp.int32)


def label_sigmas(labels, sigmas: np.ndarray):
  """The noise level sigma a label stands for, float32 of shape (batch,).

  Integer labels index `sigmas` (discrete VE: round((T - t)(N - 1)));
  floating labels are sigma itself (continuous VE: sigma(t)).
  """
  labels = jnp.asarray(labels)
  if jnp.issubdtype(labels.dtype, jnp.integer):
    return jnp.asarray(sigmas, jnp.float32)[labels]
  return labels.astype(jnp.float32)
