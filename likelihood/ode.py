"""Exact log-likelihood of data under a score model, through the probability-flow ODE.

The probability-flow ODE dx/dt = f(x, t) - g(t)^2 score(x, t) / 2 carries
p_eps to p_T. Along a solution x(t), the instantaneous change of variables
(Chen et al. 2018) gives d log p_t(x(t)) / dt = -div_x drift(x(t), t), so

  log p_eps(x) = log p_T(x(T)) + int_eps^T div drift(x(t), t) dt,

where the model's p_T is the SDE's prior. This module integrates x(t) and the
divergence integral jointly from eps to T with diffrax, on the device, with an
adaptive step (PIDController). The divergence is exact (D Jacobian-vector
products) or a Hutchinson estimate whose probe is drawn once per call and kept
along the trajectory (Song et al. 2021, appendix D.2; Grathwohl et al. 2019),
which makes the log-likelihood estimate unbiased.
"""
import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp

from likelihood import divergence
from utils import checks, ode_solvers

# The solver names the likelihood accepts: the adaptive ones of the sampler's
# table ('rk45' = 'dopri5', as the original's scipy solve called it).
SOLVERS = {name: ode_solvers.SOLVERS[name] for name in ode_solvers.ADAPTIVE}


def _as_float(name, value, allowed):
  """`value` as a Python float, or a ValueError naming the argument and what is `allowed`."""
  try:
    if checks.is_bool(value) or isinstance(value, str):
      raise TypeError
    number = float(value)
  except (TypeError, ValueError):
    raise ValueError(f"{name} must be {allowed}, got {value!r}") from None
  return number


def evaluations_per_solve(solver, num_steps):
  """Vector-field evaluations of `num_steps` steps (accepted or rejected) of `solver`.

  Exact for the solves `get_likelihood_fn` makes, rejected steps included:
  they hand FSAL solvers their first stage up front (`utils.ode_solvers`).
  tests/test_likelihood.py counts the evaluations at run time.
  """
  return ode_solvers.evaluations(solver, num_steps)


