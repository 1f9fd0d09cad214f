"""The samplers against the exact score of Gaussian mixtures.

Sample statistics. Each sampler draws n = 4000 float32 samples (the dtype of
a network; float64 would buy nothing at these tolerances and cost twice the
time) with the exact score
(`models.analytic.gmm_score_fn`) of the product of two mixtures of three
anisotropic components, one in 2-D and one in 6-D (so one compiled sampler
tests both), and three statistics are compared with the truth, for each of
the two blocks and for the whole: the mean log-density under the true
mixture (truth: Monte Carlo over 100k exact samples), the mean and the
covariance (truth: closed form; for the whole it also says the blocks come
out independent). Each must lie within

    Z = 5 standard errors  +  a bias budget rho (relative to the variances).

The standard errors are the Monte Carlo ones of the sample (and of the
reference, for the log-density), estimated from the exact samples. The bias
budget rho covers what the samplers get wrong by construction:
  * discretisation: one time step changes the noise variance by at most
    beta_max / N = 0.04 (VP, sub-VP; 2 ln(sigma_max/sigma_min) / N = 0.028 for
    VE), and the error it leaves in the variances is of that order: rho = 0.04;
  * Langevin (`langevin` corrector): unadjusted Langevin with step
    2 snr^2 |z|^2/|score|^2 ~ 2 snr^2 v has stationary variance v / (1 - snr^2):
    rho += snr^2 = 0.0256 (`test_corrector_stationary_variance` checks this
    formula itself to a few per cent);
  * the ODE: rtol = atol = 1e-5, rho = 0.01.
A relative variance error rho moves the mean log-density by about d rho / 2,
the covariance entry (j, k) by rho sqrt(S_jj S_kk) and the mean by at most
rho sqrt(S_jj); those are the budgets. At n = 4000 in 6-D the log-density
tolerance is about 0.15 + 0.12 nats. Slips of the kind these tests are for
fail them by far: the corrector's noise sqrt(step) for sqrt(2 step) moves the
mean log-density by 0.5-1.8 nats, the ancestral step's noise 10% too large
by 0.2-0.6 (tried by hand on this file's cases).

The mixtures are centred (mean zero): the VE prior N(0, sigma_max^2 I) is
centred, and the probability-flow ODE carries an offset of the prior into
the mode weights (sigma_max = 10 is 4-5 mixture standard deviations, so the
prior's variance mismatch is negligible).

Corrector-only samplers (predictor 'none') get n_steps > 1 and are run on the
2-D mixture alone: Langevin moves mass between well-separated modes slowly, and a
6-D mixture needs many more steps than a test can afford. `none` + `ald` is
tested with VE only: ALD's step 2 (snr sigma_t)^2 vanishes as t -> 0 for VP
and sub-VP (sigma_t -> 0), while their p_t still moves (the mean scales by
m(t)), so without a predictor it cannot converge whatever the step count.
"""
import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

import samplers
import sde_lib
from models import analytic
from samplers import correctors

Z = 5.
N_SAMPLES = 4000
RHO_DISCRETISATION = 0.04
RHO_ODE = 0.01
SNR = 0.16


# ---------------------------------------------------------------- mixtures


def _centred(weights, means, covs):
  """(weights, means, covs) with the means shifted so that the mixture has mean zero."""
  weights = np.asarray(weights, np.float64) / np.sum(weights)
  means = np.asarray(means, np.float64)
  return weights, means - weights @ means, np.asarray(covs, np.float64)


def mixture_2d():
  return _centred([0.5, 0.3, 0.2], [[-2., 0.], [2., 1.], [0., -2.]],
                  [[[0.5, 0.2], [0.2, 0.3]], [[0.2, 0.], [0., 0.8]], [[0.3, -0.1], [-0.1, 0.2]]])


def mixture_6d():
  rs = np.random.RandomState(0)
  covs = []
  for _ in range(3):
    q, _ = np.linalg.qr(rs.normal(size=(6, 6)))
    covs.append(q @ np.diag(np.exp(rs.uniform(np.log(0.1), 0., 6))) @ q.T)
  return _centred([0.5, 0.3, 0.2], rs.normal(0., 1.5, (3, 6)), covs)


