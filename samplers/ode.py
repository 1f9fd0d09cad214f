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

# name -> diffrax solver (one table with the likelihood's). 'euler' takes sde.N
# fixed steps and ignores rtol/atol; the others are adaptive (PIDController(rtol, atol)).
SOLVERS = ode_solvers.SOLVERS

# Upper bound on solver steps (accepted + rejected). A solve that needs more
# fails loudly instead of running forever; 10k steps is far beyond what
# rtol = atol = 1e-5 needs for the paper's SDEs.
MAX_STEPS = 10_000

# First step of the adaptive solvers, as a fraction of T.
INITIAL_STEP = 0.01


def get_ode_sampler(sde, score_fn, shape, rtol=1e-5, atol=1e-5, solver='dopri5', denoise=False,
                    eps=1e-3, dtype=None):
  """A probability-flow ODE sampler: a pure, jitted `sample(rng, params, z=None) -> (x, nfe)`.

  Args:
    sde: the forward SDE (`sde_lib`).
    score_fn: `score_fn(params, x, t) -> score shaped like x`, `t` of shape (batch,).
    shape: shape of the sample batch, batch first.
    rtol, atol: tolerances of the PID step-size controller (error measured
      as the RMS norm over the whole batch, as the original's scipy solve did on
      the flattened batch).
    solver: one of `SOLVERS` ('dopri5', 'rk45' (= dopri5), 'tsit5', 'dopri8',
      'bosh3', 'heun', 'euler').
    denoise: after the solve, one reverse-diffusion step at eps, keeping its
      mean (Tweedie-like denoising; the original's `noise_removal`).
    eps: the time the solve stops at, in (0, T).
    dtype: dtype of the samples; None takes that of the floating leaves of
      `params` (float32 if none).

  Returns `sample(rng, params, z=None) -> (x, nfe)`. `z`, if given, is the
  prior sample to carry (of `shape`); otherwise it is drawn with `rng`. `nfe`
  counts every score evaluation exactly: the solver's new stages for every
  step tried, accepted or rejected (6 for dopri5 and tsit5, 13 for dopri8, 3
  for bosh3, 2 for heun, 1 for euler), plus 1 for the first stage at T of the
  first-same-as-last solvers (all but heun and euler), plus 1 for `denoise`.
  """
  solver_ = _common.lookup('solver', solver, SOLVERS)()
  adaptive = not isinstance(solver_, diffrax.Euler)
  if adaptive:
    rtol = _common.check_positive('rtol', rtol)
    atol = _common.check_positive('atol', atol)
  shape = _common.check_shape(shape)
  denoise = _common.check_bool('denoise', denoise)
  eps = _common.check_eps(eps, sde)

  def drift(t, x, params):
    rsde = sde.reverse(_common.bind_score(score_fn, params), probability_flow=True)
    return rsde.sde(x, jnp.full(x.shape[:1], t, x.dtype))[0]

  term = diffrax.ODETerm(drift)

  def sample(rng, params, z=None):
    x_dtype = _common.sample_dtype(params, dtype)
    prior_rng, denoise_rng = jax.random.split(rng)
    if z is None:
      x = sde.prior_sampling(prior_rng, shape, x_dtype)
    else:
      if jnp.shape(z) != shape:
        raise ValueError(f"z has shape {jnp.shape(z)}; the sampler was built for shape {shape}")
      x = jnp.asarray(z, x_dtype)
    if adaptive:
      controller = diffrax.PIDController(rtol=rtol, atol=atol)
      # An explicit first step (diffrax's own choice is this same 0.01 for a
      # reversed-time solve); the controller adapts it from there.
      dt0 = -INITIAL_STEP * sde.T
    else:
      controller = diffrax.ConstantStepSize()
      dt0 = -(sde.T - eps) / sde.N
    # Times in the dtype of x: diffrax would otherwise promote a float32 state
    # to float64 times when x64 is enabled.
    t0, t1, dt0 = (jnp.asarray(v, x_dtype) for v in (sde.T, eps, dt0))
    # For FSAL solvers, their first stage f(T, z) up front: the count below is then exact.
    solver_state = ode_solvers.first_stage_state(solver_, lambda: drift(t0, x, params))
    solution = diffrax.diffeqsolve(
        term, solver_, t0=t0, t1=t1, dt0=dt0, y0=x, args=params,
        stepsize_controller=controller, solver_state=solver_state,
        saveat=diffrax.SaveAt(t1=True), max_steps=MAX_STEPS)
    x = solution.ys[0]
    nfe = ode_solvers.evaluations(solver_, solution.stats['num_steps'])
    if denoise:
      score = _common.bind_score(score_fn, params)
      t = jnp.full(shape[:1], eps, x_dtype)
      _, x = ReverseDiffusionPredictor(sde, score).update_fn(denoise_rng, x, t)
      nfe = nfe + 1
    return x, jnp.asarray(nfe, jnp.int32)

  return jax.jit(sample)
