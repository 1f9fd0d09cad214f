"""Tests of the likelihood package against closed forms.

The probability-flow ODE of a Gaussian mixture has an exact score
(models.analytic), so for the exact-divergence estimator the solver's answer
must satisfy the change-of-variables identity

  logp(x) = log p_eps(x) - log p_T(z) + log prior(z)

to ODE tolerance, with p_t the exactly perturbed mixture. Each compiled
likelihood function is built once per (SDE, estimator, tolerance, solver)
and reused across tests with other parameters of the same shapes, since
compiling a diffrax solve dominates the run time of this file.
"""
import functools

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import likelihood
import sde_lib
from likelihood import divergence
from models import analytic

EPS = 1e-5
TIGHT = 1e-8          # rtol = atol of the reference solves
SDES = {
    'vp': sde_lib.VPSDE(beta_min=0.1, beta_max=20., N=1000),
    'subvp': sde_lib.subVPSDE(beta_min=0.1, beta_max=20., N=1000),
    've': sde_lib.VESDE(sigma_min=0.01, sigma_max=50., N=1000),
}
N_COMPONENTS = 3
N_POINTS = 4


def _anisotropic_gmm(d, seed, dtype=np.float64):
  """Three components, random means, rotated covariances with eigenvalues in [0.05, 1]."""
  r = np.random.default_rng(seed)
  means = 1.5 * r.normal(size=(N_COMPONENTS, d))
  covs = []
  for _ in range(N_COMPONENTS):
    q, _ = np.linalg.qr(r.normal(size=(d, d)))
    lam = np.exp(r.uniform(np.log(0.05), 0., size=d))
    covs.append(q @ np.diag(lam) @ q.T)
  return analytic.gmm(np.array([0.5, 0.3, 0.2]), means.astype(dtype), np.array(covs, dtype))


def _single_gaussian_as_gmm(d, seed, diagonal=False):
  """N(mu, Sigma) as a mixture of N_COMPONENTS identical components (same shapes as above)."""
  r = np.random.default_rng(seed)
  mu = r.normal(size=d)
  lam = np.exp(r.uniform(np.log(0.05), 0., size=d))
  q = np.eye(d) if diagonal else np.linalg.qr(r.normal(size=(d, d)))[0]
  cov = q @ np.diag(lam) @ q.T
  return analytic.gmm(np.ones(N_COMPONENTS), np.tile(mu, (N_COMPONENTS, 1)),
                      np.tile(cov, (N_COMPONENTS, 1, 1)))


_SCORE_CALLS = []


def _counting_score_fn(sde):
  """The exact mixture score, counting its evaluations at run time (not at trace time)."""
  def score_fn(params, x, t):
    jax.debug.callback(lambda: _SCORE_CALLS.append(1))
    return analytic.gmm_score(sde, params, x, t)
  return score_fn


@functools.lru_cache(maxsize=None)
def _loglik(sde_name, estimator, tol):
  sde = SDES[sde_name]
  return likelihood.get_likelihood_fn(sde, _counting_score_fn(sde), estimator=estimator,
                                      rtol=tol, atol=tol, eps=EPS)


def _solve(fn, rng, params, x):
  """Runs `fn`; returns (logp, z, nfe, score evaluations counted during the run)."""
  before = len(_SCORE_CALLS)
  logp, z, nfe = jax.block_until_ready(fn(rng, params, x))
  return logp, z, int(nfe), len(_SCORE_CALLS) - before


@functools.lru_cache(maxsize=None)
def _exact_run(sde_name, d):
  """The reference: exact divergence, tight tolerance, float64."""
  gmm = _anisotropic_gmm(d, seed=d)
  x = analytic.gmm_sample(jax.random.PRNGKey(d), gmm, N_POINTS)
  return (gmm, x) + _solve(_loglik(sde_name, 'exact', TIGHT), None, gmm, x)


def _change_of_variables(sde, gmm, x, z):
  return (analytic.gmm_log_prob(sde, gmm, x, EPS) - analytic.gmm_log_prob(sde, gmm, z, sde.T)
          + sde.prior_logp(z))


