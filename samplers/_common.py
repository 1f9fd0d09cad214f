"""Argument checks and small helpers shared by the PC and ODE samplers."""
import numbers

import jax
import jax.numpy as jnp

from utils import checks, config_checks


def lookup(argument, name, table):
  """`table[name]` (case-insensitive), or a ValueError naming the argument and the allowed names."""
  key = str(name).lower()
  if key not in table:
    raise ValueError(config_checks.not_allowed(argument, name, tuple(table), f'is not a {argument}'))
  return table[key]


def check_shape(shape):
  """`shape` as a tuple of positive ints (batch first), or a ValueError saying why not."""
  return checks.require_int_sequence('shape', shape, ', batch first, e.g. (64, 32, 32, 3)')


def check_eps(eps, sde):
  """`eps` as a float in (0, T), the last time the samplers reach."""
  if not isinstance(eps, numbers.Real) or not 0. < float(eps) < sde.T:
    raise ValueError(f"eps={eps!r} must be a number in (0, T) = (0, {sde.T})")
  return float(eps)


def check_positive(name, value):
  return checks.require_real(name, value, 0, low_open=True)


def check_bool(name, value):
  return checks.require_bool(name, value)


def sample_dtype(params, dtype=None):
  """The dtype samples are drawn in: `dtype` if given, else that of the floating leaves of `params`.

  A float64 oracle samples in float64, a float32 network in float32; no
  floating leaf at all means float32.
  """
  if dtype is not None:
    return jnp.dtype(dtype)
  leaves = [leaf for leaf in jax.tree_util.tree_leaves(params)
            if jnp.issubdtype(jnp.result_type(leaf), jnp.floating)]
  if not leaves:
    return jnp.dtype(jnp.float32)
  return jnp.dtype(jnp.result_type(*leaves))


def register(table, name):
  """Class decorator putting the class in `table` under `name` (the original's registries)."""
  def add(cls):
    table[name] = cls
    return cls
  return add


class Skip:
  """Mixin of the 'none' predictor and corrector: no score evaluation, x unchanged (x_mean = x).

  Listed before the base class, so that its `nfe` and `update_fn` win.
  """
  nfe = 0

  def update_fn(self, rng, x, t):
    del rng, t
    return x, x


def bind_score(score_fn, params):
  """`score(x, t)` with `params` bound; its output is checked to be shaped like x, in x's dtype.

  Shapes are static, so a mismatch (params built for another data shape)
  raises here, at trace time, naming both shapes.
  """
  def score(x, t):
    try:
      out = score_fn(params, x, t)
    except (TypeError, ValueError) as err:
      raise ValueError(
          f"score_fn(params, x, t) failed for x of shape {x.shape}: {err} (do the params and "
          "the sampler's `shape` describe the same data?)") from err
    if jnp.shape(out) != x.shape:
      raise ValueError(
          f"score_fn returned shape {jnp.shape(out)} for x of shape {x.shape}; the score "
          "must be shaped like x (do the params and the sampler's `shape` describe the same data?)")
    return out.astype(x.dtype)
  return score
