"""A vector field's value and its divergence, from one linearisation.

The log-likelihood ODE needs, at every evaluation, both the drift f(x) of the
probability-flow ODE and div f(x) = tr(df/dx). Computing them separately would
run the score network twice; here one `jax.jvp` (Hutchinson) or one
`jax.linearize` (exact) gives the value as its primal output and the
divergence from the same linearisation.

Forward mode, not reverse: the Hutchinson estimate probe^T J probe is one
scalar, the same whether read from J probe (a JVP) or from probe^T J (a VJP,
as the original code did), but the JVP stores no activations and, inside
the solver's while loop on XLA:CPU, runs about 8x faster than the VJP
(whose transposed convolutions lose the fast convolution path there;
benchmarks/likelihood.py measures it).

All functions act on a batch `x` of shape `(batch, ...)` whose examples are
independent (f maps example b to example b only). So the JVP of the whole
batch along a batch of probes returns each example's own Jacobian-probe
product, and one basis vector per feature, repeated over the batch, gives
one Jacobian column of every example at once. Divergences have shape
`(batch,)` in the dtype of `x`.
"""
import jax
import jax.numpy as jnp
import numpy as np

from utils import checks, config_checks

ESTIMATORS = config_checks.LIKELIHOOD_ESTIMATORS


def _per_example_sum(v):
  return jnp.sum(v.reshape(v.shape[0], -1), axis=1)


def hutchinson_divergence(fn, x, probe):
  """f(x) and the Hutchinson estimate probe^T (df/dx) probe, per example.

  Args:
    fn: `fn(x) -> array shaped like x`, examples independent.
    x: `(batch, ...)`.
    probe: array shaped like x with E[probe probe^T] = I per example
      (Rademacher or standard normal); the estimate is then unbiased.
  Returns:
    `(fn(x), estimate of shape (batch,))`, from one forward-mode pass (`jax.jvp`).
  """
  value, jac_probe = jax.jvp(fn, (x,), (probe.astype(x.dtype),))
  return value, _per_example_sum(jac_probe * probe)


def exact_divergence(fn, x, chunk_size=256):
  """f(x) and the exact trace of df/dx, per example.

  One `jax.linearize` evaluates f once; the Jacobian diagonal is then read
  from D Jacobian-vector products of the linearised map (D = features per
  example), run `chunk_size` basis vectors at a time (vmapped) so memory
  stays at chunk_size * batch * D numbers. Cost grows linearly in D: meant
  for low-dimensional data and for testing the Hutchinson estimators.

  Args:
    fn: `fn(x) -> array shaped like x`, examples independent.
    x: `(batch, ...)`.
    chunk_size: how many basis vectors are pushed through the linearised map
      together.
  Returns:
    `(fn(x), divergence of shape (batch,))`.
  """
  checks.require_positive_int('chunk_size', chunk_size)
  value, jvp_fn = jax.linearize(fn, x)
  batch = x.shape[0]
  dim = int(np.prod(x.shape[1:]))

  def diagonal_entry(i):
    # The i-th basis vector in every example: column i of each example's
    # Jacobian, of which we keep entry i.
    basis = jax.nn.one_hot(i, dim, dtype=x.dtype)
    column = jvp_fn(jnp.broadcast_to(basis, (batch, dim)).reshape(x.shape))
    return column.reshape(batch, dim)[:, i]

  indices = jnp.arange(dim)
  if dim <= chunk_size:
    diagonal = jax.vmap(diagonal_entry)(indices)
  else:
    diagonal = jax.lax.map(diagonal_entry, indices, batch_size=chunk_size)
  return value, jnp.sum(diagonal, axis=0)


def draw_probe(rng, estimator, shape, dtype):
  """Hutchinson probe for `estimator` ('rademacher' or 'gaussian'), shaped `shape`."""
  if estimator == 'rademacher':
    return jax.random.rademacher(rng, shape, dtype=dtype)
  if estimator == 'gaussian':
    return jax.random.normal(rng, shape, dtype=dtype)
  raise ValueError(
      f"estimator={estimator!r} has no probe; allowed: 'rademacher', 'gaussian'")


def value_and_divergence(fn, x, estimator, probe=None, chunk_size=256):
  """f(x) and its divergence by `estimator` (one of ESTIMATORS).

  `probe` is required for the Hutchinson estimators and must be None for
  'exact'.
  """
  if estimator == 'exact':
    if probe is not None:
      raise ValueError("estimator='exact' takes no probe; pass probe=None")
    return exact_divergence(fn, x, chunk_size)
  if estimator in ('rademacher', 'gaussian'):
    if probe is None:
      raise ValueError(f"estimator={estimator!r} needs a probe shaped like x")
    if probe.shape != x.shape:
      raise ValueError(f"probe has shape {probe.shape}, but x has shape {x.shape}")
    return hutchinson_divergence(fn, x, probe)
  raise ValueError(f"estimator={estimator!r} is unknown; allowed: {', '.join(ESTIMATORS)}")