@pytest.mark.parametrize('d', [2, 6])
@pytest.mark.parametrize('sde_name', ['vp', 'subvp', 've'])
def test_exact_likelihood_matches_gmm_oracle(sde_name, d):
  """Exact-divergence logp equals log p_eps(x) - log p_T(z) + prior(z) of the exact mixture.

  float64, rtol = atol = 1e-8; the observed error is below 1e-6 nats, the
  bound is 1e-5 (the brief's requirement is 1e-3). The reported nfe is the
  number of score evaluations counted while the solve ran: one per drift
  evaluation, so the D Jacobian-vector products share one linearisation.
  """
  sde = SDES[sde_name]
  gmm, x, logp, z, nfe, calls = _exact_run(sde_name, d)
  assert logp.shape == (N_POINTS,) and logp.dtype == jnp.float64
  assert z.shape == x.shape and z.dtype == jnp.float64
  np.testing.assert_allclose(logp, _change_of_variables(sde, gmm, x, z), rtol=0, atol=1e-5)
  assert nfe == calls > 0


@pytest.mark.parametrize('d', [2, 6])
def test_vp_likelihood_close_to_true_density(d):
  """For VP the prior N(0, I) matches p_T closely, so logp is close to log p_eps(x) itself.

  At T = 1 the VP mean coefficient is exp(-5.03) = 0.0066 and the variance
  1 - 4e-5, so log p_T(z) - log N(z; 0, I) is O(0.0066 |mu| |z|), about
  1e-2 nats for these mixtures: tolerance 0.05 nats.
  """
  sde = SDES['vp']
  gmm, x, logp, *_ = _exact_run('vp', d)
  np.testing.assert_allclose(logp, analytic.gmm_log_prob(sde, gmm, x, EPS), rtol=0, atol=0.05)


@pytest.mark.parametrize('sde_name', ['vp', 'subvp', 've'])
def test_latent_is_the_closed_form_flow_of_a_gaussian(sde_name):
  """For one Gaussian N(mu, U diag(l) U^T), z is the PF-ODE's affine map of x.

  With p_t = N(m_t mu, U diag(c_t) U^T), c_t = m_t^2 l + s_t^2, the flow keeps
  U^T (x - m_t mu) / sqrt(c_t) constant (from the Lyapunov equation of c_t),
  which fixes z = x(T) in closed form; logp must also match the Gaussian's
  change of variables.
  """
  sde = SDES[sde_name]
  d = 6
  gmm = _single_gaussian_as_gmm(d, seed=11)
  x = analytic.gmm_sample(jax.random.PRNGKey(3), gmm, N_POINTS)
  logp, z, _, _ = _solve(_loglik(sde_name, 'exact', TIGHT), None, gmm, x)

  def mean_and_var(t):
    m, s = sde.marginal_prob(jnp.ones((1, 1)), jnp.full((1,), t))
    m, s = float(m[0, 0]), float(s[0])
    return m, m ** 2 * np.asarray(gmm['cov_eigvals'][0]) + s ** 2

  u, mu = np.asarray(gmm['cov_eigvecs'][0]), np.asarray(gmm['means'][0])
  m0, c0 = mean_and_var(EPS)
  m1, c1 = mean_and_var(sde.T)
  whitened = (np.asarray(x) - m0 * mu) @ u / np.sqrt(c0)
  z_exact = m1 * mu + (whitened * np.sqrt(c1)) @ u.T
  np.testing.assert_allclose(z, z_exact, rtol=0, atol=1e-6 * max(1., np.sqrt(c1.max())))
  np.testing.assert_allclose(logp, _change_of_variables(sde, gmm, x, z), rtol=0, atol=1e-5)


N_PROBES = 1024


