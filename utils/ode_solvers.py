"""Diffrax's ODE solvers by name, and an exact count of their vector-field evaluations.

The one table behind both probability-flow ODE solves: the sampler
(`samplers/ode.py`, every solver) and the likelihood (`likelihood/ode.py`,
the adaptive ones). 'rk45' is the original code's name (scipy's RK45 is the
same Dormand-Prince 5(4) pair as Dopri5).

Counting: an explicit Runge-Kutta step evaluates every stage of its tableau,
except that a first-same-as-last (FSAL) tableau reuses the previous step's
last stage as its first, also after a rejected step (same start point). Left
to itself, diffrax evaluates the very first stage inside the first step and
does so again each time that step is rejected; handing it that stage up front
(`first_stage_state`) makes every step, the first and rejected ones included,
cost exactly `stages - 1` new evaluations, so `evaluations` is exact.
"""
import diffrax
import jax.numpy as jnp

from utils import config_checks

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

# Solvers with an embedded error estimate, which a PIDController can adapt.
ADAPTIVE = tuple(name for name, cls in SOLVERS.items() if cls is not diffrax.Euler)


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
