"""Sample-quality metrics on classifier features: Frechet distance, KID, Inception Score.

All functions take host arrays of features or logits (from `evaluation.inception`
or any other feature extractor) and compute in float64 numpy: these are
reductions over at most a few tens of thousands of vectors, done once per
evaluation, where precision matters more than speed.

- `frechet_distance(mu1, sigma1, mu2, sigma2)`: the Frechet (2-Wasserstein)
  distance between two Gaussians, the quantity behind FID (Heusel et al. 2017).
- `feature_statistics(features)` / `RunningStatistics`: the (mu, sigma) it needs;
  `merge_pair` / `merge_moments`: the one exact merge of (count, mean, scatter)
  of parts (batches, hosts) into those of their union.
- `kernel_inception_distance(features_a, features_b)`: KID (Binkowski et al.
  2018), unbiased MMD^2 with the cubic polynomial kernel, averaged over random
  subsets.
- `inception_score(logits)`: IS (Salimans et al. 2016), exp E_x KL(p(y|x) || p(y)),
  mean and std over splits.
"""
from __future__ import annotations

import math

import numpy as np

from utils import checks


def _as_float64(name, value, ndim):
  """`value` as a finite float64 array with `ndim` dimensions, or a clear error."""
  array = np.asarray(value, dtype=np.float64)
  if array.ndim != ndim:
    raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
  if not np.all(np.isfinite(array)):
    raise ValueError(f"{name} contains NaN or infinite values")
  return array


def _check_covariance(name, sigma, eigvals=None):
  """Checks `sigma` is symmetric and positive semi-definite up to round-off.

  Round-off is tolerated: a float32 sample covariance of d = 2048 features can
  have eigenvalues of about -d * eps32 * max|sigma| ~ -1e-4 max|sigma|; the
  limit is -1e-3 max|sigma|. With `eigvals` (of the symmetrised sigma) the
  check reads them; otherwise it is a Cholesky factorisation of
  sigma + 1e-3 max|sigma| I, which succeeds exactly when no eigenvalue is below
  the limit and costs a fraction of an eigendecomposition.
  """
  scale = max(np.max(np.abs(sigma)), np.finfo(np.float64).tiny)
  asymmetry = np.max(np.abs(sigma - sigma.T))
  if asymmetry > 1e-6 * scale:
    raise ValueError(f"{name} must be symmetric; max |sigma - sigma^T| = {asymmetry:.3g} "
                     f"against max |sigma| = {scale:.3g}")
  limit = 1e-3 * scale
  if eigvals is not None:
    indefinite = eigvals[0] < -limit
  else:
    try:
      np.linalg.cholesky(0.5 * (sigma + sigma.T) + limit * np.eye(sigma.shape[0]))
      indefinite = False
    except np.linalg.LinAlgError:
      indefinite = True
  if indefinite:
    raise ValueError(f"{name} must be positive semi-definite; it has an eigenvalue below "
                     f"-1e-3 max |sigma| = {-limit:.3g}")


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
  """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

  d^2 = |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^{1/2}).

  The last trace is computed as tr((S1^{1/2} sigma2 S1^{1/2})^{1/2}) with
  S1^{1/2} the symmetric square root of sigma1: the inner matrix is symmetric
  positive semi-definite and has the eigenvalues of sigma1 sigma2, so two
  symmetric eigendecompositions give it without the complex round-off of a
  general matrix square root (scipy.linalg.sqrtm). Singular and
  ill-conditioned covariances are handled: negative round-off eigenvalues are
  clamped to zero.

  Args:
    mu1, mu2: (d,) means.
    sigma1, sigma2: (d, d) symmetric positive semi-definite covariances.
  Returns:
    The squared Frechet distance (as FID reports it), a Python float >= 0.
  """
  mu1 = _as_float64('mu1', mu1, 1)
  mu2 = _as_float64('mu2', mu2, 1)
  if mu1.shape != mu2.shape:
    raise ValueError(f"mu1 and mu2 must have the same shape, got {mu1.shape} and {mu2.shape}")
  d = mu1.shape[0]
  sigma1 = _as_float64('sigma1', sigma1, 2)
  sigma2 = _as_float64('sigma2', sigma2, 2)
  for name, sigma in (('sigma1', sigma1), ('sigma2', sigma2)):
    if sigma.shape != (d, d):
      raise ValueError(f"{name} must have shape ({d}, {d}) to match the means, got {sigma.shape}")
  eigvals1, eigvecs1 = np.linalg.eigh(0.5 * (sigma1 + sigma1.T))
  _check_covariance('sigma1', sigma1, eigvals1)
  _check_covariance('sigma2', sigma2)

  # Negative eigenvalues can only be round-off here (checked above): clamp them to 0.
  sqrt1 = (eigvecs1 * np.sqrt(np.clip(eigvals1, 0., None))) @ eigvecs1.T
  inner = sqrt1 @ (0.5 * (sigma2 + sigma2.T)) @ sqrt1
  inner = 0.5 * (inner + inner.T)
  trace_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(inner), 0., None)))

  diff = mu1 - mu2
  value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2. * trace_sqrt
  # The exact value is >= 0; round-off on identical inputs can make it -1e-12.
  return float(max(value, 0.))