@functools.lru_cache(maxsize=None)
def _hutchinson_run(estimator, diagonal):
  """N_PROBES independent estimates of logp per point, as an array (N_POINTS, N_PROBES).

  Rademacher: each point repeated N_PROBES times in one batch; examples of
  a batch are independent and each gets its own probe. Gaussian: the
  likelihood function vmapped over N_PROBES rngs (each lane its own solve),
  which also shows that `loglik` vmaps. VP, d = 6, rtol = atol = 1e-5 (ODE
  error about 1e-3 nats, well below the Monte-Carlo error).
  """
  if diagonal:
    gmm = _single_gaussian_as_gmm(6, seed=5, diagonal=True)
    x = analytic.gmm_sample(jax.random.PRNGKey(8), gmm, N_POINTS)
  else:
    gmm, x = _exact_run('vp', 6)[:2]
  fn = _loglik('vp', estimator, 1e-5)
  if estimator == 'rademacher':
    xs = jnp.repeat(x, N_PROBES, axis=0)
    logp, z, nfe, calls = _solve(fn, jax.random.PRNGKey(0), gmm, xs)
    assert nfe == calls
    return gmm, x, np.asarray(logp).reshape(N_POINTS, N_PROBES), z[::N_PROBES]
  rngs = jax.random.split(jax.random.PRNGKey(0), N_PROBES)
  logp, z, nfe = jax.block_until_ready(jax.vmap(fn, in_axes=(0, None, None))(rngs, gmm, x))
  assert logp.shape == (N_PROBES, N_POINTS) and nfe.shape == (N_PROBES,)
  return gmm, x, np.asarray(logp).T, z[0]


@pytest.mark.parametrize('estimator', ['rademacher', 'gaussian'])
def test_hutchinson_estimators_are_unbiased(estimator):
  """The mean over 1024 probes is within 4 standard errors (from the samples) of the exact logp."""
  exact = _exact_run('vp', 6)[2]
  _, _, samples, _ = _hutchinson_run(estimator, diagonal=False)
  mean = samples.mean(axis=1)
  stderr = samples.std(axis=1, ddof=1) / np.sqrt(N_PROBES)
  # The probe is random (nonzero spread), and the test resolves a bias of
  # under a nat (single probes spread by 1-3 nats here).
  assert np.all(stderr > 1e-4) and np.all(stderr < 0.2), stderr
  assert np.all(np.abs(mean - np.asarray(exact)) < 4 * stderr), (mean, exact, stderr)


def test_rademacher_is_exact_for_a_diagonal_jacobian():
  """Rademacher probes are exact when the drift's Jacobian is diagonal (an axis-aligned Gaussian).

  Then eps^T J eps = tr J for every eps in {-1, 1}^D.

  Every Rademacher probe then gives the exact logp (no spread), which
  holds only if the probe has entries +-1 and is fixed along the
  trajectory; a Gaussian probe keeps a spread.
  """
  sde = SDES['vp']
  gmm, x, samples, z = _hutchinson_run('rademacher', diagonal=True)
  exact = _change_of_variables(sde, gmm, x, z)
  np.testing.assert_allclose(samples, np.broadcast_to(np.asarray(exact)[:, None], samples.shape),
                             rtol=0, atol=1e-4)
  _, _, gaussian, _ = _hutchinson_run('gaussian', diagonal=True)
  assert np.all(gaussian.std(axis=1) > 1e-2)


def test_probe_is_fixed_by_the_rng():
  """The same rng gives the same estimate; different rngs give different ones."""
  gmm, x = _exact_run('vp', 6)[:2]
  xs = jnp.repeat(x, N_PROBES, axis=0)
  fn = _loglik('vp', 'rademacher', 1e-5)
  a, _, _ = fn(jax.random.PRNGKey(0), gmm, xs)
  b, _, _ = fn(jax.random.PRNGKey(1), gmm, xs)
  _, _, cached, _ = _hutchinson_run('rademacher', diagonal=False)
  np.testing.assert_array_equal(np.asarray(a).reshape(N_POINTS, N_PROBES), cached)
  assert not np.allclose(a, b)


