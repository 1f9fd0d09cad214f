"""The fast probability-flow samplers (DDIM, DPM-Solver(++), EDM's Heun) against exact answers.

Convergence order. With the exact score of a 2-D Gaussian mixture (float64),
each deterministic solver's output is compared with a tight adaptive solve of
the same probability-flow ODE from the same prior draw (diffrax Dopri8,
rtol = atol = 1e-10, then the same final denoising with the exact score).
The slope of log(RMS error) against log(NFE), fitted by least squares over
four step counts a factor 2 apart, must be within 0.25 of the solver's
order: DDIM 1, EDM Heun 2, singlestep DPM-Solver-2 2 and -3 3, multistep
DPM-Solver++(2M) 2 and (3M) 3, for VP, sub-VP and VE. The step counts sit in
each solver's asymptotic range (found by halving until the local slopes
settle) and keep the errors >= 1e-6, far above the reference's 1e-10.
The reference implementation's third-order multistep step converges at
order 2 here (`test_reference_3m_term_is_second_order`): its D2 is half the
second-derivative term the expansion needs (samplers/dpm_solver.py).

Distribution. Each sampler draws 4000 float32 samples of the 2-D x 6-D
product mixture of tests/test_samplers.py, which must match its mean
log-density, mean and covariance within that file's bound: Z = 5 standard
errors plus a bias budget rho relative to the variances
(`test_samplers.check_samples`; in 8-D a budget rho moves the mean
log-density by 4 rho nats). The deterministic samplers run at about 50
evaluations: rho = 0.01 for DPM-Solver of order >= 2 (at 50 evaluations its
error against the exact flow is below 1% of a standard deviation, the
adaptive ODE sampler's budget), 0.04 for DDIM (first order: a few per cent
at 50 steps, as the PC samplers' discretisation budget) and 0.05 for EDM's
Heun. EDM's levels (rho = 7) from sigma(T) = 152 on VP and sub-VP put about
30% of its 25 levels where this mixture's structure is (sigma in [0.05, 2]),
against about 50% on VE (sigma(T) = 10), and at 39-79 evaluations it is
0.2-0.04 RMS off the exact flow on VP (the order test), so 49 evaluations
leave it 0.25-0.33 nats (VP, sub-VP) off the mean log-density. The
stochastic samplers (DDIM with eta = 1; EDM with churn) converge in
distribution at first order only: at 50 evaluations they are 0.6-0.75 nats
off on VP; they run at about 200 evaluations with the PC budget rho = 0.04
(measured gaps 0.27 and 0.05 nats on VP, falling to 0.07 and 0.04 at 800).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import samplers
import sde_lib
from models import analytic
from samplers import _noise_schedule as ns
from samplers import dpm_solver
from test_samplers import (N_SAMPLES, _recording_score_fn, check_error_names, check_samples,
                           float32, make_sde, reference)
from test_samplers import _config as sampler_config
from utils import config_checks

# ---------------------------------------------------------------- convergence


def _mixture_2d():
  """Three overlapping anisotropic components: the flow bends, the score stays smooth."""
  return analytic.gmm([0.5, 0.3, 0.2], [[-1., 0.5], [1., 1.], [0.5, -1.]],
                      [[[0.3, 0.1], [0.1, 0.2]], [[0.2, 0.], [0., 0.4]],
                       [[0.25, -0.05], [-0.05, 0.15]]])


ORDER_SHAPE = (32, 2)


def _order_sde(name):
  return {'vp': sde_lib.VPSDE(), 'subvp': sde_lib.subVPSDE(),
          've': sde_lib.VESDE(sigma_min=0.01, sigma_max=10.)}[name]


@functools.cache
def _flow_reference(sde_name):
  """(prior draw z, rng, exact-flow end point at eps, denoised) for the order tests."""
  sde = _order_sde(sde_name)
  gmm, score_fn = _mixture_2d(), analytic.gmm_score_fn(sde)
  eps = samplers.default_eps(sde)
  rng = jax.random.PRNGKey(0)
  # Every sampler draws its prior sample with the first half of rng.
  z = sde.prior_sampling(jax.random.split(rng)[0], ORDER_SHAPE, jnp.float64)
  solve = samplers.get_ode_sampler(sde, score_fn, ORDER_SHAPE, rtol=1e-10, atol=1e-10,
                                   solver='dopri8', eps=eps)
  x_eps, _ = solve(rng, gmm, z)
  m, s = ns.marginals(sde, eps)
  denoised = (x_eps + s ** 2 * score_fn(gmm, x_eps, jnp.full(ORDER_SHAPE[:1], eps))) / m
  return z, rng, np.asarray(denoised)


# name -> (order, builder(sde, score_fn, num_steps), step counts)
SOLVERS = {
    'ddim': (1, lambda sde, f, n: samplers.get_ddim_sampler(sde, f, ORDER_SHAPE, num_steps=n),
             (40, 80, 160, 320)),
    'edm_heun': (2, lambda sde, f, n: samplers.get_edm_sampler(sde, f, ORDER_SHAPE, num_steps=n),
                 (20, 40, 80, 160)),
    'dpm_solver_2': (2, lambda sde, f, n: samplers.get_dpm_solver_sampler(
        sde, f, ORDER_SHAPE, num_steps=n, order=2, method='singlestep'), (20, 40, 80, 160)),
    'dpm_solver_3': (3, lambda sde, f, n: samplers.get_dpm_solver_sampler(
        sde, f, ORDER_SHAPE, num_steps=n, order=3, method='singlestep'), (96, 192, 384, 768)),
    'dpm_solver++_2m': (2, lambda sde, f, n: samplers.get_dpm_solver_sampler(
        sde, f, ORDER_SHAPE, num_steps=n, order=2, method='multistep'), (20, 40, 80, 160)),
    'dpm_solver++_3m': (3, lambda sde, f, n: samplers.get_dpm_solver_sampler(
        sde, f, ORDER_SHAPE, num_steps=n, order=3, method='multistep'), (20, 40, 80, 160)),
    # The noise-prediction forms of the third-order steps (DPM-Solver-3, its 3M).
    'dpm_solver_3_noise': (3, lambda sde, f, n: samplers.get_dpm_solver_sampler(
        sde, f, ORDER_SHAPE, num_steps=n, order=3, method='singlestep', predict='noise'),
        (48, 96, 192, 384)),
    'dpm_solver_3m_noise': (3, lambda sde, f, n: samplers.get_dpm_solver_sampler(
        sde, f, ORDER_SHAPE, num_steps=n, order=3, method='multistep', predict='noise'),
        (40, 80, 160, 320)),
}


def _observed_order(sde_name, build, steps):
  """Least-squares slope of -log(RMS error) against log(NFE), and the (NFE, error) pairs."""
  z, rng, ref = _flow_reference(sde_name)
  sde = _order_sde(sde_name)
  nfes, errors = [], []
  for n in steps:
    x, nfe = build(sde, analytic.gmm_score_fn(sde), n)(rng, _mixture_2d(), z)
    assert x.dtype == jnp.float64
    nfes.append(int(nfe))
    errors.append(float(np.sqrt(np.mean(np.sum((np.asarray(x) - ref) ** 2, -1)))))
  slope = -np.polyfit(np.log(nfes), np.log(errors), 1)[0]
  return slope, list(zip(nfes, errors))


@pytest.mark.slow
@pytest.mark.parametrize('sde_name', ['vp', 'subvp', 've'])
@pytest.mark.parametrize('solver', list(SOLVERS))
def test_convergence_order_against_the_exact_flow(solver, sde_name):
  """Error against the tight adaptive solve falls as NFE^-order (module docstring)."""
  order, build, steps = SOLVERS[solver]
  slope, points = _observed_order(sde_name, build, steps)
  assert min(e for _, e in points) > 1e-7, points        # well above the reference's accuracy
  assert abs(slope - order) <= 0.25, f"{solver} on {sde_name}: slope {slope:.3f}, {points}"


@pytest.mark.slow
def test_reference_3m_term_is_second_order(monkeypatch):
  """With the reference code's D2 = (D1_0 - D1_1) / (r0 + r1) (half of h^2 x0''), 3M is order 2.

  This is the term the module docstring of samplers/dpm_solver.py names: the
  same step counts that give slope 3 with D2 = 2 (D1_0 - D1_1) / (r0 + r1) give 2.
  """
  monkeypatch.setattr(dpm_solver, '_D2_SCALE', 1.)
  _, build, _ = SOLVERS['dpm_solver++_3m']
  slope, points = _observed_order('vp', build, (40, 80, 160, 320))
  assert abs(slope - 2.) <= 0.25, f"slope {slope:.3f}, {points}"


# --------------------------------------------------------------- distribution

DIST_CASES = {
    # name: (builder(sde, score_fn, shape), nfe, rho)
    'ddim': (lambda sde, f, shape: samplers.get_ddim_sampler(sde, f, shape, num_steps=50),
             50, 0.04),
    'dpm_solver_2': (lambda sde, f, shape: samplers.get_dpm_solver_sampler(
        sde, f, shape, num_steps=49, order=2, method='singlestep'), 50, 0.01),
    'dpm_solver_3': (lambda sde, f, shape: samplers.get_dpm_solver_sampler(
        sde, f, shape, num_steps=48, order=3, method='singlestep'), 49, 0.01),
    'dpm_solver++_2m': (lambda sde, f, shape: samplers.get_dpm_solver_sampler(
        sde, f, shape, num_steps=49, order=2), 50, 0.01),
    'dpm_solver++_3m': (lambda sde, f, shape: samplers.get_dpm_solver_sampler(
        sde, f, shape, num_steps=49, order=3), 50, 0.01),
    'edm_heun': (lambda sde, f, shape: samplers.get_edm_sampler(sde, f, shape, num_steps=25),
                 49, 0.05),
    # The stochastic ones at about 200 evaluations (module docstring).
    'ddim_eta1': (lambda sde, f, shape: samplers.get_ddim_sampler(sde, f, shape, num_steps=200,
                                                                 eta=1.), 200, 0.04),
    'edm_heun_churn': (lambda sde, f, shape: samplers.get_edm_sampler(
        sde, f, shape, num_steps=100, s_churn=10., s_min=0.05, s_max=5.), 199, 0.04),
}


@pytest.mark.slow
@pytest.mark.parametrize('sde_name', ['vp', 'subvp', 've'])
@pytest.mark.parametrize('case', list(DIST_CASES))
def test_samples_match_the_mixture(case, sde_name):
  """Mean log-density, mean and covariance within 5 standard errors + rho (module docstring)."""
  build, expected_nfe, rho = DIST_CASES[case]
  sde = make_sde(sde_name)
  ref = reference('2d+6d')
  d = ref['mean'].shape[0]
  x, nfe = build(sde, analytic.gmm_score_fn(sde), (N_SAMPLES, d))(jax.random.PRNGKey(0),
                                                                  float32(ref['gmm']))
  assert x.dtype == jnp.float32 and x.shape == (N_SAMPLES, d)
  assert int(nfe) == expected_nfe
  check_samples(x, '2d+6d', rho)


# ----------------------------------------------------------------------- NFE


NFE_CASES = [
    # (builder kwargs, expected nfe)
    (('ddim', dict(num_steps=7)), 7),
    (('ddim', dict(num_steps=5, eta=0.5)), 5),
    (('dpm_solver', dict(num_steps=7, order=3, method='singlestep')), 8),   # 3 + 3 + 1, denoise
    (('dpm_solver', dict(num_steps=5, order=2, method='singlestep', predict='noise')), 6),
    (('dpm_solver', dict(num_steps=6, order=3, method='multistep')), 7),    # lower order final
    (('dpm_solver', dict(num_steps=12, order=2, method='multistep', schedule='time_quadratic')),
     13),
    (('edm', dict(num_steps=6)), 11),
    (('edm', dict(num_steps=4, s_churn=40.)), 7),
]
_BUILDERS = {'ddim': samplers.get_ddim_sampler, 'dpm_solver': samplers.get_dpm_solver_sampler,
             'edm': samplers.get_edm_sampler}


@pytest.mark.parametrize('spec,expected', NFE_CASES)
def test_nfe_counts_every_score_evaluation_and_ends_at_eps(spec, expected):
  """nfe equals the score calls counted on the host; the first is at T, the last at eps.

  (EDM with churn also raises the last level, sigma(eps), before its final
  Euler step, so its last evaluation is later than eps.)"""
  name, kwargs = spec
  sde = make_sde('vp')
  score_fn, times = _recording_score_fn(sde)
  x, nfe = _BUILDERS[name](sde, score_fn, (8, 2), **kwargs)(jax.random.PRNGKey(0),
                                                            reference('2d')['gmm'])
  x.block_until_ready()
  assert int(nfe) == len(times) == expected
  assert times[0] == pytest.approx(sde.T)
  if kwargs.get('s_churn'):
    assert times[-2] == pytest.approx(1e-3) and times[-1] > 1e-3
  else:
    assert times[-1] == pytest.approx(1e-3)
  assert np.all(np.isfinite(np.asarray(x)))


@pytest.mark.slow
def test_one_loop_one_score_call_site_and_jit():
  """Each sampler is one fori_loop whose body calls the score once; jit(sample) agrees."""
  sde = make_sde('vp')
  gmm = reference('2d')['gmm']
  calls = []

  def score_fn(params, x, t):
    calls.append(1)     # counted at trace time: call sites, not evaluations
    return analytic.gmm_score(sde, params, x, t)

  for sample in (samplers.get_ddim_sampler(sde, score_fn, (4, 2), num_steps=10, eta=0.3),
                 samplers.get_dpm_solver_sampler(sde, score_fn, (4, 2), num_steps=9, order=3,
                                                 method='singlestep'),
                 samplers.get_dpm_solver_sampler(sde, score_fn, (4, 2), num_steps=9, order=3),
                 samplers.get_edm_sampler(sde, score_fn, (4, 2), num_steps=5, s_churn=1.)):
    calls.clear()
    jaxpr = jax.make_jaxpr(sample)(jax.random.PRNGKey(0), gmm).jaxpr.eqns[0].params['jaxpr']
    loops = [e for e in jaxpr.eqns if e.primitive.name in ('scan', 'while')]
    assert len(loops) == 1 and len(calls) == 1
    x, nfe = sample(jax.random.PRNGKey(0), gmm)
    x_jit, nfe_jit = jax.jit(sample)(jax.random.PRNGKey(0), gmm)
    np.testing.assert_allclose(np.asarray(x), np.asarray(x_jit), rtol=1e-12)
    assert int(nfe) == int(nfe_jit)


@pytest.mark.slow
def test_samples_keep_the_dtype_of_the_params():
  sde = make_sde('ve')
  gmm = reference('2d')['gmm']
  for build in _BUILDERS.values():
    sample = build(sde, analytic.gmm_score_fn(sde), (4, 2))
    assert sample(jax.random.PRNGKey(0), float32(gmm))[0].dtype == jnp.float32
    assert sample(jax.random.PRNGKey(0), gmm)[0].dtype == jnp.float64


# ------------------------------------------------------------------ schedules


@pytest.mark.parametrize('sde_name', ['vp', 'subvp', 've'])
def test_schedules_and_the_inverse_of_the_log_snr(sde_name):
  """time_of_log_snr inverts lambda(t); 'logsnr' is uniform in lambda, the others in t, sqrt(t)."""
  sde = make_sde(sde_name)
  eps = samplers.default_eps(sde)
  t = np.linspace(eps, 1., 37)
  # to float64's resolution in lambda (|lambda| ~ 5 near eps: t to about 1e-15)
  np.testing.assert_allclose(ns.time_of_log_snr(sde, ns.log_snr(sde, t)), t, rtol=1e-12,
                             atol=1e-14)
  grid = ns.time_grid(sde, 'logsnr', 10, eps)
  assert grid[0] == sde.T and grid[-1] == eps
  np.testing.assert_allclose(np.diff(ns.log_snr(sde, grid)),
                             (ns.log_snr(sde, eps) - ns.log_snr(sde, 1.)) / 10, rtol=1e-10)
  np.testing.assert_allclose(np.diff(ns.time_grid(sde, 'time_uniform', 10, eps)),
                             (eps - 1.) / 10, rtol=1e-12)
  np.testing.assert_allclose(np.diff(np.sqrt(ns.time_grid(sde, 'time_quadratic', 10, eps))),
                             (np.sqrt(eps) - 1.) / 10, rtol=1e-12)


# ------------------------------------------------------------------ config


def _config(**sampling):
  """test_samplers' sampling config, without a corrector."""
  return sampler_config(**{'corrector': 'none', 'n_steps_each': 1, **sampling})


