"""Frechet distance, KID and Inception Score against closed forms and direct computations."""
import itertools
import math

import numpy as np
import pytest

from evaluation import metrics


def _random_orthogonal(rng, d):
  q, r = np.linalg.qr(rng.normal(size=(d, d)))
  return q * np.sign(np.diag(r))


def _random_spd(rng, d, low=0.5, high=2.):
  u = _random_orthogonal(rng, d)
  return (u * rng.uniform(low, high, size=d)) @ u.T


# ---------------------------------------------------------------- Frechet distance


def test_frechet_diagonal_closed_form():
  """Diagonal covariances: d^2 = |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2."""
  rng = np.random.default_rng(0)
  d = 7
  mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
  a, b = rng.uniform(0.1, 3., size=d), rng.uniform(0.1, 3., size=d)
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
  got = metrics.frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
  assert isinstance(got, float)
  np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_frechet_commuting_ill_conditioned_closed_form():
  """Commuting covariances U diag(a) U^T, U diag(b) U^T with condition number 1e12:
  d^2 = |dmu|^2 + sum (sqrt(a_i) - sqrt(b_i))^2, to absolute error ~1e-7 of the trace."""
  rng = np.random.default_rng(1)
  d = 12
  u = _random_orthogonal(rng, d)
  a = np.logspace(-12, 0, d)
  b = rng.permutation(np.logspace(-10, 0.5, d))
  mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
  got = metrics.frechet_distance(mu1, (u * a) @ u.T, mu2, (u * b) @ u.T)
  np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_frechet_general_2x2_closed_form():
  """2x2: tr sqrt(S1 S2) = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2)) (both eigenvalues >= 0)."""
  rng = np.random.default_rng(2)
  for _ in range(5):
    s1, s2 = _random_spd(rng, 2, 0.1, 5.), _random_spd(rng, 2, 0.1, 5.)
    mu1, mu2 = rng.normal(size=2), rng.normal(size=2)
    tr_sqrt = math.sqrt(np.trace(s1 @ s2) + 2. * math.sqrt(np.linalg.det(s1) * np.linalg.det(s2)))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2. * tr_sqrt
    np.testing.assert_allclose(metrics.frechet_distance(mu1, s1, mu2, s2), expected, rtol=1e-12)