def feature_statistics(features):
  """Mean and unbiased covariance (divisor n - 1, as TF-GAN and pytorch-fid) of (n, d) features.

  Returns (mu (d,), sigma (d, d)) in float64.
  """
  features = _as_float64('features', features, 2)
  n = features.shape[0]
  if n < 2:
    raise ValueError(f"features must hold at least 2 rows to estimate a covariance, got {n}")
  mu = features.mean(axis=0)
  centred = features - mu
  sigma = centred.T @ centred / (n - 1)
  return mu, sigma


class RunningStatistics:
  """Mean and covariance of features seen batch by batch, without keeping them.

  Batches are merged with Chan et al.'s pairwise update of the centred sums,
  so the result equals `feature_statistics` of the concatenated batches to
  float64 round-off, without the cancellation of accumulating raw second
  moments. Useful when 50k x 2048 features should not be held in memory.
  """

  def __init__(self, dim: int):
    if not isinstance(dim, (int, np.integer)) or dim < 1:
      raise ValueError(f"dim must be a positive int, got {dim!r}")
    self.dim = int(dim)
    self.count = 0
    self._mean = np.zeros(self.dim)
    self._scatter = np.zeros((self.dim, self.dim))  # sum of centred outer products

  def update(self, features):
    """Adds a batch of (n, dim) features."""
    features = _as_float64('features', features, 2)
    if features.shape[1] != self.dim:
      raise ValueError(f"features must have {self.dim} columns, got shape {features.shape}")
    n = features.shape[0]
    if n == 0:
      return self
    batch_mean = features.mean(axis=0)
    centred = features - batch_mean
    self.count, self._mean, self._scatter = merge_pair(
        (self.count, self._mean, self._scatter), (n, batch_mean, centred.T @ centred))
    return self

  def moments(self):
    """(count, mean (dim,), scatter (dim, dim)) of the features seen, float64; zeros if none.

    scatter is the sum of centred outer products, (count - 1) * sigma: what
    `merge_moments` merges across hosts exactly.
    """
    return self.count, self._mean.copy(), self._scatter.copy()

  def statistics(self):
    """(mu, sigma) as `feature_statistics` returns them."""
    if self.count < 2:
      raise ValueError(f"need at least 2 features to estimate a covariance, got {self.count}")
    return self._mean.copy(), self._scatter / (self.count - 1)


def merge_pair(a, b):
  """(count, mean, scatter) of the union of two parts given as such triples, exactly.

  Chan et al.'s pairwise rule: with n = n_a + n_b and delta = mean_b - mean_a,
  mean = mean_a + delta n_b / n and
  scatter = scatter_a + scatter_b + delta delta^T n_a n_b / n,
  where scatter is the sum of centred outer products. It works on centred sums,
  so it has none of the cancellation of accumulating raw second moments. A part
  with count 0 leaves the other unchanged.
  """
  (n_a, mean_a, scatter_a), (n_b, mean_b, scatter_b) = a, b
  if n_b == 0:
    return n_a, mean_a, scatter_a
  total = n_a + n_b
  delta = mean_b - mean_a
  return (total, mean_a + delta * (n_b / total),
          scatter_a + scatter_b + np.outer(delta, delta) * (n_a * n_b / total))


def merge_moments(counts, means, scatters):
  """Merges per-part (count, mean, scatter) into those of the union, exactly (`merge_pair`).

  Args:
    counts: (P,) non-negative integers.
    means: (P, d).
    scatters: (P, d, d), each part's sum of centred outer products.
  Returns:
    (count, mean (d,), scatter (d, d)), float64.
  """
  counts = np.asarray(counts, np.int64).reshape(-1)
  means = np.asarray(means, np.float64)
  scatters = np.asarray(scatters, np.float64)
  p = counts.shape[0]
  if means.ndim != 2 or means.shape[0] != p:
    raise ValueError(f"means must have shape ({p}, d) to match counts, got {means.shape}")
  d = means.shape[1]
  if scatters.shape != (p, d, d):
    raise ValueError(f"scatters must have shape ({p}, {d}, {d}), got {scatters.shape}")
  if np.any(counts < 0):
    raise ValueError(f"counts must be non-negative, got {counts.tolist()}")
  merged = (0, np.zeros(d), np.zeros((d, d)))
  for n, m, s in zip(counts, means, scatters):
    merged = merge_pair(merged, (int(n), m, s))
  return merged


def _polynomial_kernel(x, y):
  """k(x, y) = (x . y / d + 1)^3, the KID kernel."""
  k = x @ y.T / x.shape[1] + 1.
  return k * k * k  # several times faster than k ** 3, which numpy does with pow()


