"""Uniform dequantisation of discrete data and bits per dimension.

The project's data convention: an example with integer levels k in
{0, ..., L-1}^D is dequantised as v = (k + u) / L, u ~ U[0, 1)^D, so v lies in
[0, 1)^D, and the model sees x = 2 v - 1 when `centered`, else x = v.

A model density p(x) in model space gives the dequantised density
p_v(v) = p(x) |dx/dv| = p(x) 2^(D centered), and the bin of k has width 1/L
in v per dimension, so -log2 of the discrete probability of k is bounded by
(Jensen; Theis et al. 2016; Ho et al. 2019)

  E_u[-log2 (p_v(v) / L^D)] = E_u[-log2 p(x)] + D log2 L - D [centered].

Per dimension, that is bits_per_dim = -logp / (D ln 2) + log2(L) - [centered].
For L = 256 it is the original score_sde's offset: 8 for data in [0, 1],
7 for data in [-1, 1].
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from utils import checks, scaling


def _check_num_levels(num_levels):
  return checks.require_int('num_levels', num_levels, 2)


def _check_event_shape(event_shape):
  if checks.is_int(event_shape):
    event_shape = (event_shape,)
  return checks.require_int_sequence('event_shape', event_shape,
                                     ' (the shape of one example, x.shape[1:])')


def bpd_offset(num_levels=256, centered=False):
  """log2(L) - [centered]: the bits/dim a model density of 1 (in x) would score."""
  return float(np.log2(_check_num_levels(num_levels))) - (1. if centered else 0.)


def bits_per_dim(logp, event_shape, num_levels=256, centered=False):
  """Bits per dimension of discrete data from model-space log-densities.

  Args:
    logp: log p(x) in nats of dequantised examples in model space, any shape
      (typically (batch,)), e.g. from `get_likelihood_fn`.
    event_shape: the shape of one example, x.shape[1:]; D is its size.
    num_levels: L, the number of discrete levels per dimension (256 for 8-bit
      images, 17 for scikit-learn's digits).
    centered: whether the model sees x = 2 v - 1 in [-1, 1) (True) or
      x = v in [0, 1) (False), v = (k + u) / L the dequantised data.

  Returns:
    -logp / (D ln 2) + log2(L) - (1 if centered else 0), shaped like logp in
    its floating dtype. Averaged over the dequantisation noise it upper-bounds
    the discrete negative log-likelihood in bits/dim.

  Concrete non-finite logp raises ValueError (a traced one cannot be checked).
  """
  shape = _check_event_shape(event_shape)
  offset = bpd_offset(num_levels, centered)
  logp = jnp.asarray(logp) if not isinstance(logp, jax.core.Tracer) else logp
  if not jnp.issubdtype(logp.dtype, jnp.floating):
    logp = logp.astype(jnp.float32)
  if not isinstance(logp, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(logp))):
    bad = int(jnp.sum(~jnp.isfinite(logp)))
    raise ValueError(f"logp must be finite, got {bad} NaN/inf entries")
  dim = int(np.prod(shape))
  # Python floats are weakly typed, so float32 logp stays float32.
  return -logp / float(dim * np.log(2.)) + offset


def dequantize(rng, levels, num_levels=256, centered=False, dtype=jnp.float32):
  """Model-space data from integer levels k in {0, ..., L-1}: v = (k + u) / L, x = 2v - 1 or v.

  Concrete `levels` outside {0, ..., num_levels - 1} raise ValueError.
  """
  num_levels = _check_num_levels(num_levels)
  levels = jnp.asarray(levels) if not isinstance(levels, jax.core.Tracer) else levels
  if not jnp.issubdtype(levels.dtype, jnp.integer):
    raise ValueError(f"levels must be an integer array, got dtype {levels.dtype}")
  if not isinstance(levels, jax.core.Tracer):
    lo, hi = int(jnp.min(levels)), int(jnp.max(levels))
    if lo < 0 or hi >= num_levels:
      raise ValueError(
          f"levels must lie in {{0, ..., {num_levels - 1}}} for num_levels={num_levels}, "
          f"got values in [{lo}, {hi}]")
  dtype = jnp.dtype(dtype)
  # Levels and centring are traced, so one compilation serves every L.
  return _dequantize(rng, levels, jnp.asarray(num_levels, dtype), jnp.asarray(bool(centered)),
                     dtype)


@functools.partial(jax.jit, static_argnums=(4,))
def _dequantize(rng, levels, num_levels, centered, dtype):
  u = jax.random.uniform(rng, levels.shape, dtype)
  k = levels.astype(dtype)
  # In low precision k + u can round up to k + 1; keep v inside its own bin
  # [k/L, (k+1)/L), so v < 1 and the level is recoverable as floor(v L).
  upper = jnp.nextafter((k + 1.) / num_levels, jnp.zeros((), dtype))
  v = jnp.minimum((k + u) / num_levels, upper)
  return jnp.where(centered, scaling.to_model_space(v, True), v)