def product(a, b):
  """The mixture of (x, y) with x ~ a and y ~ b independent: 9 components, block-diagonal."""
  (wa, ma, ca), (wb, mb, cb) = a(), b()
  da, db = ma.shape[1], mb.shape[1]
  covs = np.zeros((len(wa), len(wb), da + db, da + db))
  covs[:, :, :da, :da] = ca[:, None]
  covs[:, :, da:, da:] = cb[None]
  means = np.concatenate([np.repeat(ma[:, None], len(wb), 1), np.repeat(mb[None], len(wa), 0)], -1)
  return (np.outer(wa, wb).ravel(), means.reshape(-1, da + db), covs.reshape(-1, da + db, da + db))


# Samplers run on '2d+6d', whose two blocks are checked against '2d' and '6d'
# (and the whole against '2d+6d', which also checks that the blocks come out
# independent): one compiled sampler tests both mixtures.
MIXTURES = {'2d': mixture_2d, '6d': mixture_6d, '2d+6d': lambda: product(mixture_2d, mixture_6d)}
BLOCKS = {'2d': [('2d', slice(None))], '2d+6d': [('2d+6d', slice(None)), ('2d', slice(0, 2)),
                                                 ('6d', slice(2, None))]}


def make_sde(name, N=500, sigma_max=10.):
  if name == 'vp':
    return sde_lib.VPSDE(beta_min=0.1, beta_max=20., N=N)
  if name == 'subvp':
    return sde_lib.subVPSDE(beta_min=0.1, beta_max=20., N=N)
  return sde_lib.VESDE(sigma_min=0.01, sigma_max=sigma_max, N=N)


def log_density(gmm, x):
  """log of the unperturbed mixture: VP at t = 0 has m = 1, s = 0 exactly."""
  return analytic.gmm_log_prob(sde_lib.VPSDE(), gmm, x, 0.)


@functools.cache
def reference(name, n=100_000):
  gmm = analytic.gmm(*MIXTURES[name]())
  x = analytic.gmm_sample(jax.random.PRNGKey(123), gmm, n)
  logp = log_density(gmm, x)
  w = np.exp(np.asarray(gmm['log_weights']))
  mu = np.asarray(gmm['means'])
  u, lam = np.asarray(gmm['cov_eigvecs']), np.asarray(gmm['cov_eigvals'])
  covs = np.einsum('kij,kj,klj->kil', u, lam, u)
  mean = w @ mu
  cov = np.einsum('k,kij->ij', w, covs + mu[:, :, None] * mu[:, None, :]) - np.outer(mean, mean)
  c = np.asarray(x) - mean
  return dict(gmm=gmm, mean=mean, cov=cov, logp=float(logp.mean()), logp_sd=float(logp.std()),
              prod_sd=(c[:, :, None] * c[:, None, :]).std(0), n=n)


def float32(params):
  return jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), params)


def check_statistics(x, name, rho):
  """Asserts mean log-density, mean and covariance of `x` match mixture `name` (see module doc)."""
  ref = reference(name)
  check_moments(x, ref, lambda x: log_density(ref['gmm'], jnp.asarray(x)), name, rho)


def check_moments(x, ref, log_density_fn, name, rho):
  """Mean log-density, mean and covariance of samples x against `ref` (`reference`'s dict).

  Each within Z standard errors plus the bias budget rho (module doc);
  `log_density_fn(x)` is the true log-density of each sample; `name` labels the failure.
  """
  x = np.asarray(x, np.float64)
  n, d = x.shape
  assert np.all(np.isfinite(x))
  scale = np.sqrt(np.diag(ref['cov']))
  logp = float(np.mean(log_density_fn(x)))
  tol = Z * ref['logp_sd'] * np.sqrt(1 / n + 1 / ref['n']) + d * rho / 2
  assert abs(logp - ref['logp']) <= tol, (
      f"{name}: mean log-density {logp:.4f}, true {ref['logp']:.4f}, tolerance {tol:.4f}")
  dmean = x.mean(0) - ref['mean']
  tol = Z * scale / np.sqrt(n) + rho * scale
  assert np.all(np.abs(dmean) <= tol), f"{name}: mean off by {dmean}, tolerance {tol}"
  dcov = np.cov(x.T) - ref['cov']
  tol = Z * ref['prod_sd'] / np.sqrt(n) + rho * np.outer(scale, scale)
  assert np.all(np.abs(dcov) <= tol), (
      f"{name}: covariance off by\n{dcov}\ntolerance\n{tol}")