@pytest.mark.parametrize('fields,build', [
    (dict(method='ddim', num_steps=6, eta=0.5),
     lambda sde, f: samplers.get_ddim_sampler(sde, f, (4, 2), num_steps=6, eta=0.5)),
    (dict(method='dpm_solver', num_steps=7, order=3, dpm_method='singlestep',
          dpm_predict='noise', schedule='time_uniform'),
     lambda sde, f: samplers.get_dpm_solver_sampler(sde, f, (4, 2), num_steps=7, order=3,
                                                    method='singlestep', predict='noise',
                                                    schedule='time_uniform')),
    (dict(method='dpm_solver'),
     lambda sde, f: samplers.get_dpm_solver_sampler(sde, f, (4, 2))),
    (dict(method='edm_heun', num_steps=5, rho=3., s_churn=2., s_min=0.1, s_max=10., s_noise=1.01),
     lambda sde, f: samplers.get_edm_sampler(sde, f, (4, 2), num_steps=5, rho=3., s_churn=2.,
                                             s_min=0.1, s_max=10., s_noise=1.01)),
])
def test_get_sampler_reads_the_fast_sampler_fields(fields, build):
  """sampling.method selects the sampler; its fields reach it (same samples as a direct call)."""
  sde = make_sde('vp')
  gmm = reference('2d')['gmm']
  f = analytic.gmm_score_fn(sde)
  x, nfe = samplers.get_sampler(_config(**fields), sde, f, (4, 2))(jax.random.PRNGKey(1), gmm)
  x_direct, nfe_direct = build(sde, f)(jax.random.PRNGKey(1), gmm)
  np.testing.assert_array_equal(np.asarray(x), np.asarray(x_direct))
  assert int(nfe) == int(nfe_direct)


