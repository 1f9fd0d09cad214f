"""Exact bits/dim of two simple density models, the bar a trained model must clear.

Both are fit on the training split's integer levels and evaluated exactly on
the test split (no Monte Carlo), in the same convention as
`likelihood.bits_per_dim`: levels k in {0..L-1} dequantised as v = (k + u) / L.

- `categorical_bpd`: independent per-pixel categorical over the L levels,
  with add-`alpha` smoothing so no test level gets probability 0. Its
  dequantised density is piecewise constant, so its bits/dim is exactly
  -mean log2 p_pixel(k).
- `gaussian_bpd`: one full-covariance Gaussian over the dequantised pixels
  (its maximum-likelihood fit, mean and covariance of v), scored by its
  expected negative log-density under the same uniform dequantisation,
  E_u[-log N(v)] = -log N(c) + tr(Sigma^{-1}) / (12 L^2) with c = (k + 1/2) / L.
"""
import numpy as np

from likelihood import bpd


def _flat(levels):
  levels = np.asarray(levels)
  if not np.issubdtype(levels.dtype, np.integer):
    raise ValueError(f"levels must be integers, got dtype {levels.dtype}")
  return levels.reshape(len(levels), -1).astype(np.int64)


def categorical_bpd(train_levels, test_levels, num_levels, alpha=1.):
  """Bits/dim of the test levels under independent smoothed per-pixel categoricals."""
  train, test = _flat(train_levels), _flat(test_levels)
  if train.min() < 0 or max(train.max(), test.max()) >= num_levels or test.min() < 0:
    raise ValueError(f"levels must lie in 0..{num_levels - 1}")
  counts = np.stack([np.bincount(col, minlength=num_levels) for col in train.T])  # (D, L)
  probs = (counts + alpha) / (counts.sum(1, keepdims=True) + alpha * num_levels)
  logp = np.log2(probs[np.arange(train.shape[1])[None], test])                      # (n, D)
  return float(-logp.mean())


def gaussian_bpd(train_levels, test_levels, num_levels):
  """Bits/dim of the test levels under a full-covariance Gaussian on dequantised v."""
  train, test = _flat(train_levels), _flat(test_levels)
  L, d = float(num_levels), train.shape[1]
  c_train = (train + 0.5) / L
  mu = c_train.mean(0)
  # Covariance of v = c + (u - 1/2) / L: that of the bin centres plus the uniform noise's.
  sigma = np.cov(c_train, rowvar=False, bias=True) + np.eye(d) / (12. * L ** 2)
  sign, logdet = np.linalg.slogdet(sigma)
  if sign <= 0:
    raise ValueError("the Gaussian baseline's covariance is singular")
  prec = np.linalg.inv(sigma)
  diff = (test + 0.5) / L - mu
  maha = np.einsum('ni,ij,nj->n', diff, prec, diff) + np.trace(prec) / (12. * L ** 2)
  nll_v = 0.5 * (d * np.log(2 * np.pi) + logdet + maha)        # nats, density of v
  # y = L v = k + u has density p_v / L^D, so bpd = E[-log2 p_v] / D + log2 L (the offset
  # of data v in [0, 1)).
  return float(np.mean(nll_v) / (d * np.log(2)) + bpd.bpd_offset(int(num_levels), centered=False))