def test_float32_in_gives_float32_out_and_fewer_evaluations_at_loose_tolerance():
  """float32 data and params give float32 logp and z, close to the float64 answer.

  nfe equals the score evaluations counted at run time. At rtol = atol =
  1e-4 the solve needs fewer evaluations than the float64 reference at
  1e-8, and float32 round-off keeps logp within 0.02 nats. The data are
  given with event shape (1, 2) instead of (2,), which must not change the
  answer (the mixture score flattens each example).
  """
  gmm, x, logp64, _, nfe_tight, _ = _exact_run('vp', 2)
  gmm32 = jax.tree.map(lambda a: a.astype(jnp.float32), gmm)
  x32 = x.astype(jnp.float32).reshape(N_POINTS, 1, 2)
  logp, z, nfe, calls = _solve(_loglik('vp', 'exact', 1e-4), None, gmm32, x32)
  assert logp.dtype == jnp.float32 and z.dtype == jnp.float32
  assert logp.shape == (N_POINTS,) and z.shape == x32.shape
  assert nfe == calls
  assert 10 < nfe < nfe_tight
  np.testing.assert_allclose(logp, logp64, rtol=0, atol=0.02)


def test_nfe_formula_matches_diffrax_tableaus():
  """evaluations_per_solve: FSAL tableaus cost stages - 1 per step plus one; others cost all stages.

  The run-time counts above check the formula for the default Dopri5; this
  pins the stage counts of the other named solvers.
  """
  assert likelihood.evaluations_per_solve(diffrax.Dopri5(), 10) == 6 * 10 + 1
  assert likelihood.evaluations_per_solve(diffrax.Tsit5(), 10) == 6 * 10 + 1
  assert likelihood.evaluations_per_solve(diffrax.Bosh3(), 10) == 3 * 10 + 1
  assert likelihood.evaluations_per_solve(diffrax.Dopri8(), 10) == 13 * 10 + 1
  assert likelihood.evaluations_per_solve(diffrax.Heun(), 10) == 2 * 10


@pytest.mark.parametrize('solver', ['tsit5', 'bosh3', 'heun'])
def test_every_solver_counts_its_evaluations_and_agrees(solver):
  """Each adaptive solver of the shared table: nfe equals the score evaluations counted at run
  time (FSAL or not), and logp agrees with the tight Dopri5 reference within 1e-3 nats."""
  sde = SDES['vp']
  gmm, x, reference, *_ = _exact_run('vp', 2)
  fn = likelihood.get_likelihood_fn(sde, _counting_score_fn(sde), estimator='exact',
                                    rtol=1e-6, atol=1e-6, eps=EPS, solver=solver)
  logp, _, nfe, calls = _solve(fn, None, gmm, x)
  assert nfe == calls > 0
  np.testing.assert_allclose(logp, reference, rtol=0, atol=1e-3)


@pytest.mark.parametrize('estimator', divergence.ESTIMATORS)
def test_drift_and_divergence_come_from_one_score_evaluation(estimator):
  """Tracing one ODE evaluation calls the field once; its value and divergence are right.

  Checked on a linear field f(x) = A x per example, whose divergence is tr A;
  for the Hutchinson estimators, probe^T A probe.
  """
  calls = []
  a = jnp.asarray(np.random.default_rng(0).normal(size=(5, 5)))

  def field(x):
    calls.append(1)
    return x @ a.T

  x = jnp.asarray(np.random.default_rng(1).normal(size=(3, 5)))
  probe = None
  if estimator != 'exact':
    probe = divergence.draw_probe(jax.random.PRNGKey(0), estimator, x.shape, x.dtype)
  value, div = jax.jit(
      lambda x, probe: divergence.value_and_divergence(field, x, estimator, probe))(x, probe)
  assert len(calls) == 1
  np.testing.assert_allclose(value, x @ a.T, rtol=1e-12)
  if probe is None:
    expected = jnp.trace(a) * jnp.ones(3)
  else:
    expected = jnp.einsum('bi,ij,bj->b', probe, a, probe)
  np.testing.assert_allclose(div, expected, rtol=1e-12)