def get_likelihood_fn(sde, score_fn, estimator='rademacher', rtol=1e-5, atol=1e-5,
                      eps=1e-5, solver=diffrax.Dopri5(), max_steps=None, exact_chunk_size=256,
                      stepsize_controller=None, dt0=None):
  """A function computing log p(x) of a score model by the probability-flow ODE.

  Args:
    sde: the forward SDE (`sde_lib`), which gives the probability-flow drift
      and the prior p_T.
    score_fn: pure `score_fn(params, x, t) -> array shaped like x`, t: (batch,).
    estimator: divergence estimator, 'rademacher' or 'gaussian' (Hutchinson,
      one probe per call, fixed along the trajectory: unbiased) or 'exact'
      (D Jacobian-vector products per evaluation: for small D).
    rtol, atol: tolerances of the default PIDController. The state is the
      whole batch plus its log-density integrals, controlled jointly. Unused
      with a `stepsize_controller`.
    eps: start time of the integration; the result is the density of p_eps,
      the model's smoothed data distribution (0 < eps < sde.T).
    solver: a diffrax solver object: any explicit Runge-Kutta solver
      (`diffrax.AbstractERK`), or Euler with an explicit `stepsize_controller`.
      A name of `SOLVERS` ('dopri5' (alias 'rk45'), 'tsit5', 'dopri8',
      'bosh3', 'heun') is still accepted.
    max_steps: diffrax's step budget (accepted + rejected steps); None:
      `utils.ode_solvers.MAX_STEPS`. Running out raises at run time.
    exact_chunk_size: basis vectors vmapped together by the 'exact' estimator.
    stepsize_controller: a diffrax step-size controller; None:
      `PIDController(rtol, atol)` (a solver without an error estimate needs
      one given, e.g. `diffrax.ConstantStepSize()`).
    dt0: size (> 0) of the first step, or of every step with
      `ConstantStepSize`; None: diffrax's choice for adaptive steps,
      (T - eps) / sde.N for constant ones. Not used with `StepTo`.

  Returns:
    `loglik(rng, params, x) -> (logp, z, nfe)`: `logp` of shape (batch,),
    in nats, the log-density of x in model space (add the dequantisation
    offset with `likelihood.bits_per_dim`); `z` the latent x(T) shaped like
    x; `nfe` (int32 scalar) the number of drift evaluations, each of which ran
    the score function once. `rng` draws the probe and may be None for
    'exact'. `loglik` is pure: it may be jitted or vmapped. Concrete x with
    NaN/inf raises ValueError; under an outer jit the same check raises at
    run time (equinox.error_if).
  """
  estimator = str(estimator).lower()
  if estimator not in divergence.ESTIMATORS:
    raise ValueError(
        f"estimator={estimator!r} is unknown; allowed: {', '.join(divergence.ESTIMATORS)}")
  ode_solver = ode_solvers.check_solver(solver, names=SOLVERS)
  controller = ode_solvers.check_controller(ode_solver, stepsize_controller, rtol, atol,
                                            fixed_by_default=False)
  max_steps = ode_solvers.check_max_steps(max_steps)
  first_step = ode_solvers.initial_step(controller, dt0, (sde.T - eps) / sde.N, None)
  allowed_eps = f"a number in (0, T) = (0, {sde.T})"
  eps = _as_float('eps', eps, allowed_eps)
  if not 0 < eps < sde.T:
    raise ValueError(f"eps must be {allowed_eps}, got {eps!r}")
  checks.require_positive_int('exact_chunk_size', exact_chunk_size)

  def check_score_shape(params, x):
    t = jax.ShapeDtypeStruct(x.shape[:1], x.dtype)
    try:
      out = jax.eval_shape(score_fn, params, x, t)
    except Exception as err:  # re-raised with the shapes that caused it
      raise ValueError(
          f"score_fn(params, x, t) fails for x of shape {x.shape} and t of shape {t.shape}: "
          f"{type(err).__name__}: {err}") from err
    if not hasattr(out, 'shape') or tuple(out.shape) != tuple(x.shape):
      raise ValueError(
          f"score_fn returns {getattr(out, 'shape', type(out).__name__)} for x of shape "
          f"{x.shape}; the likelihood needs a score shaped like x")

  @jax.jit
  def core(rng, params, x):
    check_score_shape(params, x)  # at trace time: once per shape
    x = eqx.error_if(x, ~jnp.all(jnp.isfinite(x)), "likelihood: x contains NaN or inf")
    batch = x.shape[0]
    rsde = sde.reverse(lambda x_, t_: score_fn(params, x_, t_), probability_flow=True)
    probe = None
    if estimator != 'exact':
      probe = divergence.draw_probe(rng, estimator, x.shape, x.dtype)

    def vector_field(t, state, args):
      del args
      x_t, _ = state
      t_batch = jnp.full((batch,), t, dtype=x.dtype)
      drift_fn = lambda y: rsde.sde(y, t_batch)[0]
      drift, div = divergence.value_and_divergence(
          drift_fn, x_t, estimator, probe, exact_chunk_size)
      # d log p / dt = -div along the flow; integrating +div from eps to T
      # gives log p_eps(x) - log p_T(z).
      return drift, div

    state0 = (x, jnp.zeros((batch,), x.dtype))
    (z, delta_logp), nfe = ode_solvers.solve(vector_field, ode_solver, controller, eps, sde.T,
                                             first_step, state0, max_steps=max_steps)
    logp = sde.prior_logp(z).astype(x.dtype) + delta_logp
    return logp, z, nfe

  def loglik(rng, params, x):
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
      raise ValueError(f"x must be a floating-point array, got dtype {x.dtype}")
    if x.ndim < 2:
      raise ValueError(f"x must have shape (batch, ...features), got shape {x.shape}")
    if estimator != 'exact' and rng is None:
      raise ValueError(
          f"estimator={estimator!r} draws a probe: rng must be a jax.random key, got None")
    if not isinstance(x, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(x))):
      bad = int(jnp.sum(~jnp.isfinite(x)))
      raise ValueError(f"x contains {bad} NaN or inf entries; log-likelihood needs finite data")
    return core(rng, params, x)

  return loglik
