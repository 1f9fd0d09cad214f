"""The exact baselines of the digits bits/dim, against direct and Monte-Carlo computations."""
import jax.numpy as jnp
import numpy as np

import likelihood
from evaluation import baselines


def _levels(n, d, L, seed):
  rng = np.random.default_rng(seed)
  base = rng.integers(0, L, size=(1, d))
  return np.clip(base + rng.integers(-2, 3, size=(n, d)), 0, L - 1)


def test_categorical_equals_a_direct_count():
  """bpd = -mean log2 of the add-one smoothed per-pixel frequencies, counted by a loop."""
  L = 5
  train, test = _levels(200, 6, L, 0), _levels(50, 6, L, 1)
  total = 0.
  for j in range(6):
    for k in test[:, j]:
      total += -np.log2((np.sum(train[:, j] == k) + 1.) / (200 + L))
  assert np.isclose(baselines.categorical_bpd(train, test, L), total / test.size, rtol=1e-12)


def test_gaussian_equals_monte_carlo_dequantisation():
  """The closed-form expectation over u equals the Monte-Carlo mean of likelihood.bits_per_dim
  of the fitted Gaussian on dequantised test data (centered model space, another offset)."""
  L, d = 17, 4
  train, test = _levels(500, d, L, 2), _levels(40, d, L, 3)
  exact = baselines.gaussian_bpd(train, test, L)
  c = (train + 0.5) / L
  mu = 2 * c.mean(0) - 1
  cov = 4 * (np.cov(c, rowvar=False, bias=True) + np.eye(d) / (12 * L ** 2))
  prec, (_, logdet) = np.linalg.inv(cov), np.linalg.slogdet(cov)
  rng = np.random.default_rng(4)
  vals = []
  for _ in range(400):
    x = 2 * (test + rng.random(test.shape)) / L - 1
    diff = x - mu
    logp = -0.5 * (d * np.log(2 * np.pi) + logdet + np.einsum('ni,ij,nj->n', diff, prec, diff))
    vals.append(float(jnp.mean(likelihood.bits_per_dim(jnp.asarray(logp), (d,), num_levels=L,
                                                       centered=True))))
  se = np.std(vals, ddof=1) / np.sqrt(len(vals))
  assert abs(np.mean(vals) - exact) < 5 * se + 1e-9, (np.mean(vals), se, exact)


def test_uniform_data_gives_log2_levels():
  """Levels spread evenly over all L values give the categorical baseline log2(L) bits."""
  L = 17
  levels = np.tile(np.arange(L), 20)[:, None]
  assert np.isclose(baselines.categorical_bpd(levels, levels, L, alpha=0.), np.log2(L))