def test_exact_divergence_in_chunks():
  """Chunked basis vectors (fewer than D at a time) give the same trace, for image-shaped x."""
  a = jnp.asarray(np.random.default_rng(2).normal(size=(12, 12)))
  field = lambda x: (x.reshape(2, 12) @ a.T).reshape(x.shape)
  x = jnp.ones((2, 3, 2, 2))
  for chunk in (5, 12):   # lax.map over 3 chunks (the last one partial); one vmap
    value, div = jax.jit(functools.partial(divergence.exact_divergence, field, chunk_size=chunk))(x)
    np.testing.assert_allclose(div, jnp.full((2,), jnp.trace(a)), rtol=1e-12)
    assert value.shape == x.shape


def test_bad_arguments_are_rejected_with_clear_errors():
  """Unknown names list the allowed values; eps, tolerances, x and the score's shape are checked."""
  sde, score = SDES['vp'], analytic.gmm_score_fn(SDES['vp'])
  with pytest.raises(ValueError, match="allowed: rademacher, gaussian, exact"):
    likelihood.get_likelihood_fn(sde, score, estimator='hutchinson')
  with pytest.raises(ValueError, match="allowed: dopri5, rk45, tsit5, dopri8, bosh3"):
    likelihood.get_likelihood_fn(sde, score, solver='euler')
  for eps in (0., 1., -1e-3, 2.):
    with pytest.raises(ValueError, match=r"eps must be a number in \(0, T\)"):
      likelihood.get_likelihood_fn(sde, score, eps=eps)
  with pytest.raises(ValueError, match="rtol=0.0 must be a finite number > 0"):
    likelihood.get_likelihood_fn(sde, score, rtol=0.)
  with pytest.raises(ValueError, match="atol=nan must be a finite number > 0"):
    likelihood.get_likelihood_fn(sde, score, atol=float('nan'))

  gmm = _anisotropic_gmm(2, seed=0)
  fn = likelihood.get_likelihood_fn(sde, score, estimator='rademacher')
  rng = jax.random.PRNGKey(0)
  with pytest.raises(ValueError, match="1 NaN or inf"):
    fn(rng, gmm, jnp.array([[0., 1.], [jnp.nan, 0.]]))
  with pytest.raises(ValueError, match=r"shape \(batch, ...features\)"):
    fn(rng, gmm, jnp.zeros(4))
  with pytest.raises(ValueError, match="floating-point"):
    fn(rng, gmm, jnp.zeros((4, 2), jnp.int32))
  with pytest.raises(ValueError, match="rng must be a jax.random key"):
    fn(None, gmm, jnp.zeros((4, 2)))
  with pytest.raises(ValueError, match=r"fails for x of shape \(4, 3\)"):
    fn(rng, gmm, jnp.zeros((4, 3)))
  squashed = likelihood.get_likelihood_fn(sde, lambda p, x, t: x[:, :1])
  with pytest.raises(ValueError, match=r"returns \(4, 1\) for x of shape \(4, 2\)"):
    squashed(rng, gmm, jnp.zeros((4, 2)))


def test_non_finite_x_raises_under_jit():
  """Under an outer jit the finiteness check runs on the device and raises at run time."""
  gmm, x = _exact_run('ve', 2)[:2]
  fn = jax.jit(_loglik('ve', 'exact', TIGHT))
  with pytest.raises(Exception, match="x contains NaN or inf"):
    jax.block_until_ready(fn(None, gmm, x.at[1, 0].set(jnp.inf)))


# ---------------------------------------------------------------- bits/dim


@pytest.mark.parametrize('num_levels', [256, 17])
@pytest.mark.parametrize('dtype', [jnp.float32, jnp.float64])
def test_bpd_of_uniform_density_is_log2_levels(num_levels, dtype):
  """Uniform on [0,1]^D (logp = 0) or on [-1,1]^D (logp = -D ln 2) scores exactly log2(L) bits/dim.

  The uniform density puts mass 1/L on every level, so log2(L) bits are
  the exact discrete code length.
  """
  event_shape = (3, 4, 4)
  dim = 48
  zeros = jnp.zeros((5,), dtype)
  for logp, centered in ((zeros, False), (zeros - jnp.asarray(dim * np.log(2.), dtype), True)):
    bpd = likelihood.bits_per_dim(logp, event_shape, num_levels=num_levels, centered=centered)
    assert bpd.dtype == dtype
    np.testing.assert_allclose(bpd, np.log2(num_levels),
                               rtol=1e-6 if dtype == jnp.float32 else 1e-14)