def check_samples(x, mixture, rho):
  """check_statistics for the mixture the samples come from and for each of its blocks."""
  for name, block in BLOCKS[mixture]:
    check_statistics(x[:, block], name, rho)


# ------------------------------------------------------ PC: every valid pair

PREDICTORS = ('euler_maruyama', 'reverse_diffusion', 'ancestral_sampling', 'none')
CORRECTORS = ('langevin', 'ald', 'none')
CORRECTOR_ONLY_STEPS = {'langevin': 2, 'ald': 5}


def _valid_pairs(sde_name):
  sde = make_sde(sde_name)
  for p in PREDICTORS:
    for c in CORRECTORS:
      if p == 'none' and (c == 'none' or (c == 'ald' and sde_name != 've')):
        continue
      if p == 'ancestral_sampling' and not sde.has_ancestral_step:
        continue
      yield p, c


def _pc_cases():
  for s in ('vp', 'subvp', 've'):
    for p, c in _valid_pairs(s):
      mixture = '2d' if p == 'none' else '2d+6d'
      yield pytest.param(s, p, c, mixture, id=f'{s}-{p}-{c}-{mixture}')


@pytest.mark.parametrize('sde_name,predictor,corrector,mixture', list(_pc_cases()))
def test_pc_sampler_matches_mixture(sde_name, predictor, corrector, mixture):
  sde = make_sde(sde_name)
  ref = reference(mixture)
  d = ref['mean'].shape[0]
  n_steps = CORRECTOR_ONLY_STEPS[corrector] if predictor == 'none' else 1
  sample = samplers.get_pc_sampler(
      sde, analytic.gmm_score_fn(sde), (N_SAMPLES, d), predictor=predictor, corrector=corrector,
      snr=SNR, n_steps=n_steps)
  x, nfe = sample(jax.random.PRNGKey(0), float32(ref['gmm']))
  assert x.dtype == jnp.float32 and x.shape == (N_SAMPLES, d)
  evals = (predictor != 'none') + (n_steps if corrector != 'none' else 0)
  assert int(nfe) == sde.N * evals
  rho = RHO_DISCRETISATION + (SNR ** 2 if corrector == 'langevin' else 0.)
  check_samples(x, mixture, rho)


@pytest.mark.parametrize('sde_name', ['vp', 'subvp', 've'])
def test_ode_sampler_matches_mixture(sde_name):
  mixture = '2d+6d'
  sde = make_sde(sde_name)
  ref = reference(mixture)
  d = ref['mean'].shape[0]
  sample = samplers.get_ode_sampler(sde, analytic.gmm_score_fn(sde), (N_SAMPLES, d))
  x, nfe = sample(jax.random.PRNGKey(0), float32(ref['gmm']))
  assert x.dtype == jnp.float32 and 10 < int(nfe) < 1000
  check_samples(x, mixture, RHO_ODE)


# ------------------------------------------------- closed forms, one Gaussian


def _gaussian(d=3, seed=1):
  rs = np.random.RandomState(seed)
  q, _ = np.linalg.qr(rs.normal(size=(d, d)))
  lam = np.array([0.05, 0.5, 2.])[:d]
  return analytic.gmm([1.], rs.normal(0., 1., (1, d)), (q @ np.diag(lam) @ q.T)[None])