@pytest.mark.parametrize('spectrum', ['well', 'cond1e10', 'singular'])
def test_frechet_transport_map_closed_form(spectrum):
  """Non-commuting case: for symmetric positive definite T, x -> T x is the optimal map
  from N(0, S) to N(0, T S T), so d^2 = tr((I - T) S (I - T)) exactly, also when S is
  ill-conditioned (cond 1e10) or singular (rank d/2)."""
  rng = np.random.default_rng(3)
  d = 16
  u = _random_orthogonal(rng, d)
  eig = {'well': rng.uniform(0.5, 2., d),
         'cond1e10': np.logspace(-10, 0, d),
         'singular': np.concatenate([rng.uniform(0.5, 2., d // 2), np.zeros(d - d // 2)])}[spectrum]
  s = (u * eig) @ u.T
  t = _random_spd(rng, d, 0.3, 3.)
  mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
  i_minus_t = np.eye(d) - t
  expected = np.sum((mu1 - mu2) ** 2) + np.trace(i_minus_t @ s @ i_minus_t)
  got = metrics.frechet_distance(mu1, s, mu2, t @ s @ t)
  np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
  # The distance is symmetric although the computation is not.
  np.testing.assert_allclose(metrics.frechet_distance(mu2, t @ s @ t, mu1, s), got,
                             rtol=1e-6, atol=1e-6)


def test_frechet_matches_scipy_sqrtm_on_well_conditioned():
  """An independent computation: scipy.linalg.sqrtm on well-conditioned random covariances."""
  linalg = pytest.importorskip('scipy.linalg')
  rng = np.random.default_rng(4)
  d = 20
  x, y = rng.normal(size=(200, d)), rng.normal(size=(150, d)) @ rng.normal(size=(d, d))
  mu1, s1 = metrics.feature_statistics(x)
  mu2, s2 = metrics.feature_statistics(y)
  expected = (np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2)
              - 2. * np.trace(np.real(linalg.sqrtm(s1 @ s2))))
  np.testing.assert_allclose(metrics.frechet_distance(mu1, s1, mu2, s2), expected, rtol=1e-9)


def test_frechet_zero_for_identical_singular_gaussians():
  """d(N, N) = 0 (never negative) for a rank-deficient covariance: 100 samples of 128-d
  float32 features."""
  rng = np.random.default_rng(5)
  features = rng.normal(size=(100, 128)).astype(np.float32)  # rank 99 < 128
  mu, sigma = metrics.feature_statistics(features)
  got = metrics.frechet_distance(mu, sigma, mu, sigma)
  assert 0. <= got < 1e-8 * np.trace(sigma)


def test_frechet_rejects_bad_input():
  """Mismatched shapes, asymmetric and indefinite covariances, NaNs: ValueError naming
  the argument."""
  eye = np.eye(3)
  with pytest.raises(ValueError, match='mu1 and mu2'):
    metrics.frechet_distance(np.zeros(3), eye, np.zeros(2), np.eye(2))
  with pytest.raises(ValueError, match=r'sigma2 must have shape \(3, 3\)'):
    metrics.frechet_distance(np.zeros(3), eye, np.zeros(3), np.eye(2))
  with pytest.raises(ValueError, match='sigma1 must be symmetric'):
    metrics.frechet_distance(np.zeros(3), np.triu(np.ones((3, 3))), np.zeros(3), eye)
  with pytest.raises(ValueError, match='sigma2 must be positive semi-definite'):
    metrics.frechet_distance(np.zeros(3), eye, np.zeros(3), np.diag([1., -1., 1.]))
  with pytest.raises(ValueError, match='mu1 contains NaN'):
    metrics.frechet_distance(np.array([0., np.nan, 0.]), eye, np.zeros(3), eye)


# ---------------------------------------------------------------- statistics


def test_feature_statistics_match_numpy_cov():
  """mu is the mean and sigma the unbiased (n - 1) covariance, as np.cov computes it."""
  rng = np.random.default_rng(6)
  x = rng.normal(size=(50, 4)).astype(np.float32)
  mu, sigma = metrics.feature_statistics(x)
  assert mu.dtype == np.float64 and sigma.dtype == np.float64
  np.testing.assert_allclose(mu, x.astype(np.float64).mean(0), rtol=1e-13)
  np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-12)
  with pytest.raises(ValueError, match='at least 2 rows'):
    metrics.feature_statistics(x[:1])


def test_running_statistics_equal_batch_statistics():
  """Merging uneven batches gives the statistics of the concatenation, even with a large
  common offset (1e6) where accumulating raw second moments would lose all digits."""
  rng = np.random.default_rng(7)
  x = 1e6 + rng.normal(size=(103, 5)) @ rng.normal(size=(5, 5))
  running = metrics.RunningStatistics(5)
  for start, stop in [(0, 1), (1, 40), (40, 40), (40, 103)]:
    running.update(x[start:stop])
  mu, sigma = running.statistics()
  mu_ref, sigma_ref = metrics.feature_statistics(x)
  np.testing.assert_allclose(mu, mu_ref, rtol=1e-14)
  np.testing.assert_allclose(sigma, sigma_ref, rtol=1e-9, atol=1e-9)
  assert running.count == 103
  with pytest.raises(ValueError, match='must have 5 columns'):
    running.update(np.zeros((2, 4)))


# ---------------------------------------------------------------- KID


def _direct_mmd2(x, y):
  """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, pair by pair."""
  d = x.shape[1]
  k = lambda a, b: (float(np.dot(a, b)) / d + 1.) ** 3
  m, n = len(x), len(y)
  xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
  xy = sum(k(a, b) for a, b in itertools.product(x, y)) / (m * n)
  return xx + yy - 2. * xy


def test_kid_equals_direct_computation():
  """With subsets as large as the data every subset is a permutation of it, so every
  estimate equals the direct pairwise computation and the std is 0."""
  rng = np.random.default_rng(8)
  x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.3, size=(7, 3))
  mean, std = metrics.kernel_inception_distance(x, y, subset_size=7, num_subsets=3)
  np.testing.assert_allclose(mean, _direct_mmd2(x, y), rtol=1e-12)
  assert std < 1e-12


def test_kid_subsets_follow_documented_draws():
  """Subsets of size s < n are the documented draws of numpy.random.default_rng(seed);
  mean and std (divisor num_subsets) of the direct computation on them."""
  rng = np.random.default_rng(9)
  x, y = rng.normal(size=(12, 2)), rng.normal(size=(10, 2)) + 1.
  draws = np.random.default_rng(42)
  ests = []
  for _ in range(4):
    ix = draws.choice(12, 5, replace=False)
    iy = draws.choice(10, 5, replace=False)
    ests.append(_direct_mmd2(x[ix], y[iy]))
  mean, std = metrics.kernel_inception_distance(x, y, subset_size=5, num_subsets=4, seed=42)
  np.testing.assert_allclose([mean, std], [np.mean(ests), np.std(ests)], rtol=1e-10)


def test_kid_is_unbiased_for_population_mmd():
  """1-d Gaussians N(0, 1) vs N(0.5, 1): (xy + 1)^3 = x^3y^3 + 3x^2y^2 + 3xy + 1, so the
  population MMD^2 = (dE x^3)^2 + 3 (dE x^2)^2 + 3 (dE x)^2 = 1.625^2 + 3/16 + 3/4.
  Averaged over independent data sets of 20 points, the estimate matches it within
  sampling error; for equal distributions it is centred on 0 (the biased V-statistic
  would sit near +2.7 here)."""
  rng = np.random.default_rng(10)
  expected = 1.625 ** 2 + 3 * 0.25 ** 2 + 3 * 0.5 ** 2
  reps, n = 2000, 20
  diff, same = [], []
  for _ in range(reps):
    x, y, z = rng.normal(size=(n, 1)), rng.normal(0.5, 1., size=(n, 1)), rng.normal(size=(n, 1))
    diff.append(metrics.kernel_inception_distance(x, y, subset_size=n, num_subsets=1)[0])
    same.append(metrics.kernel_inception_distance(x, z, subset_size=n, num_subsets=1)[0])
  assert abs(np.mean(diff) - expected) < 5 * np.std(diff) / math.sqrt(reps)
  assert abs(np.mean(same)) < 5 * np.std(same) / math.sqrt(reps)
  assert 5 * np.std(same) / math.sqrt(reps) < 1.  # the test can tell 0 from the V-statistic's bias


def test_kid_rejects_bad_input():
  """Too large a subset, mismatched feature dimensions: ValueError naming the argument."""
  x = np.zeros((10, 3))
  with pytest.raises(ValueError, match=r'subset_size=11 must be in \[2, 10\]'):
    metrics.kernel_inception_distance(x, x, subset_size=11)
  with pytest.raises(ValueError, match='same feature dimension'):
    metrics.kernel_inception_distance(x, np.zeros((10, 4)), subset_size=5)
  with pytest.raises(ValueError, match='num_subsets'):
    metrics.kernel_inception_distance(x, x, subset_size=5, num_subsets=0)


# ---------------------------------------------------------------- Inception Score


def _direct_inception_score(probs, splits):
  """exp(mean_x sum_y p(y|x) log(p(y|x) / p(y))) per split, p(y) the split's mean."""
  n = len(probs)
  scores = []
  for s in range(splits):
    part = probs[s * n // splits:(s + 1) * n // splits]
    marginal = part.mean(axis=0)
    kl = [sum(p[c] * math.log(p[c] / marginal[c]) for c in range(len(p)) if p[c] > 0) for p in part]
    scores.append(math.exp(np.mean(kl)))
  return np.mean(scores), np.std(scores)


def test_inception_score_equals_direct_computation():
  """Logits -> softmax -> per-split exp(E KL): equals a direct loop, including uneven splits."""
  rng = np.random.default_rng(11)
  logits = rng.normal(scale=3., size=(23, 6))
  probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  for splits in (1, 4):
    expected = _direct_inception_score(probs, splits)
    np.testing.assert_allclose(metrics.inception_score(logits, splits=splits), expected, rtol=1e-12)
    np.testing.assert_allclose(metrics.inception_score_from_probs(probs, splits=splits), expected,
                               rtol=1e-12)


def test_inception_score_extremes():
  """Confident predictions spread uniformly over k classes give IS = k in every split;
  identical predictions give IS = 1 (std 0). Huge logits do not overflow."""
  k, splits = 5, 3
  labels = np.tile(np.arange(k), 4 * splits)
  one_hot = np.eye(k)[labels]
  np.testing.assert_allclose(metrics.inception_score_from_probs(one_hot, splits=splits), (k, 0.),
                             atol=1e-12)
  np.testing.assert_allclose(metrics.inception_score(1e4 * one_hot, splits=splits), (k, 0.),
                             atol=1e-9)
  same = np.tile(np.array([[0.1, 2., -3., 0.5, 0.]]), (30, 1))
  np.testing.assert_allclose(metrics.inception_score(same, splits=splits), (1., 0.), atol=1e-12)


def test_inception_score_rejects_bad_input():
  """Too many splits and rows of probs that do not sum to 1: ValueError naming the argument."""
  with pytest.raises(ValueError, match=r'splits=5 must be an integer in \[1, 4\]'):
    metrics.inception_score(np.zeros((4, 3)), splits=5)
  with pytest.raises(ValueError, match='must sum to 1'):
    metrics.inception_score_from_probs(np.full((4, 3), 0.5), splits=1)