def test_bpd_offsets_are_the_originals_for_8_bit_data():
  """For L = 256 the offset is 8 bits for data in [0, 1] and 7 in [-1, 1], as in score_sde."""
  assert likelihood.bpd_offset(256, centered=False) == 8.
  assert likelihood.bpd_offset(256, centered=True) == 7.


@pytest.mark.parametrize('centered', [False, True])
@pytest.mark.parametrize('num_levels', [256, 17])
def test_bpd_of_piecewise_constant_density_is_discrete_code_length(num_levels, centered):
  """A density constant on each level's bin, with mass p_k there, gives bpd = -mean log2 p_k.

  Exactly, per example: the mean runs over the D dimensions.

  Data are drawn from P(k) = p_k per dimension and dequantised with
  `likelihood.dequantize`; the model density of x is L p_k (times 1/2 per
  dimension when centered, the Jacobian of x = 2v - 1).
  """
  r = np.random.default_rng(num_levels)
  p = r.dirichlet(np.ones(num_levels))
  event_shape = (2, 5, 3)
  levels = r.choice(num_levels, size=(8,) + event_shape, p=p)
  x = np.asarray(likelihood.dequantize(jax.random.PRNGKey(0), levels, num_levels, centered,
                                       dtype=jnp.float64))
  v = (x + 1.) / 2. if centered else x
  bins = np.floor(v * num_levels).astype(int)
  np.testing.assert_array_equal(bins, levels)
  log_density = np.log(num_levels * p[bins]) - (np.log(2.) if centered else 0.)
  logp = np.sum(log_density.reshape(8, -1), axis=1)
  bpd = likelihood.bits_per_dim(logp, event_shape, num_levels=num_levels, centered=centered)
  expected = -np.mean(np.log2(p[levels]).reshape(8, -1), axis=1)
  np.testing.assert_allclose(bpd, expected, rtol=1e-12)


def test_dequantize_stays_in_its_bin_in_float32():
  """v = (k + u) / L lies in [k/L, (k+1)/L) even for the top level in float32 (so v < 1)."""
  levels = jnp.full((20000,), 255, jnp.int32).at[:10000].set(0)
  v = likelihood.dequantize(jax.random.PRNGKey(1), levels, 256, centered=False)
  assert v.dtype == jnp.float32
  v = np.asarray(v)
  assert v.max() < 1. and v.min() >= 0.
  np.testing.assert_array_equal(np.floor(v * np.float32(256)).astype(int), levels)
  x = likelihood.dequantize(jax.random.PRNGKey(1), levels, 256, centered=True)
  assert float(x.min()) >= -1. and float(x.max()) < 1.


def test_bpd_rejects_bad_input():
  """Wrong event_shape, non-finite logp, num_levels < 2 and out-of-range levels raise ValueError."""
  logp = jnp.zeros(3)
  for shape in ((), (0, 3), (2.5,), 'abc', (-1,), None):
    with pytest.raises(ValueError, match=r"event_shape=.* must be .*the shape of one example"):
      likelihood.bits_per_dim(logp, shape)
  with pytest.raises(ValueError, match="logp must be finite"):
    likelihood.bits_per_dim(jnp.array([0., jnp.nan]), (4,))
  for levels in (1, 0, 2.5, True):
    with pytest.raises(ValueError, match="num_levels=.* must be an integer >= 2"):
      likelihood.bits_per_dim(logp, (4,), num_levels=levels)
  with pytest.raises(ValueError, match=r"levels must lie in \{0, ..., 16\}"):
    likelihood.dequantize(jax.random.PRNGKey(0), jnp.array([0, 17]), num_levels=17)
  with pytest.raises(ValueError, match="integer array"):
    likelihood.dequantize(jax.random.PRNGKey(0), jnp.array([0.5]), num_levels=17)