def _marginal(sde, t):
  """Mean coefficient m(t) and std s(t) of the SDE's perturbation kernel."""
  m, s = sde.marginal_prob(jnp.ones((1, 1), jnp.float64), jnp.full((1,), t, jnp.float64))
  return float(m[0, 0]), float(s[0])


@pytest.mark.parametrize('sde_name,solver', [
    ('vp', 'dopri5'), ('subvp', 'dopri5'), ('ve', 'dopri5'), ('vp', 'tsit5'), ('vp', 'dopri8')])
def test_ode_map_is_the_closed_form_flow(sde_name, solver):
  """For N(mu, U diag(lam) U^T) the flow keeps U^T (x - m(t) mu) / sqrt(m^2 lam + s^2) constant.

  (Along each eigenvector the PF-ODE is dy/dt = (a + g^2 / 2v) y with
  v' = 2 a v + g^2, so y / sqrt(v) is conserved.) The map z -> x is affine
  and known exactly; the solver must reproduce it to its tolerance.
  """
  sde = make_sde(sde_name)
  gauss = _gaussian()
  eps = 1e-3
  sample = samplers.get_ode_sampler(sde, analytic.gmm_score_fn(sde), (16, 3), rtol=1e-10,
                                    atol=1e-10, solver=solver, eps=eps)
  z = sde.prior_sampling(jax.random.PRNGKey(3), (16, 3), jnp.float64)
  x, _ = sample(jax.random.PRNGKey(4), gauss, z)
  np.testing.assert_allclose(np.asarray(x), closed_form_flow(sde, gauss, z, eps), rtol=0,
                             atol=1e-7)


def closed_form_flow(sde, gauss, z, eps):
  """x(eps) of the probability-flow ODE of the Gaussian `gauss` from x(T) = z (test above)."""
  mu, u = np.asarray(gauss['means'][0]), np.asarray(gauss['cov_eigvecs'][0])
  lam = np.asarray(gauss['cov_eigvals'][0])
  (m_T, s_T), (m_e, s_e) = _marginal(sde, sde.T), _marginal(sde, eps)
  y = (np.asarray(z) - m_T * mu) @ u
  y = y * np.sqrt((m_e ** 2 * lam + s_e ** 2) / (m_T ** 2 * lam + s_T ** 2))
  return m_e * mu + y @ u.T


@pytest.mark.parametrize('sde_name', ['vp', 've'])
@pytest.mark.parametrize('corrector', ['langevin', 'ald'])
def test_corrector_stationary_variance(sde_name, corrector):
  """At a fixed t, the corrector is unadjusted Langevin on the Gaussian p_t.

  With step size e, x <- x + e score + sqrt(2 e) z has stationary variance
  v / (1 - e / (2 v)) along an eigenvector of variance v. ALD's step is
  2 alpha (snr s_t)^2; Langevin's 2 alpha (snr mean|z| / mean|score|)^2, read
  off the final samples. At snr = 0.4 the inflation is 15-40%, so a wrong
  step (or noise sqrt(e) instead of sqrt(2 e)) is many standard errors away.
  """
  sde = make_sde(sde_name)
  gauss = _gaussian()
  # Times where s_t^2 is comparable to the variances, so that ALD's step is not negligible.
  t, snr, n, steps = {'vp': 0.3, 've': 0.6}[sde_name], 0.4, 20_000, 150
  m, s = _marginal(sde, t)
  lam, u = np.asarray(gauss['cov_eigvals'][0]), np.asarray(gauss['cov_eigvecs'][0])
  v = m ** 2 * lam + s ** 2
  score = functools.partial(analytic.gmm_score, sde, gauss)
  cls = correctors.get_corrector(corrector)

  @jax.jit
  def run(rng):
    x0 = m * gauss['means'][0] + s * jax.random.normal(rng, (n, 3), jnp.float64)
    x0 = x0 + (jax.random.normal(jax.random.fold_in(rng, 1), (n, 3), jnp.float64)
               * jnp.sqrt(m ** 2 * lam)) @ u.T
    return cls(sde, score, snr, steps).update_fn(jax.random.fold_in(rng, 2), x0,
                                                    jnp.full((n,), t, jnp.float64))[0]

  x = np.asarray(run(jax.random.PRNGKey(5)))
  alpha = float(sde.langevin_step_size_scale(jnp.asarray(t)))
  if corrector == 'ald':
    step = 2 * alpha * (snr * s) ** 2
  else:
    chi_mean = np.sqrt(2) * np.exp(jax.scipy.special.gammaln(2.) - jax.scipy.special.gammaln(1.5))
    grad_norm = np.linalg.norm(np.asarray(score(jnp.asarray(x), jnp.full((n,), t))), axis=1).mean()
    step = 2 * alpha * (snr * chi_mean / grad_norm) ** 2
  expected = v / (1 - step / (2 * v))
  var = ((x - m * np.asarray(gauss['means'][0])) @ u).var(0)
  rtol = Z * np.sqrt(2 / n)
  assert (expected / v).max() - 1 > 2 * rtol   # the inflation is well above the tolerance
  np.testing.assert_allclose(var, expected, rtol=rtol)


