"""Exact scores and densities of a Gaussian mixture pushed through an SDE.

For a linear-drift SDE, p_t(x | x0) = N(m(t) x0, s(t)^2 I). A mixture
sum_k w_k N(mu_k, Sigma_k) at time 0 therefore becomes, at time t, the mixture
sum_k w_k N(m(t) mu_k, m(t)^2 Sigma_k + s(t)^2 I). This module evaluates its
log-density and score in closed form. It is the oracle every sampler and the
likelihood are tested against, and a score function with the same signature as
a network's: `score_fn(params, x, t)`.

Each covariance is stored by its eigendecomposition Sigma_k = U_k diag(l_k) U_k^T,
so the perturbed covariance U_k diag(m^2 l_k + s^2) U_k^T is inverted for free.

Conditioning (the oracles of controllable generation): given a linear
observation y = A x0 + noise_std n, the conditional p(x0 | y) is again a
Gaussian mixture (`gmm_condition`), so its perturbed version p_t(x_t | y)
has the exact score above (`gmm_conditional_score_fn`); with the components
as classes, log p(k | x_t) is exact too (`gmm_class_logit_fn`). A batch of
observations gives a batch of mixtures that share their covariances (which do
not depend on y): `log_weights` (b, K) and `means` (b, K, d), example i of x
scored under mixture i.
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
  """n samples of the (unperturbed) mixture: (n, d).

  For a batch of b mixtures (`gmm_condition` of b observations), n must be b:
  sample i is drawn from mixture i.
  """
  k_rng, z_rng = jax.random.split(rng)
  means = params['means']
  if means.ndim == 3 and means.shape[0] != n:
    raise ValueError(f"n={n}: a batch of {means.shape[0]} mixtures draws one sample from each, "
                     f"so n must be {means.shape[0]}")
  comp = jax.random.categorical(k_rng, params['log_weights'], shape=(n,))
  z = jax.random.normal(z_rng, (n, means.shape[-1]), means.dtype)
  scaled = params['cov_eigvecs'][comp] @ (jnp.sqrt(params['cov_eigvals'][comp]) * z)[..., None]
  mean = means[comp] if means.ndim == 2 else means[jnp.arange(n), comp]
  return mean + scaled[..., 0]


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
  mu = params['means'].astype(x.dtype)                  # (K, d), or (b, K, d) for a batch
  var = m[:, None, None] ** 2 * lam[None] + s[:, None, None] ** 2    # (b, K, d)
  diff = x[:, None, :] - m[:, None, None] * mu                       # (b, K, d)
  proj = jnp.einsum('kdj,bkd->bkj', u, diff)                         # U^T diff
  d = x.shape[1]
  log_norm = (params['log_weights'].astype(x.dtype)                  # (K,) or (b, K)
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


# ------------------------------------------------- conditioning on y = A x0 (+ noise)


def mask_observation(mask):
  """The observation matrix A (m, d) that reads the known coordinates (`mask` == 1) of x.

  `mask` has the shape of one example (no batch axis); x is flattened in C
  order, as the score functions here flatten it. A x0 is x0's known entries.
  """
  mask = np.asarray(mask)
  if not np.all((mask == 0) | (mask == 1)):
    raise ValueError(f"mask must hold only 0 (unknown) and 1 (known), got values "
                     f"{np.unique(mask)[:8]}")
  flat = mask.reshape(-1).astype(bool)
  return np.eye(flat.size)[flat]


def channel_mean_observation(shape):
  """The observation matrix A (m, d) of the mean over the last axis (the grey image of RGB).

  `shape` is one example's shape, channels last, e.g. (H, W, 3): A has one
  row per pixel, 1/C on that pixel's C channels (x flattened in C order).
  """
  shape = tuple(int(n) for n in shape)
  if len(shape) < 1 or shape[-1] < 1:
    raise ValueError(f"shape={shape} must be one example's shape, channels last")
  pixels, channels = int(np.prod(shape[:-1])), shape[-1]
  return np.kron(np.eye(pixels), np.full((1, channels), 1. / channels))


def _is_concrete(*arrays):
  return not any(isinstance(a, jax.core.Tracer) for a in arrays)


def gmm_condition(params, A, y, noise_std=0.):
  """The mixture of x0 given y = A x0 + noise_std n, n ~ N(0, I): exact Bayes.

  Each component N(mu_k, Sigma_k) conditions as a Gaussian: with
  S_k = A Sigma_k A^T + noise_std^2 I and G_k = S_k^{-1} A Sigma_k,
  mean mu_k + G_k^T (y - A mu_k), covariance Sigma_k - (A Sigma_k)^T G_k, and
  weight w_k N(y; A mu_k, S_k), renormalised. With noise_std = 0 the
  conditional has zero variance along the observed directions (rank-deficient
  covariance, A x0 = y exactly): the eigendecomposition stores those
  eigenvalues as 0, and the perturbed mixture (t > 0) is non-degenerate.

  Args:
    params: a mixture (`gmm`).
    A: (m, d) observation matrix (`mask_observation`, `channel_mean_observation`,
      or any other); each S_k must be positive definite (A of full row rank
      with Sigma_k non-degenerate along A's rows, or noise_std > 0).
    y: (m,) observation, or (b, m) for a batch of observations.
    noise_std: the observation noise's standard deviation, >= 0.
  Returns the conditional mixture as params (a batch of b mixtures sharing
  their covariances if y is (b, m)), in the mixture's dtype. Pure and jit-able;
  the checks on values run where they are concrete.
  """
  dtype = params['means'].dtype
  mu = params['means']
  if mu.ndim != 2:
    raise ValueError("params must be one mixture (means of shape (K, d)), not a batch of them")
  k, d = mu.shape
  A = jnp.asarray(A, dtype)
  if A.ndim != 2 or A.shape[1] != d:
    raise ValueError(f"A has shape {A.shape}; it must be (m, d) = (m, {d}) for this mixture")
  m = A.shape[0]
  y = jnp.asarray(y, dtype)
  if y.ndim not in (1, 2) or y.shape[-1] != m:
    raise ValueError(f"y has shape {y.shape}; it must be ({m},) or (batch, {m}) for A of "
                     f"shape {A.shape}")
  if isinstance(noise_std, (int, float, np.floating, np.integer)) and not noise_std >= 0:
    raise ValueError(f"noise_std={noise_std!r} must be >= 0")
  post, s = _condition(params, A, y, jnp.asarray(noise_std, dtype))
  if _is_concrete(s):
    smallest = np.linalg.eigvalsh(np.asarray(s)).min(-1)
    scale = np.abs(np.asarray(s)).max()
    bad = np.flatnonzero(smallest <= 1e-12 * max(scale, 1e-300))
    if bad.size:
      raise ValueError(
          f"A Sigma_k A^T + noise_std^2 I is singular for component(s) {bad.tolist()}: with "
          f"noise_std={noise_std}, A must have full row rank and each covariance must be "
          "non-degenerate along A's rows (or give noise_std > 0)")
  return post


@jax.jit
def _condition(params, A, y, noise_std):
  """`gmm_condition`'s arithmetic, one compiled program (eager calls compile once, not per op);
  also returns the S_k, for the caller's check."""
  dtype = A.dtype
  mu, lam, u = params['means'], params['cov_eigvals'], params['cov_eigvecs']
  d, m = mu.shape[1], A.shape[0]
  cov = jnp.einsum('kij,kj,klj->kil', u, lam, u)                      # (K, d, d)
  a_cov = jnp.einsum('md,kde->kme', A, cov)                           # A Sigma_k: (K, m, d)
  s = jnp.einsum('kme,ne->kmn', a_cov, A) + noise_std ** 2 * jnp.eye(m, dtype=dtype)
  s = 0.5 * (s + jnp.swapaxes(s, -1, -2))
  chol = jnp.linalg.cholesky(s)                                       # (K, m, m)
  gain = jax.scipy.linalg.cho_solve((chol, True), a_cov)              # S_k^{-1} A Sigma_k
  post_cov = cov - jnp.einsum('kmd,kme->kde', a_cov, gain)
  post_lam, post_u = jnp.linalg.eigh(0.5 * (post_cov + jnp.swapaxes(post_cov, -1, -2)))
  # The observed directions' variances are 0 up to rounding; stored as exact zeros, so that
  # samples reproduce A x0 = y to rounding (not to its square root).
  tiny = 10. * d * jnp.finfo(dtype).eps * jnp.max(jnp.abs(post_lam))
  resid = y[..., None, :] - mu @ A.T                                  # (..., K, m)
  post_mu = mu + jnp.einsum('...km,kmd->...kd', resid, gain)          # (..., K, d)
  chol_inv = jax.scipy.linalg.solve_triangular(
      chol, jnp.broadcast_to(jnp.eye(m, dtype=dtype), chol.shape), lower=True)
  white = jnp.einsum('kij,...kj->...ki', chol_inv, resid)             # L_k^{-1} (y - A mu_k)
  log_det = 2. * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), -1)   # (K,)
  log_lik = -0.5 * (jnp.sum(white ** 2, -1) + log_det + m * jnp.log(2. * jnp.pi))
  post = {
      'log_weights': jax.nn.log_softmax(params['log_weights'] + log_lik, axis=-1),
      'means': post_mu,
      'cov_eigvals': jnp.where(post_lam > tiny, post_lam, 0.),
      'cov_eigvecs': post_u,
  }
  return post, s


