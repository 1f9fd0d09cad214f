"""Solver objects and step-size controllers of the probability-flow ODE solves (utils/ode_solvers).

The ODE sampler, the likelihood and the controllable ODE samplers take any
diffrax explicit Runge-Kutta solver object (or Euler) and any step-size
controller; names remain for configs. Checked here, in float64 against
closed forms:
  - the fixed-step solution (ConstantStepSize with dt0) converges to the
    closed-form flow of a Gaussian at the solver's order, for solvers that
    have no name in the table (Midpoint, Ralston) as for named ones (Euler,
    Bosh3, FSAL);
  - nfe is exact (the score's evaluations counted at run time by a host
    callback) for unnamed solvers, custom controllers (ConstantStepSize,
    StepTo, a PIDController of one's own) and rejected first steps;
  - the likelihood with an unnamed adaptive solver matches the exact change
    of variables; with Euler at constant steps its error falls at order 1;
  - one step budget (`ode_solvers.MAX_STEPS`) is the default of the sampler
    and of the likelihood, and `max_steps` overrides it in both;
  - a bad solver, controller, dt0 or max_steps is a ValueError naming it.
"""
import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import likelihood
import samplers
from models import analytic
from test_likelihood import (EPS as LIKELIHOOD_EPS, SDES, _anisotropic_gmm,
                             _change_of_variables, _counting_score_fn, _solve)
from test_samplers import (_config, _gaussian, _recording_score_fn, check_error_names,
                           closed_form_flow, make_sde)
from utils import ode_solvers

EPS = 1e-3


def _fixed_step_run(solver, n, sde_name='vp'):
  """(x, nfe, score evaluations counted, closed-form x) of n constant steps from T to EPS."""
  sde = make_sde(sde_name)
  gauss = _gaussian()
  score_fn, calls = _recording_score_fn(sde)
  sample = samplers.get_ode_sampler(sde, score_fn, (8, 3), solver=solver, eps=EPS,
                                    stepsize_controller=diffrax.ConstantStepSize(),
                                    dt0=(sde.T - EPS) / n)
  z = sde.prior_sampling(jax.random.PRNGKey(3), (8, 3), jnp.float64)
  x, nfe = jax.block_until_ready(sample(jax.random.PRNGKey(4), gauss, z))
  return np.asarray(x), int(nfe), len(calls), closed_form_flow(sde, gauss, z, EPS)


@pytest.mark.parametrize('solver,order,per_step,fsal', [
    (diffrax.Euler(), 1, 1, 0), (diffrax.Midpoint(), 2, 2, 0), (diffrax.Ralston(), 2, 2, 0),
    (diffrax.Bosh3(), 3, 3, 1)], ids=['euler', 'midpoint', 'ralston', 'bosh3'])
def test_constant_steps_converge_at_the_solver_order_with_exact_nfe(solver, order, per_step,
                                                                    fsal):
  """ConstantStepSize with dt0 = (T - eps) / n: nfe = fsal + stages * n, all counted at run time;
  the error to the closed-form flow falls as n^-order (slopes over n = 32, 64, 128)."""
  errors = []
  for n in (32, 64, 128):
    x, nfe, calls, expected = _fixed_step_run(solver, n)
    assert nfe == calls == fsal + per_step * n
    errors.append(np.max(np.abs(x - expected)))
  slopes = np.log2(np.asarray(errors[:-1]) / np.asarray(errors[1:]))
  assert np.all(np.abs(slopes - order) < 0.25), (errors, slopes)


@pytest.mark.parametrize('solver,controller', [
    (diffrax.Ralston(), None),
    (diffrax.Midpoint(), diffrax.PIDController(rtol=1e-6, atol=1e-6, pcoeff=0.2, icoeff=0.4)),
    (diffrax.Tsit5(), diffrax.PIDController(rtol=1e-6, atol=1e-6, dtmax=0.05)),  # FSAL
    (diffrax.Heun(), diffrax.StepTo(jnp.linspace(1., EPS, 41))),
], ids=['ralston-default', 'midpoint-pid', 'tsit5-pid-dtmax', 'heun-stepto'])
def test_sampler_nfe_is_exact_for_unnamed_solvers_and_custom_controllers(solver, controller,
                                                                         monkeypatch):
  """nfe equals the score evaluations counted at run time, a rejected first step (0.9 T)
  included; the map is the closed-form flow to the tolerance (1e-4). StepTo's 40 even steps
  give what ConstantStepSize with the same dt0 gives."""
  monkeypatch.setattr(samplers.ode, 'INITIAL_STEP', 0.9)
  sde = make_sde('vp')
  gauss = _gaussian()
  score_fn, calls = _recording_score_fn(sde)
  sample = samplers.get_ode_sampler(sde, score_fn, (8, 3), rtol=1e-6, atol=1e-6, solver=solver,
                                    eps=EPS, stepsize_controller=controller)
  z = sde.prior_sampling(jax.random.PRNGKey(3), (8, 3), jnp.float64)
  x, nfe = jax.block_until_ready(sample(jax.random.PRNGKey(4), gauss, z))
  assert int(nfe) == len(calls) > 0
  if isinstance(controller, diffrax.StepTo):
    x_constant, nfe_constant, _, _ = _fixed_step_run(diffrax.Heun(), 40)
    assert int(nfe) == nfe_constant == 2 * 40
    np.testing.assert_allclose(np.asarray(x), x_constant, rtol=1e-12, atol=1e-12)
    return
  if not ode_solvers.stages(solver)[1]:   # not FSAL: a retry from T evaluates f(T) again
    assert calls.count(sde.T) >= 2       # the first step (0.9 T) was rejected
  np.testing.assert_allclose(np.asarray(x), closed_form_flow(sde, gauss, z, EPS), rtol=0,
                             atol=1e-4)


