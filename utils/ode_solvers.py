"""Probability-flow ODE solves on diffrax: solver objects, step-size controllers, exact NFE.

The one home of what the ODE sampler (`samplers/ode.py`, and through it the
controllable ODE samplers) and the likelihood (`likelihood/ode.py`) share:

  - the solver object each name a config may give stands for (`SOLVERS`, its
    names those of `config_checks.ODE_SOLVERS`; 'rk45' is the original code's
    name: scipy's RK45 is the same Dormand-Prince 5(4) pair as Dopri5), read
    by `solver_from_name` only;
  - the checks of a solver object and a step-size controller, and the default
    controller: `PIDController(rtol, atol)` for a solver with an error
    estimate, constant steps for one without (Euler);
  - the step budget `MAX_STEPS`;
  - `solve`, the one diffeqsolve call, with its exact count of vector-field
    evaluations.

Counting: an explicit Runge-Kutta step evaluates every stage of its tableau,
except that a first-same-as-last (FSAL) tableau reuses the previous step's
last stage as its first, also after a rejected step (same start point). Left
to itself, diffrax evaluates the very first stage inside the first step and
does so again each time that step is rejected; handing it that stage up front
(`first_stage_state`) makes every step, the first and rejected ones included,
cost exactly `stages - 1` new evaluations, so `evaluations` is exact. That
holds for every explicit Runge-Kutta solver (`diffrax.AbstractERK`: its
tableau gives the stages) and Euler; other solvers (implicit, reversible,
multistep) are refused, since their count is not known here.
"""
import diffrax
import jax
import jax.numpy as jnp

from utils import checks, config_checks

SOLVERS = {
    'dopri5': diffrax.Dopri5,
    'rk45': diffrax.Dopri5,
    'tsit5': diffrax.Tsit5,
    'dopri8': diffrax.Dopri8,
    'bosh3': diffrax.Bosh3,
    'heun': diffrax.Heun,
    'euler': diffrax.Euler,
}
config_checks.check_registered('ODE solvers', SOLVERS, config_checks.ODE_SOLVERS)

# Names of the solvers with an embedded error estimate, which a PIDController can adapt.
ADAPTIVE = tuple(name for name, cls in SOLVERS.items()
                 if issubclass(cls, diffrax.AbstractAdaptiveSolver))

# Step budget (accepted + rejected steps) of every solve unless the caller gives
# `max_steps`. It only stops a runaway solve (diffrax raises at run time when it
# runs out; an unused budget costs nothing without differentiation). 10,000
# was the sampler's budget; the likelihood had 4,096. The larger one is kept:
# Euler takes sde.N fixed steps (2,000 for the paper's VE configs, a user's N may
# be larger) and the paper's tolerances need a few hundred adaptive steps, so
# 4,096 was the tighter bound for no gain.
MAX_STEPS = 10_000

_ALLOWED_CONTROLLERS = ("None (the default), a diffrax step-size controller such as "
                        "diffrax.PIDController(rtol, atol), diffrax.ConstantStepSize() or "
                        "diffrax.StepTo(ts)")


def solver_from_name(name, names=None, argument='solver'):
  """A new diffrax solver for `name` (case-insensitive), one of `names` (default: all of SOLVERS).

  The only place a solver name is read; a ValueError names the argument,
  the value and the allowed names.
  """
  names = tuple(SOLVERS) if names is None else tuple(names)
  key = str(name).lower()
  if key not in names:
    raise ValueError(f"{argument}={name!r} is not a solver name; allowed: {', '.join(names)} "
                     "(or a diffrax solver object)")
  return SOLVERS[key]()


def check_solver(solver, argument='solver', names=None):
  """`solver` as a diffrax solver whose evaluations `evaluations` counts exactly.

  A string is resolved by `solver_from_name` (the public functions keep
  accepting names); an object must be Euler or an explicit Runge-Kutta solver.
  """
  if isinstance(solver, str):
    return solver_from_name(solver, names, argument)
  if not isinstance(solver, diffrax.AbstractSolver):
    raise ValueError(f"{argument}={solver!r} is not a diffrax solver; allowed: a diffrax solver "
                     f"object such as diffrax.Dopri5(), or a name: {', '.join(SOLVERS)}")
  if not isinstance(solver, (diffrax.Euler, diffrax.AbstractERK)):
    raise ValueError(f"{argument}={type(solver).__name__}() is not supported: the score "
                     "evaluations are counted exactly for diffrax.Euler and the explicit "
                     "Runge-Kutta solvers (diffrax.AbstractERK: Dopri5, Tsit5, Heun, Midpoint, ...)")
  return solver


def is_adaptive(solver):
  """Whether `solver` has an embedded error estimate (so a PIDController can adapt its steps)."""
  return isinstance(solver, diffrax.AbstractAdaptiveSolver)


def check_positive(name, value):
  """`value` as a positive finite float, or a ValueError naming `name`, the value and the rule."""
  return checks.require_real(name, value, 0, low_open=True)


def check_max_steps(max_steps):
  """`max_steps` as a positive int; None means `MAX_STEPS`."""
  if max_steps is None:
    return MAX_STEPS
  return checks.require_int('max_steps', max_steps, 1, f' (or None: {MAX_STEPS})')