def _unbiased_mmd2(x, y):
  """Unbiased MMD^2 estimate between samples x (m, d) and y (n, d).

  Within-sample terms exclude the diagonal (the U-statistic); the cross term
  averages all m n pairs, as in the KID paper's code and TF-GAN.
  """
  m, n = x.shape[0], y.shape[0]
  k_xx = _polynomial_kernel(x, x)
  k_yy = _polynomial_kernel(y, y)
  k_xy = _polynomial_kernel(x, y)
  return ((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
          + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
          - 2. * k_xy.mean())


def kernel_inception_distance(features_a, features_b, subset_size: int = 1000,
                              num_subsets: int = 100, seed: int = 0):
  """Kernel Inception Distance between two sets of features, with its spread.

  As in the KID paper's reference code (Binkowski et al. 2018, "Demystifying
  MMD GANs"): `num_subsets` times, draw `subset_size` rows of each set without
  replacement, compute the unbiased MMD^2 with the kernel
  k(x, y) = (x . y / d + 1)^3, and report the mean and the standard deviation
  (numpy's, divisor num_subsets) of these estimates. The paper's defaults are
  100 subsets of 1000; KID is often quoted x 1e3. The subsets are drawn with
  `numpy.random.default_rng(seed)`, so the result is deterministic.
  (TF-GAN's variant instead splits the data into disjoint blocks and reports
  the standard error; the means agree in expectation.)

  Args:
    features_a: (n_a, d) features, e.g. of real images.
    features_b: (n_b, d) features, e.g. of samples.
    subset_size: rows per subset, at most min(n_a, n_b), at least 2.
    num_subsets: number of subsets, >= 1.
    seed: seed of the subset draws.
  Returns:
    (mean, std) as Python floats.
  """
  a = _as_float64('features_a', features_a, 2)
  b = _as_float64('features_b', features_b, 2)
  if a.shape[1] != b.shape[1]:
    raise ValueError(f"features_a and features_b must have the same feature dimension, "
                     f"got shapes {a.shape} and {b.shape}")
  checks.require_int('subset_size', subset_size, 2)
  limit = min(a.shape[0], b.shape[0])
  if not 2 <= subset_size <= limit:
    raise ValueError(f"subset_size={subset_size} must be in [2, {limit}] "
                     f"(the smaller of the two sample counts, {a.shape[0]} and {b.shape[0]}); "
                     f"pass a smaller subset_size for few samples")
  checks.require_positive_int('num_subsets', num_subsets)
  rng = np.random.default_rng(seed)
  estimates = np.empty(num_subsets)
  for i in range(num_subsets):
    x = a[rng.choice(a.shape[0], subset_size, replace=False)]
    y = b[rng.choice(b.shape[0], subset_size, replace=False)]
    estimates[i] = _unbiased_mmd2(x, y)
  return float(estimates.mean()), float(estimates.std())


def _log_softmax(logits):
  shifted = logits - logits.max(axis=1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _inception_score_from_log_probs(log_probs, splits):
  n = log_probs.shape[0]
  checks.require_int('splits', splits, 1, ' (the number of examples)', maximum=n)
  scores = []
  for i in range(splits):
    part = log_probs[i * n // splits:(i + 1) * n // splits]
    probs = np.exp(part)
    # log p(y) of the part's marginal, from the log-probabilities with a
    # log-sum-exp shift (a class no example gives mass to has peak -inf).
    peak = part.max(axis=0)
    shift = np.where(np.isfinite(peak), peak, 0.)
    with np.errstate(divide='ignore', invalid='ignore'):
      log_marginal = shift + np.log(np.exp(part - shift).mean(axis=0))
      # 0 log 0 = 0: classes an example gives no mass to contribute nothing.
      terms = np.where(probs > 0., probs * (part - log_marginal), 0.)
    scores.append(math.exp(terms.sum(axis=1).mean()))
  scores = np.asarray(scores)
  return float(scores.mean()), float(scores.std())


def inception_score(logits, splits: int = 10):
  """Inception Score exp(E_x KL(p(y|x) || p(y))) from classifier logits.

  As in the original computation (Salimans et al. 2016, and the TF-GAN /
  pytorch ports of it): the examples are cut into `splits` consecutive
  parts; in each, p(y) is the part's mean of p(y|x) = softmax(logits); the
  score is the mean and standard deviation (divisor `splits`) over the parts.
  Note: score_sde's published numbers use TF-GAN's
  `classifier_score_from_logits` on all 50k samples at once, i.e. `splits=1`.

  Args:
    logits: (n, classes) unnormalised log-probabilities (the FID Inception
      network gives 1008 classes).
    splits: number of parts, in [1, n].
  Returns:
    (mean, std) as Python floats.
  """
  logits = _as_float64('logits', logits, 2)
  return _inception_score_from_log_probs(_log_softmax(logits), splits)


def inception_score_from_probs(probs, splits: int = 10):
  """`inception_score` from class probabilities (n, classes), each row summing to 1."""
  probs = _as_float64('probs', probs, 2)
  if np.any(probs < 0.):
    raise ValueError("probs must be non-negative")
  row_sums = probs.sum(axis=1)
  if np.any(np.abs(row_sums - 1.) > 1e-4):
    worst = row_sums[np.argmax(np.abs(row_sums - 1.))]
    raise ValueError(f"each row of probs must sum to 1 (within 1e-4); found a row summing "
                     f"to {worst}")
  with np.errstate(divide='ignore'):
    log_probs = np.log(probs)
  return _inception_score_from_log_probs(log_probs, splits)