# --------------------------------------------------------------------- errors


def _dpm(**kwargs):
  sde = make_sde('vp')
  return samplers.get_dpm_solver_sampler(sde, analytic.gmm_score_fn(sde), **dict(dict(shape=(4, 2)), **kwargs))


def _edm(**kwargs):
  sde = make_sde('vp')
  return samplers.get_edm_sampler(sde, analytic.gmm_score_fn(sde), **dict(dict(shape=(4, 2)), **kwargs))


def _ddim(**kwargs):
  sde = make_sde('vp')
  return samplers.get_ddim_sampler(sde, analytic.gmm_score_fn(sde), **dict(dict(shape=(4, 2)), **kwargs))


@pytest.mark.parametrize('build,words', [
    (lambda: _dpm(order=4), ['order', '4', '1, 2, 3']),
    (lambda: _dpm(order=0), ['order', '0', '1, 2, 3']),
    (lambda: _dpm(order=True), ['order', 'True', '1, 2, 3']),
    (lambda: _dpm(method='adaptive'), ['method', "'adaptive'", 'singlestep', 'multistep']),
    (lambda: _dpm(predict='score'), ['predict', "'score'", 'data', 'noise']),
    (lambda: _dpm(schedule='karras'), ['schedule', "'karras'", 'logsnr', 'time_uniform',
                                       'time_quadratic']),
    (lambda: _dpm(num_steps=2, order=3), ['num_steps=2', '>= 3', 'order=3']),
    (lambda: _dpm(num_steps=1, order=2, method='singlestep'), ['num_steps=1', '>= 2', 'order=2']),
    (lambda: _dpm(num_steps=0, order=1), ['num_steps=0', 'a positive integer']),
    (lambda: _dpm(num_steps=10.), ['num_steps=10.0', 'int']),
    (lambda: _dpm(eps=0.), ['eps', '(0, T)']),
    (lambda: _ddim(num_steps=1), ['num_steps=1', '>= 2']),
    (lambda: _ddim(eta=1.5), ['eta=1.5', '[0.0, 1.0]']),
    (lambda: _ddim(eta=-0.1), ['eta=-0.1', '[0.0, 1.0]']),
    (lambda: _ddim(shape=(4, 0)), ['shape', 'positive ints']),
    (lambda: _edm(num_steps=1), ['num_steps=1', '>= 2']),
    (lambda: _edm(rho=0.), ['rho=0.0', '> 0']),
    (lambda: _edm(s_churn=-1.), ['s_churn=-1.0', '>= 0']),
    (lambda: _edm(s_min=1., s_max=0.5), ['s_max=0.5', '>= 1.0']),
    (lambda: _edm(s_noise=float('nan')), ['s_noise=nan']),
    (lambda: samplers.get_sampler(_config(method='unipc'), make_sde('vp'), None, (4, 2)),
     ['config.sampling.method', "'unipc'", 'pc', 'ode', 'ddim', 'dpm_solver', 'edm_heun']),
    (lambda: samplers.get_sampler(_config(method='dpm_solver', order=5), make_sde('vp'), None,
                                  (4, 2)),
     ['config.sampling', 'dpm_solver', 'order=5', '1, 2, 3']),
    (lambda: samplers.get_sampler(_config(method='dpm_solver', num_steps=2, order=3),
                                  make_sde('vp'), None, (4, 2)),
     ['config.sampling', 'num_steps=2', '>= 3']),
])
def test_invalid_arguments_are_named_with_the_allowed_values(build, words):
  check_error_names(build, words)


@pytest.mark.parametrize('field,value,words', [
    ('method', 'unipc', ['config.sampling.method', 'ddim', 'dpm_solver', 'edm_heun']),
    ('order', 4, ['config.sampling.order', '1, 2, 3']),
    ('dpm_method', 'adaptive', ['config.sampling.dpm_method', 'singlestep, multistep']),
    ('dpm_predict', 'score', ['config.sampling.dpm_predict', 'data, noise']),
    ('schedule', 'karras', ['config.sampling.schedule', 'logsnr, time_uniform, time_quadratic']),
])
def test_start_up_check_reads_the_samplers_allowed_values(field, value, words):
  """utils/config_checks.py lists the samplers' own tuples (one home for allowed values)."""
  from configs.digits import ddpmpp_vp
  config = ddpmpp_vp.get_config()
  config_checks.validate(config)
  config.sampling[field] = value
  with pytest.raises(config_checks.ConfigError) as err:
    config_checks.validate(config)
  for word in words:
    assert word in str(err.value), (word, str(err.value))