# ------------------------------------------------------------- ODE: NFE etc.


def test_ode_sampler_is_deterministic_and_nfe_falls_with_tolerance():
  sde = make_sde('vp')
  ref = reference('2d')
  score_fn = analytic.gmm_score_fn(sde)
  nfes = {}
  for tol in (1e-5, 1e-3):
    sample = samplers.get_ode_sampler(sde, score_fn, (256, 2), rtol=tol, atol=tol)
    x1, nfes[tol] = sample(jax.random.PRNGKey(0), ref['gmm'])
    x2, nfe2 = sample(jax.random.PRNGKey(0), ref['gmm'])
    np.testing.assert_array_equal(np.asarray(x1), np.asarray(x2))
    assert int(nfe2) == int(nfes[tol])
    x3, _ = sample(jax.random.PRNGKey(1), ref['gmm'])
    assert not np.allclose(np.asarray(x1), np.asarray(x3))
  assert int(nfes[1e-3]) < int(nfes[1e-5]), nfes


@pytest.mark.parametrize('solver,denoise,first_step', [
    ('dopri5', False, 0.01), ('dopri5', False, 0.9), ('heun', True, 0.01), ('euler', False, None)])
def test_ode_nfe_counts_every_score_evaluation(solver, denoise, first_step, monkeypatch):
  """nfe equals the number of times the score actually ran (counted by a host callback).

  A first step of 0.9 T is rejected (several times), which must not break the count.
  """
  if first_step is not None:
    monkeypatch.setattr(samplers.ode, 'INITIAL_STEP', first_step)
  sde = make_sde('vp', N=50)
  score_fn, calls = _recording_score_fn(sde)
  sample = samplers.get_ode_sampler(sde, score_fn, (64, 2), rtol=1e-6, atol=1e-6, solver=solver,
                                    denoise=denoise)
  x, nfe = sample(jax.random.PRNGKey(0), reference('2d')['gmm'])
  x.block_until_ready()
  assert int(nfe) == len(calls) > 0
  if first_step == 0.9:
    assert min(calls[:7]) < 0.2   # the first attempted step reached far below T


# --------------------------------------------------------- structure and jit


def test_pc_sampler_is_one_loop_and_jits():
  sde = make_sde('ve', N=20)
  gmm = reference('2d')['gmm']
  sample = samplers.get_pc_sampler(sde, analytic.gmm_score_fn(sde), (8, 2), corrector='none')
  inner = jax.make_jaxpr(sample)(jax.random.PRNGKey(0), gmm).jaxpr.eqns[0].params['jaxpr']
  loops = [e for e in inner.eqns if e.primitive.name in ('scan', 'while')]
  assert len(loops) == 1 and loops[0].params.get('length') == sde.N
  x, nfe = sample(jax.random.PRNGKey(0), gmm)
  x_jit, nfe_jit = jax.jit(sample)(jax.random.PRNGKey(0), gmm)
  np.testing.assert_allclose(np.asarray(x), np.asarray(x_jit), rtol=1e-12)
  assert int(nfe) == int(nfe_jit) == 20
  x_other, _ = sample(jax.random.PRNGKey(1), gmm)
  assert not np.allclose(np.asarray(x), np.asarray(x_other))