def gmm_conditional_score_fn(sde, A, noise_std=0.):
  """`score_fn((params, y), x, t)`: the exact nabla_x log p_t(x | y) of y = A x0 + noise_std n.

  p_t(x_t | y) is the integral of p_t(x_t | x0) p(x0 | y), the perturbed
  version of the conditional mixture `gmm_condition(params, A, y, noise_std)`.
  `y` is (m,) for one observation shared by the batch, or (batch, m), one per
  example. A score function like a network's, for the samplers.
  """
  A = np.asarray(A)

  def score_fn(params_y, x, t):
    params, y = params_y
    return gmm_score(sde, gmm_condition(params, A.astype(params['means'].dtype), y, noise_std),
                     x, t)
  return score_fn


def gmm_class_logits(sde, params, x, t):
  """Exact log p(k | x_t) (batch, K), the classes being the mixture's components."""
  log_norm, _ = _perturbed(sde, params, x, t)
  return jax.nn.log_softmax(log_norm, axis=-1)


def gmm_class_logit_fn(sde):
  """`logit_fn(params, x, t) -> (batch, K)`: the exact noisy classifier log p(k | x_t).

  The class of x0 is the mixture component it was drawn from; logits are
  normalised log-probabilities, as a classifier's log-softmax.
  """
  return lambda params, x, t: gmm_class_logits(sde, params, x, t)


def gmm_class_grad(sde, params, x, t, labels):
  """Exact nabla_x log p(labels | x_t), shaped like x: the classifier guidance term.

  nabla log p(k | x_t) = nabla log p_t(x_t | k) - nabla log p_t(x_t), where
  p_t(. | k) is the k-th perturbed component. `labels`: (batch,) ints in [0, K).
  """
  log_norm, prec_diff = _perturbed(sde, params, x, t)
  resp = jax.nn.softmax(log_norm, axis=-1)
  labels = jnp.asarray(labels)
  own = jnp.take_along_axis(prec_diff, labels[:, None, None], axis=1)[:, 0]
  return (jnp.einsum('bk,bkd->bd', resp, prec_diff) - own).reshape(x.shape)
