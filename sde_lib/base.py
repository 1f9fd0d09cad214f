"""Abstract SDE and its time reversal.

Everything here is written for a batch: `x` has shape `(batch, ...)` and `t`
has shape `(batch,)`. Per-example coefficients (diffusion, std) have shape
`(batch,)` and are broadcast against `x` with `batch_mul`. Functions keep the
dtype of `x`, so float64 inputs give float64 outputs.
"""
from __future__ import annotations

import abc

import jax.numpy as jnp

from utils import checks


def batch_mul(v, x):
  """Multiplies each example of `x` by the per-example scalar `v[i]`."""
  v = jnp.asarray(v)
  return v.reshape(v.shape + (1,) * (x.ndim - v.ndim)) * x


def _as_time(t, x):
  """`t` as an array of shape `(batch,)` in the dtype of `x`."""
  t = jnp.asarray(t, dtype=x.dtype)
  return jnp.broadcast_to(t, x.shape[:1])


class SDE(abc.ABC):
  """dx = f(x, t) dt + g(t) dw on t in [0, T], discretised into N steps."""

  def __init__(self, N: int):
    self.N = checks.require_positive_int('N', N)

  @property
  def T(self) -> float:
    return 1.

  @abc.abstractmethod
  def sde(self, x, t):
    """Returns (drift shaped like x, diffusion of shape (batch,))."""

  @abc.abstractmethod
  def marginal_prob(self, x, t):
    """Parameters of p_t(x(t) | x(0) = x): (mean shaped like x, std (batch,))."""

  @abc.abstractmethod
  def prior_sampling(self, rng, shape, dtype=jnp.float32):
    """Samples from the prior p_T."""

  @abc.abstractmethod
  def prior_logp(self, z):
    """Log-density of the prior, summed over all but the batch axis: (batch,)."""

  def discrete_index(self, t):
    """The integer step i in [0, N-1] that continuous time t falls into.

    This is the single place where continuous time becomes a discrete step
    (used by the discretisations, the ancestral sampler and the discrete-time
    scoring convention). It floors, as the original code does, after adding
    1e-3 of a step so that t = i / (N - 1), which float rounding may put just
    below i, maps to i.
    """
    return jnp.floor(jnp.asarray(t) * (self.N - 1) / self.T + 1e-3).astype(jnp.int32)

  def discretize(self, x, t):
    """One step of the discretised SDE: x_{i+1} = x_i + f_i + G_i z_i.

    Default is Euler-Maruyama with dt = T / N; subclasses override with the
    discretisation their discrete model uses (DDPM for VP, SMLD for VE).
    """
    t = _as_time(t, x)
    dt = self.T / self.N
    drift, diffusion = self.sde(x, t)
    return drift * dt, diffusion * jnp.sqrt(jnp.asarray(dt, x.dtype))

  def langevin_step_size_scale(self, t):
    """The factor alpha_i of Song & Ermon's annealed Langevin step size.

    The corrector's step is 2 * alpha_i * (snr * |z| / |score|)^2. For the
    DDPM-type SDEs (VP, sub-VP) alpha_i = 1 - beta_i of the discrete chain;
    for VE it is 1. Every SDE answers, so correctors never need to know
    which SDE they are given.
    """
    return jnp.ones(jnp.shape(t), dtype=jnp.result_type(t, jnp.float32))

  @property
  def has_ancestral_step(self) -> bool:
    return False

  def ancestral_step(self, x, t, score):
    """Mean and std (batch,) of one ancestral-sampling step from t to t - 1/N.

    Only SDEs with a discrete Markov chain behind them (VP: DDPM, VE: SMLD)
    have one; `has_ancestral_step` says which.
    """
    raise NotImplementedError(
        f"{type(self).__name__} has no ancestral sampling step; ancestral "
        "sampling is defined for VPSDE and VESDE")

  def reverse(self, score_fn, probability_flow: bool = False) -> "ReverseSDE":
    """The reverse-time SDE (or probability-flow ODE) given a score.

    Args:
      score_fn: `score_fn(x, t) -> score shaped like x` (params already bound).
      probability_flow: if True, the deterministic probability-flow ODE.
    """
    return ReverseSDE(self, score_fn, probability_flow)


class ReverseSDE(SDE):
  """Reverse-time SDE dx = [f - g^2 score] dt + g dw-bar, run from T to 0.

  With `probability_flow=True` it is the ODE dx = [f - g^2 score / 2] dt with
  zero diffusion. Its `sde` and `discretize` give the drift of the reversed
  process in forward-time form, so a step from t to t - dt is
  `x - drift * dt + diffusion * sqrt(dt) * z`.
  """

  def __init__(self, forward: SDE, score_fn, probability_flow: bool = False):
    super().__init__(forward.N)
    self.forward = forward
    self.score_fn = score_fn
    self.probability_flow = bool(probability_flow)

  @property
  def T(self):
    return self.forward.T

  def _combine(self, x, t, drift, diffusion):
    score = self.score_fn(x, t)
    weight = 0.5 if self.probability_flow else 1.
    drift = drift - batch_mul(diffusion ** 2, score) * weight
    if self.probability_flow:
      diffusion = jnp.zeros_like(diffusion)
    return drift, diffusion

  def sde(self, x, t):
    t = _as_time(t, x)
    drift, diffusion = self.forward.sde(x, t)
    return self._combine(x, t, drift, diffusion)

  def discretize(self, x, t):
    t = _as_time(t, x)
    f, G = self.forward.discretize(x, t)
    return self._combine(x, t, f, G)

  def marginal_prob(self, x, t):
    raise NotImplementedError("the reverse SDE has no closed-form marginal")

  def prior_sampling(self, rng, shape, dtype=jnp.float32):
    return self.forward.prior_sampling(rng, shape, dtype)

  def prior_logp(self, z):
    return self.forward.prior_logp(z)