def test_ode_sampler_jits():
  sde = make_sde('vp', N=50)
  gmm = reference('2d')['gmm']
  sample = samplers.get_ode_sampler(sde, analytic.gmm_score_fn(sde), (8, 2), rtol=1e-3,
                                    atol=1e-3, denoise=True)
  x, nfe = sample(jax.random.PRNGKey(0), gmm)
  x_jit, nfe_jit = jax.jit(sample)(jax.random.PRNGKey(0), gmm)
  np.testing.assert_allclose(np.asarray(x), np.asarray(x_jit), rtol=1e-12)
  assert int(nfe) == int(nfe_jit)


def test_samples_take_the_dtype_of_the_params():
  sde = make_sde('vp', N=50)
  gmm32 = float32(reference('2d')['gmm'])
  sample = samplers.get_pc_sampler(sde, analytic.gmm_score_fn(sde), (4, 2))
  assert sample(jax.random.PRNGKey(0), gmm32)[0].dtype == jnp.float32
  assert sample(jax.random.PRNGKey(0), reference('2d')['gmm'])[0].dtype == jnp.float64


# ----------------------------------------------------------------- get_sampler


def _config(**sampling):
  config = ml_collections.ConfigDict()
  config.training = ml_collections.ConfigDict({'continuous': True})
  config.sampling = ml_collections.ConfigDict(dict(
      method='pc', predictor='reverse_diffusion', corrector='langevin', snr=0.16,
      n_steps_each=2, noise_removal=True, probability_flow=False))
  config.sampling.update(sampling)
  return config


def _recording_score_fn(sde):
  """The exact score, and the list of times it is evaluated at (appended on the host)."""
  times = []

  def score_fn(params, x, t):
    jax.debug.callback(lambda t: times.append(float(t[0])), t, ordered=True)
    return analytic.gmm_score(sde, params, x, t)

  return score_fn, times


@pytest.mark.parametrize('sde_name,eps', [('vp', 1e-3), ('ve', 1e-5)])
def test_get_sampler_pc_from_config(sde_name, eps):
  """Reads sampling.*; eps defaults to the original's per-SDE value unless sampling.eps is set."""
  sde = make_sde(sde_name, N=50)
  gmm = reference('2d')['gmm']
  score_fn, times = _recording_score_fn(sde)
  x, nfe = samplers.get_sampler(_config(), sde, score_fn, (4, 2))(jax.random.PRNGKey(0), gmm)
  x.block_until_ready()
  assert np.all(np.isfinite(np.asarray(x)))
  assert int(nfe) == 50 * (2 + 1) == len(times)
  assert times[-1] == pytest.approx(eps)
  times.clear()
  x, _ = samplers.get_sampler(_config(eps=0.01), sde, score_fn, (4, 2))(jax.random.PRNGKey(0), gmm)
  x.block_until_ready()
  assert times[-1] == pytest.approx(0.01)


def test_get_sampler_ode_from_config():
  sde = make_sde('vp', N=50)
  gmm = reference('2d')['gmm']
  config = _config(method='ode', rtol=1e-3, atol=1e-3, ode_solver='tsit5', noise_removal=False)
  x, nfe = samplers.get_sampler(config, sde, analytic.gmm_score_fn(sde), (4, 2))(
      jax.random.PRNGKey(0), gmm)
  direct, direct_nfe = samplers.get_ode_sampler(
      sde, analytic.gmm_score_fn(sde), (4, 2), rtol=1e-3, atol=1e-3, solver='tsit5')(
          jax.random.PRNGKey(0), gmm)
  np.testing.assert_array_equal(np.asarray(x), np.asarray(direct))
  assert int(nfe) == int(direct_nfe)


# ---------------------------------------------------------------------- errors


