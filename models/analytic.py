"""Exact scores and densities of a Gaussian mixture pushed through an SDE.

For a linear-drift SDE, p_t(x | x0) = N(m(t) x0, s(t)^2 I). A mixture
sum_k w_k N(mu_k, Sigma_k) at time 0 therefore becomes, at time t, the mixture
sum_k w_k N(m(t) mu_k, m(t)^2 Sigma_k + s(t)^2 I). This module evaluates its
log-density and score in closed form. It is the oracle every sampler and the
likelihood are tested against, and a score function with the same signature as
a network's: `score_fn(params, x, t)`.

Each covariance is stored by its eigendecomposition Sigma_k = U_k diag(l_k) U_k^T,
so the perturbed covariance U_k diag(m^2 l_k + s^2) U_k^T is inverted for free.
"""
import jax
import jax.numpy as jnp
import numpy as np


def gmm(weights, means, covs):
  """Params pytree of the mixture sum_k weights[k] N(means[k], covs[k]) in R^d.

  Args:
    weights: (K,) positive, normalised here.
    means: (K, d).
    covs: (K, d, d) symmetric positive semi-definite.
  Returns a dict of arrays in the dtype of `means`.
  """
  means = jnp.asarray(means)
  dtype = means.dtype if jnp.issubdtype(means.dtype, jnp.floating) else jnp.float32
  means = means.astype(dtype)
  weights = jnp.asarray(weights, dtype)
  covs = jnp.asarray(covs, dtype)
  if means.ndim != 2:
    raise ValueError(f"means must have shape (K, d), got {means.shape}")
  k, d = means.shape
  if weights.shape != (k,):
    raise ValueError(f"weights must have shape ({k},) to match means, got {weights.shape}")
  if covs.shape != (k, d, d):
    raise ValueError(f"covs must have shape ({k}, {d}, {d}), got {covs.shape}")
  if np.any(np.asarray(weights) <= 0):
    raise ValueError(f"weights must be positive, got {np.asarray(weights)}")
  eigvals, eigvecs = jnp.linalg.eigh(0.5 * (covs + jnp.swapaxes(covs, -1, -2)))
  if np.any(np.asarray(eigvals) < -1e-6 * np.abs(np.asarray(eigvals)).max()):
    raise ValueError("covs must be positive semi-definite")
  return {
      'log_weights': jnp.log(weights / weights.sum()),
      'means': means,
      'cov_eigvals': jnp.maximum(eigvals, 0.),
      'cov_eigvecs': eigvecs,
  }


def gmm_sample(rng, params, n):
  """n samples of the (unperturbed) mixture: (n, d)."""
  k_rng, z_rng = jax.random.split(rng)
  comp = jax.random.categorical(k_rng, params['log_weights'], shape=(n,))
  z = jax.random.normal(z_rng, (n, params['means'].shape[1]), params['means'].dtype)
  scaled = params['cov_eigvecs'][comp] @ (jnp.sqrt(params['cov_eigvals'][comp]) * z)[..., None]
  return params['means'][comp] + scaled[..., 0]


def _perturbed(sde, params, x, t):
  """Per example and component: log w_k N(x; m mu_k, C_k(t)) and C_k(t)^{-1}(x - m mu_k)."""
  shape = x.shape
  x = x.reshape(shape[0], -1)
  t = jnp.broadcast_to(jnp.asarray(t, x.dtype), shape[:1])
  ones = jnp.ones_like(x[:, :1])
  m, s = sde.marginal_prob(ones, t)          # m: (b, 1), s: (b,)
  m = m[:, 0]
  lam = params['cov_eigvals'].astype(x.dtype)           # (K, d)
  u = params['cov_eigvecs'].astype(x.dtype)             # (K, d, d)
  mu = params['means'].astype(x.dtype)                  # (K, d)
  var = m[:, None, None] ** 2 * lam[None] + s[:, None, None] ** 2    # (b, K, d)
  diff = x[:, None, :] - m[:, None, None] * mu[None]                 # (b, K, d)
  proj = jnp.einsum('kdj,bkd->bkj', u, diff)                         # U^T diff
  d = x.shape[1]
  log_norm = (params['log_weights'].astype(x.dtype)[None]
              - 0.5 * jnp.sum(jnp.log(var), -1) - 0.5 * d * jnp.log(2 * jnp.pi)
              - 0.5 * jnp.sum(proj ** 2 / var, -1))                  # (b, K)
  prec_diff = jnp.einsum('kdj,bkj->bkd', u, proj / var)              # C^{-1} diff
  return log_norm, prec_diff


def gmm_log_prob(sde, params, x, t):
  """Exact log-density (batch,) of the mixture perturbed by `sde` up to time t."""
  log_norm, _ = _perturbed(sde, params, x, t)
  return jax.nn.logsumexp(log_norm, axis=-1)


def gmm_score(sde, params, x, t):
  """Exact score grad_x log p_t(x), shaped like x."""
  log_norm, prec_diff = _perturbed(sde, params, x, t)
  resp = jax.nn.softmax(log_norm, axis=-1)
  return -jnp.einsum('bk,bkd->bd', resp, prec_diff).reshape(x.shape)


def gmm_score_fn(sde):
  """`score_fn(params, x, t)`: the exact perturbed-mixture score, like a network's."""
  return lambda params, x, t: gmm_score(sde, params, x, t)