def test_likelihood_with_an_unnamed_solver_matches_the_change_of_variables():
  """Ralston (adaptive, no name) + its own PIDController: nfe counted exactly; logp equals the
  exact change of variables at the solve's own endpoint z to 1e-4 nats."""
  sde = SDES['vp']
  gmm = _anisotropic_gmm(2, seed=2)
  x = analytic.gmm_sample(jax.random.PRNGKey(2), gmm, 4)
  fn = likelihood.get_likelihood_fn(
      sde, _counting_score_fn(sde), estimator='exact', eps=LIKELIHOOD_EPS,
      solver=diffrax.Ralston(), stepsize_controller=diffrax.PIDController(rtol=1e-7, atol=1e-7))
  logp, z, nfe, calls = _solve(fn, None, gmm, x)
  assert nfe == calls > 0
  np.testing.assert_allclose(logp, _change_of_variables(sde, gmm, x, z), rtol=0, atol=1e-4)


def test_likelihood_with_euler_at_constant_steps_converges_at_order_one():
  """Euler needs an explicit controller in the likelihood; with ConstantStepSize and dt0 it
  takes exactly n steps (nfe = n) and its logp error to the tight Dopri5 answer halves with dt."""
  sde = SDES['vp']
  gmm = _anisotropic_gmm(2, seed=2)
  x = analytic.gmm_sample(jax.random.PRNGKey(2), gmm, 4)
  reference = likelihood.get_likelihood_fn(sde, analytic.gmm_score_fn(sde), estimator='exact',
                                           rtol=1e-9, atol=1e-9, eps=LIKELIHOOD_EPS)
  exact = np.asarray(reference(None, gmm, x)[0])
  errors = []
  for n in (100, 200):
    fn = likelihood.get_likelihood_fn(
        sde, _counting_score_fn(sde), estimator='exact', eps=LIKELIHOOD_EPS,
        solver=diffrax.Euler(), stepsize_controller=diffrax.ConstantStepSize(),
        dt0=(sde.T - LIKELIHOOD_EPS) / n)
    logp, _, nfe, calls = _solve(fn, None, gmm, x)
    assert nfe == calls == n
    errors.append(np.max(np.abs(logp - exact)))
  assert 1.7 < errors[0] / errors[1] < 2.3, errors


def test_controllable_ode_samplers_take_solver_objects_and_controllers():
  """The inpainter and the conditional sampler pass solver, controller and dt0 on: Midpoint at
  10 constant steps costs exactly 20 evaluations, the known coordinates stay the data."""
  sde = make_sde('vp')
  gmm = analytic.gmm([.5, .5], [[-1., 0.], [1., 0.]], [np.eye(2) * .3] * 2)
  fixed = dict(solver=diffrax.Midpoint(), stepsize_controller=diffrax.ConstantStepSize(),
               dt0=(sde.T - EPS) / 10, eps=EPS)
  inpaint = samplers.get_ode_inpainter(sde, analytic.gmm_score_fn(sde), (4, 2), **fixed)
  data = jnp.asarray([[0.3, 9.], [-0.2, 9.], [0.1, 9.], [0., 9.]])
  x, nfe = inpaint(jax.random.PRNGKey(0), gmm, data, jnp.asarray([1., 0.]))
  assert int(nfe) == 20
  np.testing.assert_array_equal(np.asarray(x)[:, 0], np.asarray(data)[:, 0])
  sample = samplers.get_ode_conditional_sampler(
      sde, analytic.gmm_score_fn(sde), analytic.gmm_class_logit_fn(sde), (4, 2), **fixed)
  x, nfe = sample(jax.random.PRNGKey(0), gmm, gmm, jnp.asarray([0, 1, 0, 1]))
  assert int(nfe) == 20 and np.all(np.isfinite(np.asarray(x)))


