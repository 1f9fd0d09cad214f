"""Variance-preserving SDE (the continuous limit of DDPM)."""
import jax
import jax.numpy as jnp
import numpy as np

from sde_lib.base import SDE, _as_time, batch_mul


def gaussian_prior_logp(z, scale=1.):
  """log N(z; 0, scale^2 I), summed over all but the batch axis."""
  d = np.prod(z.shape[1:])
  sq = jnp.sum(z.reshape(z.shape[0], -1) ** 2, axis=1)
  return -0.5 * float(d * np.log(2 * np.pi * scale ** 2)) - 0.5 * sq / float(scale) ** 2


class VPSDE(SDE):
  """dx = -beta(t) x / 2 dt + sqrt(beta(t)) dw, beta(t) linear in t."""

  def __init__(self, beta_min: float = 0.1, beta_max: float = 20., N: int = 1000):
    super().__init__(N)
    if not 0 <= beta_min < beta_max:
      raise ValueError(
          f"need 0 <= beta_min < beta_max, got beta_min={beta_min}, beta_max={beta_max}")
    self.beta_0 = float(beta_min)
    self.beta_1 = float(beta_max)
    # The DDPM chain this SDE is the limit of (float64 on the host; cast on use).
    self.discrete_betas = np.linspace(beta_min / N, beta_max / N, N)
    self.alphas = 1. - self.discrete_betas
    self.alphas_cumprod = np.cumprod(self.alphas)
    self.sqrt_alphas_cumprod = np.sqrt(self.alphas_cumprod)
    self.sqrt_1m_alphas_cumprod = np.sqrt(1. - self.alphas_cumprod)

  def beta(self, t):
    return self.beta_0 + t * (self.beta_1 - self.beta_0)

  def log_mean_coeff(self, t):
    return -0.25 * t ** 2 * (self.beta_1 - self.beta_0) - 0.5 * t * self.beta_0

  def sde(self, x, t):
    t = _as_time(t, x)
    beta_t = self.beta(t)
    return batch_mul(-0.5 * beta_t, x), jnp.sqrt(beta_t)

  def marginal_prob(self, x, t):
    t = _as_time(t, x)
    lmc = self.log_mean_coeff(t)
    # -expm1 keeps the std accurate for small t, where 1 - exp(2 lmc) cancels.
    return batch_mul(jnp.exp(lmc), x), jnp.sqrt(-jnp.expm1(2. * lmc))

  def prior_sampling(self, rng, shape, dtype=jnp.float32):
    return jax.random.normal(rng, shape, dtype)

  def prior_logp(self, z):
    return gaussian_prior_logp(z)

  def _discrete(self, table, t, dtype):
    return jnp.asarray(table, dtype)[self.discrete_index(t)]

  def discretize(self, x, t):
    """DDPM: x_{i+1} = sqrt(1 - beta_i) x_i + sqrt(beta_i) z_i."""
    t = _as_time(t, x)
    beta = self._discrete(self.discrete_betas, t, x.dtype)
    f = batch_mul(jnp.sqrt(1. - beta), x) - x
    return f, jnp.sqrt(beta)

  def langevin_step_size_scale(self, t):
    t = jnp.asarray(t)
    return self._discrete(self.alphas, t, jnp.result_type(t, jnp.float32))

  @property
  def has_ancestral_step(self):
    return True

  def ancestral_step(self, x, t, score):
    """DDPM ancestral step: x <- (x + beta_i score) / sqrt(1 - beta_i) + sqrt(beta_i) z."""
    t = _as_time(t, x)
    beta = self._discrete(self.discrete_betas, t, x.dtype)
    x_mean = batch_mul(1. / jnp.sqrt(1. - beta), x + batch_mul(beta, score))
    return x_mean, jnp.sqrt(beta)


class subVPSDE(VPSDE):
  """Sub-VP SDE: VP drift, diffusion beta(t) (1 - exp(-2 int beta)); variance below VP's."""

  def sde(self, x, t):
    t = _as_time(t, x)
    beta_t = self.beta(t)
    discount = -jnp.expm1(-2. * self.beta_0 * t - (self.beta_1 - self.beta_0) * t ** 2)
    return batch_mul(-0.5 * beta_t, x), jnp.sqrt(beta_t * discount)

  def marginal_prob(self, x, t):
    t = _as_time(t, x)
    lmc = self.log_mean_coeff(t)
    return batch_mul(jnp.exp(lmc), x), -jnp.expm1(2. * lmc)

  def discretize(self, x, t):
    # No discrete chain stands behind sub-VP: Euler-Maruyama, as the original.
    return SDE.discretize(self, x, t)

  @property
  def has_ancestral_step(self):
    return False

  def ancestral_step(self, x, t, score):
    return SDE.ancestral_step(self, x, t, score)
