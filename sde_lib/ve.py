"""Variance-exploding SDE (the continuous limit of SMLD / NCSN)."""
import jax
import jax.numpy as jnp
import numpy as np

from sde_lib.base import SDE, _as_time, batch_mul
from sde_lib.vp import gaussian_prior_logp


class VESDE(SDE):
  """dx = sigma(t) sqrt(2 log(sigma_max / sigma_min)) dw, sigma(t) = sigma_min (sigma_max/sigma_min)^t."""

  def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50., N: int = 1000):
    super().__init__(N)
    if not 0 < sigma_min < sigma_max:
      raise ValueError(
          f"need 0 < sigma_min < sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}")
    self.sigma_min = float(sigma_min)
    self.sigma_max = float(sigma_max)
    self.discrete_sigmas = np.exp(np.linspace(np.log(sigma_min), np.log(sigma_max), N))

  def sigma(self, t):
    return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

  def sde(self, x, t):
    t = _as_time(t, x)
    diffusion = self.sigma(t) * float(np.sqrt(2 * np.log(self.sigma_max / self.sigma_min)))
    return jnp.zeros_like(x), diffusion

  def marginal_prob(self, x, t):
    t = _as_time(t, x)
    return x, self.sigma(t)

  def prior_sampling(self, rng, shape, dtype=jnp.float32):
    return jax.random.normal(rng, shape, dtype) * jnp.asarray(self.sigma_max, dtype)

  def prior_logp(self, z):
    return gaussian_prior_logp(z, self.sigma_max)

  def _sigmas(self, t, dtype):
    """sigma_i and sigma_{i-1} (0 for i = 0) of the discrete SMLD chain."""
    i = self.discrete_index(t)
    sigmas = jnp.asarray(self.discrete_sigmas, dtype)
    adjacent = jnp.where(i == 0, jnp.zeros((), dtype), sigmas[jnp.maximum(i - 1, 0)])
    return sigmas[i], adjacent

  def discretize(self, x, t):
    """SMLD: x_{i+1} = x_i + sqrt(sigma_{i+1}^2 - sigma_i^2) z_i."""
    t = _as_time(t, x)
    sigma, adjacent = self._sigmas(t, x.dtype)
    return jnp.zeros_like(x), jnp.sqrt(sigma ** 2 - adjacent ** 2)

  @property
  def has_ancestral_step(self):
    return True

  def ancestral_step(self, x, t, score):
    """SMLD ancestral step from sigma_i to sigma_{i-1}."""
    t = _as_time(t, x)
    sigma, adjacent = self._sigmas(t, x.dtype)
    var_diff = sigma ** 2 - adjacent ** 2
    x_mean = x + batch_mul(var_diff, score)
    std = jnp.sqrt(adjacent ** 2 * var_diff / sigma ** 2)
    return x_mean, std