def test_one_step_budget_is_the_default_of_sampler_and_likelihood(monkeypatch):
  """With MAX_STEPS set to 5, the sampler (Euler, N = 50 steps) and the likelihood (Heun at
  50 constant steps) built with defaults run out of steps; max_steps=50 lets both finish."""
  sde = make_sde('vp', N=50)
  gmm = _anisotropic_gmm(2, seed=2)
  x = analytic.gmm_sample(jax.random.PRNGKey(2), gmm, 4)
  score_fn = analytic.gmm_score_fn(sde)
  fixed = dict(solver=diffrax.Heun(), stepsize_controller=diffrax.ConstantStepSize(),
               dt0=(sde.T - LIKELIHOOD_EPS) / 50, estimator='exact', eps=LIKELIHOOD_EPS)
  monkeypatch.setattr(ode_solvers, 'MAX_STEPS', 5)
  runs = {
      'sampler': lambda **kw: samplers.get_ode_sampler(sde, score_fn, (4, 2), solver='euler',
                                                       **kw)(jax.random.PRNGKey(0), gmm),
      'likelihood': lambda **kw: likelihood.get_likelihood_fn(sde, score_fn, **fixed, **kw)(
          None, gmm, x),
  }
  for name, run in runs.items():
    with pytest.raises(Exception, match='maximum number of solver steps'):
      jax.block_until_ready(run())
    assert int(run(max_steps=50)[-1]) in (50, 100), name   # Euler: 50; Heun: 2 x 50


def _ode(**kw):
  sde = make_sde('vp')
  return samplers.get_ode_sampler(sde, analytic.gmm_score_fn(sde), (4, 2), **kw)


def _loglik(**kw):
  sde = SDES['vp']
  return likelihood.get_likelihood_fn(sde, analytic.gmm_score_fn(sde), **kw)


@pytest.mark.parametrize('build,words', [
    (lambda: _ode(solver=object()), ['solver=', 'not a diffrax solver', 'Dopri5']),
    (lambda: _ode(solver=diffrax.Kvaerno3()), ['solver=Kvaerno3', 'explicit Runge-Kutta']),
    (lambda: _ode(solver=diffrax.ReversibleHeun()), ['solver=ReversibleHeun', 'AbstractERK']),
    (lambda: _ode(stepsize_controller='pid'),
     ['stepsize_controller=', "'pid'", 'PIDController', 'ConstantStepSize']),
    (lambda: _ode(stepsize_controller=diffrax.PIDController),
     ['stepsize_controller=', 'not a diffrax step-size controller']),
    (lambda: _ode(solver=diffrax.Euler(), stepsize_controller=diffrax.PIDController(1e-3, 1e-3)),
     ['stepsize_controller=PIDController', 'Euler', 'ConstantStepSize']),
    (lambda: _ode(stepsize_controller=diffrax.ClipStepSizeController(
        diffrax.PIDController(1e-3, 1e-3), jump_ts=[0.5])), ['stepsize_controller', 'jump_ts']),
    (lambda: _ode(max_steps=0), ['max_steps', 'positive integer', '0']),
    (lambda: _ode(max_steps=1.5), ['max_steps', 'positive integer']),
    (lambda: _ode(dt0=-0.1), ['dt0', '> 0', '-0.1']),
    (lambda: _loglik(solver=object()), ['solver=', 'not a diffrax solver']),
    (lambda: _loglik(stepsize_controller=1e-3), ['stepsize_controller=0.001']),
    (lambda: _loglik(solver=diffrax.Euler()),
     ['solver=Euler', 'no error estimate', 'stepsize_controller=diffrax.ConstantStepSize()']),
    (lambda: _loglik(max_steps=-3), ['max_steps', '-3']),
    (lambda: samplers.get_ode_colorizer(make_sde('vp'), None, (4, 1, 3), stepsize_controller=3),
     ['stepsize_controller=3']),
    (lambda: samplers.get_sampler(_config(method='ode', ode_solver='rk4'), make_sde('vp'), None,
                                  (4, 2)),
     ['config.sampling', 'sampling.ode_solver=', "'rk4'", 'dopri5', 'euler']),
])
def test_bad_solver_arguments_are_named(build, words):
  check_error_names(build, words)


def test_config_names_resolve_to_the_same_solve_as_objects():
  """sampling.ode_solver='heun' (resolved by solver_from_name) samples exactly as diffrax.Heun()."""
  sde = make_sde('vp', N=50)
  gmm = _gaussian()
  config = _config(method='ode', rtol=1e-4, atol=1e-4, ode_solver='heun', noise_removal=False)
  by_name = samplers.get_sampler(config, sde, analytic.gmm_score_fn(sde), (4, 3))
  by_object = samplers.get_ode_sampler(sde, analytic.gmm_score_fn(sde), (4, 3), rtol=1e-4,
                                       atol=1e-4, solver=diffrax.Heun(), eps=EPS)
  (x1, n1), (x2, n2) = (f(jax.random.PRNGKey(0), gmm) for f in (by_name, by_object))
  np.testing.assert_array_equal(np.asarray(x1), np.asarray(x2))
  assert int(n1) == int(n2) > 0