def check_controller(solver, stepsize_controller, rtol, atol, fixed_by_default=True,
                     argument='stepsize_controller'):
  """The step-size controller of a solve with `solver` (a checked solver object).

  None gives the default: `PIDController(rtol, atol)` (rtol and atol checked
  here) for an adaptive solver; for one without an error estimate,
  `ConstantStepSize()` if `fixed_by_default`, else a ValueError asking for an
  explicit controller. A given controller must be a diffrax step-size
  controller; an adaptive one needs an adaptive solver; rtol and atol are
  then not used. Jumps (`ClipStepSizeController(jump_ts=...)`) make an FSAL
  solver evaluate its first stage again, which the count would miss: refused.
  """
  if stepsize_controller is None:
    if is_adaptive(solver):
      return diffrax.PIDController(rtol=check_positive('rtol', rtol),
                                   atol=check_positive('atol', atol))
    if fixed_by_default:
      return diffrax.ConstantStepSize()
    raise ValueError(f"solver={type(solver).__name__}() has no error estimate to adapt its "
                     f"steps to rtol/atol: give an adaptive solver ({', '.join(ADAPTIVE)}) or "
                     "stepsize_controller=diffrax.ConstantStepSize() (or StepTo)")
  if not isinstance(stepsize_controller, diffrax.AbstractStepSizeController):
    raise ValueError(f"{argument}={stepsize_controller!r} is not a diffrax step-size controller; "
                     f"allowed: {_ALLOWED_CONTROLLERS}")
  if isinstance(stepsize_controller, diffrax.AbstractAdaptiveStepSizeController) \
      and not is_adaptive(solver):
    raise ValueError(f"{argument}={type(stepsize_controller).__name__} adapts steps by an error "
                     f"estimate, which solver={type(solver).__name__}() does not have; use "
                     "diffrax.ConstantStepSize() or StepTo(ts), or an adaptive solver")
  if getattr(stepsize_controller, 'jump_ts', None) is not None and stages(solver)[1]:
    raise ValueError(f"{argument} has jump_ts: after a jump the first-same-as-last solver "
                     f"{type(solver).__name__}() evaluates its first stage again, which the NFE "
                     "count does not see; use step_ts, or a solver that is not FSAL (e.g. Heun)")
  return stepsize_controller


def initial_step(controller, dt0, fixed, adaptive):
  """The size of the first step of a solve with `controller` (a magnitude, or None).

  None for `StepTo` (its times are the steps); else the caller's `dt0` if
  given, `fixed` for constant steps, `adaptive` for adaptive ones (None
  lets diffrax choose).
  """
  if isinstance(controller, diffrax.StepTo):
    return None
  if dt0 is not None:
    return check_positive('dt0', dt0)
  return fixed if isinstance(controller, diffrax.ConstantStepSize) else adaptive


def stages(solver):
  """(vector-field evaluations per step, whether the first stage is the previous step's last)."""
  tableau = getattr(solver, 'tableau', None)
  if tableau is None:  # Euler: one evaluation per step
    return 1, False
  return tableau.num_stages, bool(tableau.fsal)


def evaluations(solver, num_steps):
  """Vector-field evaluations of `num_steps` steps tried (accepted or rejected) by `solver`.

  Exact when an FSAL solver was given its first stage by `first_stage_state`
  (which the count includes); `num_steps` may be a traced integer.
  """
  per_step, fsal = stages(solver)
  return int(fsal) + (per_step - int(fsal)) * num_steps


def first_stage_state(solver, first_stage_fn):
  """diffrax's initial `solver_state` holding f(t0, y0) for an FSAL solver; None otherwise.

  `first_stage_fn()` evaluates f(t0, y0); it is called only for an FSAL solver.

  The state is diffrax 0.7's `(first_step, f0)` of its Runge-Kutta solvers;
  the NFE tests of the sampler and the likelihood count evaluations at run
  time and so guard this layout.
  """
  if not stages(solver)[1]:
    return None
  return (jnp.asarray(False), first_stage_fn())


def solve(vector_field, solver, controller, t0, t1, dt0, y0, args=None, max_steps=MAX_STEPS):
  """y(t1) of dy/dt = vector_field(t, y, args), y(t0) = y0, and the exact number of evaluations.

  `solver` and `controller` as `check_solver` and `check_controller` give
  them; `dt0` is the first step's size (`initial_step`), signed here by the
  direction t0 -> t1. Times are cast to the dtype of y0's first leaf
  (diffrax would otherwise promote a float32 state to float64 times when x64
  is enabled).
  Returns `(y1, nfe)`, nfe an int32 scalar counting every evaluation of
  `vector_field`, rejected steps included.
  """
  dtype = jax.tree_util.tree_leaves(y0)[0].dtype
  if dt0 is not None:
    dt0 = jnp.asarray(dt0 if t1 > t0 else -dt0, dtype)
  t0, t1 = jnp.asarray(t0, dtype), jnp.asarray(t1, dtype)
  solution = diffrax.diffeqsolve(
      diffrax.ODETerm(vector_field), solver, t0=t0, t1=t1, dt0=dt0, y0=y0, args=args,
      stepsize_controller=controller,
      solver_state=first_stage_state(solver, lambda: vector_field(t0, y0, args)),
      saveat=diffrax.SaveAt(t1=True), max_steps=max_steps)
  y1 = jax.tree_util.tree_map(lambda y: y[-1], solution.ys)
  nfe = evaluations(solver, solution.stats['num_steps'])
  return y1, jnp.asarray(nfe, jnp.int32)
