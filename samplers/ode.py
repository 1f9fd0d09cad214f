"""The probability-flow ODE sampler: an adaptive diffrax solve from T to eps, on the device.

A prior sample z is carried by dx/dt = f(x, t) - g(t)^2 score(x, t) / 2 from
t = T down to t = eps. The map z -> x is deterministic and invertible, which
is what makes exact likelihoods and latent-space manipulation possible.
"""
import diffrax
import jax
import jax.numpy as jnp

from samplers import _common
from samplers.predictors import ReverseDiffusionPredictor
from utils import ode_solvers

# The solver names a config may give (one table with the likelihood's): 'euler'
# takes sde.N fixed steps, the others adapt theirs (PIDController(rtol, atol)).
SOLVERS = ode_solvers.SOLVERS

# First step of the adaptive solvers, as a fraction of T (diffrax's own choice
# for a reversed-time solve is this same 0.01); the controller adapts it from there.
INITIAL_STEP = 0.01


def get_ode_sampler(sde, score_fn, shape, rtol=1e-5, atol=1e-5, solver=diffrax.Dopri5(),
                    denoise=False, eps=1e-3, dtype=None, stepsize_controller=None, dt0=None,
                    max_steps=None):
  """A probability-flow ODE sampler: a pure, jitted `sample(rng, params, z=None) -> (x, nfe)`.

  Args:
    sde: the forward SDE (`sde_lib`).
    score_fn: `score_fn(params, x, t) -> score shaped like x`, `t` of shape (batch,).
    shape: shape of the sample batch, batch first.
    rtol, atol: tolerances of the default PID step-size controller (error
      measured as the RMS norm over the whole batch, as the original's scipy
      solve did on the flattened batch); unused with a `stepsize_controller`.
    solver: a diffrax solver object: Euler or any explicit Runge-Kutta solver
      (`diffrax.AbstractERK`: Dopri5, Tsit5, Dopri8, Bosh3, Heun, Midpoint,
      Ralston, ...). A name of `SOLVERS` ('dopri5', 'rk45' (= dopri5),
      'tsit5', 'dopri8', 'bosh3', 'heun', 'euler') is still accepted.
    denoise: after the solve, one reverse-diffusion step at eps, keeping its
      mean (Tweedie-like denoising; the original's `noise_removal`).
    eps: the time the solve stops at, in (0, T).
    dtype: dtype of the samples; None takes that of the floating leaves of
      `params` (float32 if none).
    stepsize_controller: a diffrax step-size controller; None:
      `PIDController(rtol, atol)` for an adaptive solver, `ConstantStepSize()`
      for Euler (sde.N steps, as the original's Euler-Maruyama grid).
    dt0: size (> 0) of the first step, or of every step with
      `ConstantStepSize`; None: `INITIAL_STEP * T` for adaptive steps,
      (T - eps) / sde.N for constant ones. Not used with `StepTo`.
    max_steps: the solver's step budget (accepted + rejected); None:
      `utils.ode_solvers.MAX_STEPS`. Running out raises at run time.

  Returns `sample(rng, params, z=None) -> (x, nfe)`. `z`, if given, is the
  prior sample to carry (of `shape`); otherwise it is drawn with `rng`. `nfe`
  counts every score evaluation exactly: the solver's new stages for every
  step tried, accepted or rejected (6 for dopri5 and tsit5, 13 for dopri8, 3
  for bosh3, 2 for heun, 1 for euler), plus 1 for the first stage at T of the
  first-same-as-last solvers (all but heun and euler), plus 1 for `denoise`.
  """
  solver = ode_solvers.check_solver(solver)
  controller = ode_solvers.check_controller(solver, stepsize_controller, rtol, atol)
  max_steps = ode_solvers.check_max_steps(max_steps)
  if dt0 is not None:
    dt0 = ode_solvers.check_positive('dt0', dt0)
  shape = _common.check_shape(shape)
  denoise = _common.check_bool('denoise', denoise)
  eps = _common.check_eps(eps, sde)

  def drift(t, x, params):
    rsde = sde.reverse(_common.bind_score(score_fn, params), probability_flow=True)
    return rsde.sde(x, jnp.full(x.shape[:1], t, x.dtype))[0]

  def sample(rng, params, z=None):
    x_dtype = _common.sample_dtype(params, dtype)
    prior_rng, denoise_rng = jax.random.split(rng)
    if z is None:
      x = sde.prior_sampling(prior_rng, shape, x_dtype)
    else:
      if jnp.shape(z) != shape:
        raise ValueError(f"z has shape {jnp.shape(z)}; the sampler was built for shape {shape}")
      x = jnp.asarray(z, x_dtype)
    # INITIAL_STEP is read at trace time, so a test may change it.
    first_step = ode_solvers.initial_step(controller, dt0, (sde.T - eps) / sde.N,
                                          INITIAL_STEP * sde.T)
    x, nfe = ode_solvers.solve(drift, solver, controller, sde.T, eps, first_step, x, params,
                               max_steps)
    if denoise:
      score = _common.bind_score(score_fn, params)
      t = jnp.full(shape[:1], eps, x_dtype)
      _, x = ReverseDiffusionPredictor(sde, score).update_fn(denoise_rng, x, t)
      nfe = nfe + 1
    return x, nfe

  return jax.jit(sample)