def _pc(**kwargs):
  sde = kwargs.pop('sde', make_sde('vp', N=50))
  args = dict(shape=(4, 2), predictor='reverse_diffusion', corrector='langevin')
  args.update(kwargs)
  return samplers.get_pc_sampler(sde, analytic.gmm_score_fn(sde), **args)


def _ode(**kwargs):
  sde = make_sde('vp', N=50)
  return samplers.get_ode_sampler(sde, analytic.gmm_score_fn(sde), **dict(dict(shape=(4, 2)),
                                                                         **kwargs))


@pytest.mark.parametrize('build,words', [
    (lambda: _pc(predictor='heun'), ['predictor', "'heun'", 'euler_maruyama', 'reverse_diffusion',
                                     'ancestral_sampling', 'none']),
    (lambda: _pc(corrector='hmc'), ['corrector', "'hmc'", 'langevin', 'ald', 'none']),
    (lambda: _pc(predictor='none', corrector='none'), ['none', 'predictor', 'corrector']),
    (lambda: _pc(predictor='ancestral_sampling', probability_flow=True),
     ['ancestral_sampling', 'probability_flow']),
    (lambda: _pc(predictor='ancestral_sampling', sde=make_sde('subvp')),
     ['ancestral_sampling', 'subVPSDE', 'VPSDE', 'VESDE', 'reverse_diffusion']),
    (lambda: _pc(shape=(4, 0)), ['shape', 'positive ints']),
    (lambda: _pc(shape=(4, 2.)), ['shape', 'positive ints']),
    (lambda: _pc(shape=()), ['shape', 'positive ints']),
    (lambda: _pc(shape=8), ['shape', 'positive ints']),
    (lambda: _pc(snr=0.), ['snr', '> 0']),
    (lambda: _pc(snr=-0.1), ['snr', '> 0']),
    (lambda: _pc(n_steps=-1), ['n_steps', '>= 0']),
    (lambda: _pc(eps=0.), ['eps', '(0, T)']),
    (lambda: _pc(eps=1.), ['eps', '(0, T)']),
    (lambda: _pc(probability_flow='yes'), ['probability_flow', 'True or False']),
    (lambda: _ode(solver='rk4'), ['solver', "'rk4'", 'dopri5', 'tsit5', 'dopri8', 'heun']),
    (lambda: _ode(rtol=0.), ['rtol', '> 0']),
    (lambda: _ode(atol=-1.), ['atol', '> 0']),
    (lambda: _ode(eps=2.), ['eps', '(0, T)']),
    (lambda: _ode(shape=(4, -2)), ['shape', 'positive ints']),
    (lambda: samplers.get_sampler(_config(method='sde'), make_sde('vp'), None, (4, 2)),
     ['config.sampling.method', "'sde'", 'pc', 'ode']),
    (lambda: samplers.get_sampler(_config(predictor='ddim'), make_sde('vp'), None, (4, 2)),
     ['config.sampling', 'predictor', "'ddim'", 'reverse_diffusion']),
])
def test_invalid_arguments_are_named_with_the_allowed_values(build, words):
  check_error_names(build, words)


def check_error_names(build, words):
  """build() raises a ValueError whose message holds each of `words`."""
  with pytest.raises(ValueError) as err:
    build()
  for word in words:
    assert word in str(err.value), (word, str(err.value))


@pytest.mark.parametrize('score_fn,shapes', [
    (lambda params, x, t: x[:, :1], ['(4, 1)', '(4, 2)']),
    (analytic.gmm_score_fn(make_sde('vp')), ['(4, 2)']),  # params of a 3-D mixture
])
@pytest.mark.parametrize('method', ['pc', 'ode'])
def test_score_shape_mismatch_fails_at_trace_time_naming_the_shapes(score_fn, shapes, method):
  sde = make_sde('vp', N=50)
  params = _gaussian(d=3)
  build = samplers.get_pc_sampler if method == 'pc' else samplers.get_ode_sampler
  sample = build(sde, score_fn, (4, 2))
  with pytest.raises(ValueError) as err:
    jax.eval_shape(sample, jax.random.PRNGKey(0), params)
  for shape in shapes:
    assert shape in str(err.value), str(err.value)
