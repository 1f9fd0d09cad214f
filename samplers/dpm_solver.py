"""DPM-Solver (Lu et al., NeurIPS 2022) and DPM-Solver++ (Lu et al., 2022) on any of our SDEs.

Both integrate the probability-flow ODE in the log-SNR lambda = log(m / s)
(see `_noise_schedule`): from u to t, with h = lambda_t - lambda_u,

  data prediction x0 (DPM-Solver++):  x_t = (s_t/s_u) x_u - m_t sum_k Phi_{k+1}(-h) h^k x0^(k),
  noise prediction eps (DPM-Solver):  x_t = (m_t/m_u) x_u - s_t sum_k Phi_{k+1}(h) h^k eps^(k),

where ^(k) is the k-th derivative in lambda at u and Phi_k(g) = g phi_k(g):
Phi_1 = expm1(g), Phi_2 = Phi_1 / g - 1, Phi_3 = Phi_2 / g - 1/2. Solvers of
order k keep the terms up to h^(k-1) and estimate the derivatives by finite
differences: between stages inside the step (singlestep: DPM-Solver-2 with its
stage at r1 = 1/2 of the step in lambda, -3 with stages at 1/3 and 2/3) or of
the previous steps' evaluations (multistep: DPM-Solver++(2M) and (3M)).

The third-order multistep step uses D1 ~ h x0' and D2 ~ h^2 x0'' (the second
derivative itself) in x_t = ... - m_t (Phi_1 x0 + Phi_2 D1 + Phi_3 D2). The
reference implementation (dpm_solver_pytorch.py,
multistep_dpm_solver_third_update, and diffusers' copy) computes
D2 = (D1_0 - D1_1) / (r0 + r1), which is h^2 x0'' / 2: its h^3 term is half
what the expansion needs, a local error O(h^3), so that "3M" converges at
order 2 only. Here D2 = 2 (D1_0 - D1_1) / (r0 + r1) (as that file's own
singlestep 'taylor' update has it); tests/test_fast_samplers.py shows order 3,
and order 2 with the reference's D2.

A multistep run must also start at its order: DPM-Solver's 3M starts with a
first-order step (then a 2M one), whose local error O(h^2) makes the global
error O(h^2) unless the data prediction is constant at T. On VP and sub-VP
it nearly is (m(T) ~ 0.007), which hides the term; on VE it is not (the test
sees 3M's slope fall towards 2 there). Here a third-order run starts with one
singlestep DPM-Solver-2 step (stage at the log-SNR midpoint), inside the same
budget of evaluations, and is third order on every SDE.

Every step is a linear combination of the step's start x_u and of at most
three evaluations; the samplers precompute those coefficients on the host
(float64) and run one `lax.fori_loop` over the evaluations, with a single
call of the score in its body.
"""
import jax
import jax.numpy as jnp
import numpy as np

from samplers import _common
from samplers import _noise_schedule as ns
from samplers._noise_schedule import PREDICTIONS, SCHEDULES
from utils import checks, config_checks

DPM_METHODS = config_checks.DPM_METHODS
DPM_ORDERS = config_checks.DPM_ORDERS
# Multistep runs shorter than this end with lower orders (DPM-Solver's
# `lower_order_final`, there "a key to stabilizing the sampling with very few
# steps"): the step k-th from the end has order min(order, k).
LOWER_ORDER_FINAL_BELOW = 10
# D2 = _D2_SCALE (D1_0 - D1_1) / (r0 + r1) estimates h^2 x0'' (module docstring);
# the reference code's value is 1. A module constant so the test can show what 1 does.
_D2_SCALE = 2.

_E = np.eye(3)   # coefficient vectors of the evaluations E_0, E_1, E_2 of a linear combination


def _phis(g):
  """Phi_1, Phi_2, Phi_3 at g (float64): g phi_k(g) of the exponential integrators."""
  phi1 = np.expm1(g)
  phi2 = phi1 / g - 1.
  return phi1, phi2, phi2 / g - 0.5


class _Grid:
  """lambda, m, s on the time grid t, and a step's (carry, weight, g) for the prediction type."""

  def __init__(self, sde, t, predict):
    self.t, self.predict = t, predict
    self.m, self.s = ns.marginals(sde, t)
    self.lam = np.log(self.m) - np.log(self.s)

  def step(self, i, j):
    """(c, w, g) of x_j = c x_i - w sum_k Phi_{k+1}(g) h^k E^(k), from grid point i to j."""
    h = self.lam[j] - self.lam[i]
    if self.predict == 'data':
      return self.s[j] / self.s[i], self.m[j], -h
    return self.m[j] / self.m[i], self.s[j], h


def _singlestep_orders(num_steps, order):
  """Orders of the singlestep steps: as many order-`order` steps as fit, the remainder last.

  Equal to DPM-Solver's 'singlestep' grouping (its "DPM-Solver-fast") except
  when order = 3 divides num_steps: there it trades one third-order step for
  a second- and a first-order one (num_steps/3 + 1 steps, global order 2);
  here all num_steps/3 steps are third-order (its 'singlestep_fixed').
  """
  orders = [order] * (num_steps // order)
  if num_steps % order:
    orders.append(num_steps % order)
  return orders


def _singlestep_rows(grid, orders):
  """One row (t, slot, cx, ce, end) per evaluation of singlestep DPM-Solver on the grid.

  A step of order k spans k intervals of the grid and evaluates at its start
  and at the k - 1 grid points inside it, so on a uniform log-SNR grid its
  stages sit at r1 = 1/2 (k = 2) and r1 = 1/3, r2 = 2/3 (k = 3), the paper's
  choice; on the other schedules at the grid's own points, as the reference
  code does.
  """
  t, lam = grid.t, grid.lam
  rows = []
  i = 0
  for k in orders:
    j = i + k
    c, w, g = grid.step(i, j)
    phi1, phi2, _ = _phis(g)
    r = (lam[i + 1:j] - lam[i]) / (lam[j] - lam[i])
    if k == 1:
      rows.append((t[i], 0, c, -w * phi1 * _E[0], True))
    elif k == 2:
      c1, w1, g1 = grid.step(i, i + 1)
      rows.append((t[i], 0, c1, -w1 * _phis(g1)[0] * _E[0], False))
      rows.append((t[i + 1], 1, c, -w * phi1 * (_E[0] + (_E[1] - _E[0]) / (2. * r[0])), True))
    else:
      r1, r2 = r
      c1, w1, g1 = grid.step(i, i + 1)
      rows.append((t[i], 0, c1, -w1 * _phis(g1)[0] * _E[0], False))
      c2, w2, g2 = grid.step(i, i + 2)
      p1, p2, _ = _phis(g2)
      rows.append((t[i + 1], 1, c2,
                   -w2 * (p1 * _E[0] + p2 * (r2 / r1) * (_E[1] - _E[0])), False))
      rows.append((t[i + 2], 2, c, -w * (phi1 * _E[0] + phi2 / r2 * (_E[2] - _E[0])), True))
    i = j
  return rows


def _multistep_orders(intervals, order):
  """Order of each multistep step over `intervals` grid intervals.

  The k-th step can use only k earlier evaluations: orders 1, 2, .. up to
  `order`, except that a third-order run starts with singlestep DPM-Solver-2
  (marked 'start', two evaluations), then 2M, then 3M (see the module
  docstring). Runs of fewer than 10 intervals end with lower orders
  (DPM-Solver's `lower_order_final`): the k-th step from the end has order <= k.
  """
  orders = [min(order, i + 1) for i in range(intervals)]
  if intervals < LOWER_ORDER_FINAL_BELOW:
    orders = [min(o, intervals - i) for i, o in enumerate(orders)]
  if order == 3:
    orders[0] = 'start'
  return orders


def _multistep_rows(grid, orders):
  """One row (t, slot, cx, ce, end) per evaluation of multistep DPM-Solver(++).

  Each evaluation at a grid point is followed by the step to the next grid
  point; E_0, E_1, E_2 hold the last three evaluations (newest first). A
  'start' step (third order) goes from grid point 0 to 2 through point 1,
  its stage at the log-SNR midpoint, like a singlestep DPM-Solver-2 step;
  that stage's evaluation then serves the next steps as a history point
  like any other (the multistep formulas take uneven spacing).
  """
  lam, t = grid.lam, grid.t
  rows = []
  i = 0
  for k in orders:
    if k == 'start':
      c1, w1, g1 = grid.step(0, 1)
      rows.append((t[0], 0, c1, -w1 * _phis(g1)[0] * _E[0], False))
      c, w, g = grid.step(0, 2)
      r = (lam[1] - lam[0]) / (lam[2] - lam[0])
      # E_0 is the stage's evaluation, E_1 the start's (a singlestep step's slots, swapped).
      rows.append((t[1], 0, c, -w * _phis(g)[0] * (_E[1] + (_E[0] - _E[1]) / (2. * r)), True))
      i = 2
      continue
    h = lam[i + 1] - lam[i]
    c, w, g = grid.step(i, i + 1)
    phi1, phi2, phi3 = _phis(g)
    if k == 1:
      coef = phi1 * _E[0]
    else:
      r0 = (lam[i] - lam[i - 1]) / h
      d1_0 = (_E[0] - _E[1]) / r0
      if k == 2:
        coef = phi1 * (_E[0] + 0.5 * d1_0)
      else:
        r1 = (lam[i - 1] - lam[i - 2]) / h
        d1_1 = (_E[1] - _E[2]) / r1
        d1 = d1_0 + r0 / (r0 + r1) * (d1_0 - d1_1)
        d2 = _D2_SCALE * (d1_0 - d1_1) / (r0 + r1)
        coef = phi1 * _E[0] + phi2 * d1 + phi3 * d2
    rows.append((t[i], 0, c, -w * coef, True))
    i += 1
  return rows


def get_dpm_solver_sampler(sde, score_fn, shape, num_steps=20, order=2, method='multistep',
                           predict='data', schedule='logsnr', eps=None, dtype=None):
  """A DPM-Solver sampler: a pure, jitted `sample(rng, params) -> (x, nfe)`.

  Args:
    sde: the forward SDE (`sde_lib`); only its `marginal_prob` is used.
    score_fn: `score_fn(params, x, t) -> score shaped like x`, `t` of shape (batch,).
    shape: shape of the sample batch, batch first.
    num_steps: score evaluations of the solve from T to eps, >= order. The
      grid is num_steps + 1 times from T to eps spaced by `schedule`.
      'multistep': one step per interval, each evaluating once at its start;
      the first steps warm up with orders 1, 2 (no earlier evaluations yet),
      and runs of fewer than 10 intervals end with orders ..., 2, 1
      (DPM-Solver's `lower_order_final`). Order 3 uses num_steps - 1
      intervals and starts with a singlestep DPM-Solver-2 step (2
      evaluations; module docstring). 'singlestep': steps of order `order`
      spanning `order` intervals each and evaluating `order` times, then one
      step of order num_steps % order with the rest (see `_singlestep_orders`).
    order: 1, 2 or 3 (`DPM_ORDERS`); order 1 is DDIM on this grid.
    method: 'singlestep' or 'multistep' (`DPM_METHODS`).
    predict: 'data' (DPM-Solver++, x0) or 'noise' (DPM-Solver, eps) (`PREDICTIONS`).
    schedule: 'logsnr' (uniform in lambda), 'time_uniform', 'time_quadratic'
      (uniform in sqrt(t)) (`SCHEDULES`).
    eps: the last time, in (0, T); None is `samplers.default_eps(sde)`.
    dtype: dtype of the samples; None takes that of the floating leaves of `params`.

  Returns `sample(rng, params, z=None) -> (x, nfe)` (`z`: the prior sample at
  T to start from; else drawn with the first half of `rng`, as every sampler
  does). The solve ends at eps with one
  more evaluation that returns the data prediction x0 there (the final
  denoising of score_sde and DDPM; DPM-Solver's `denoise_to_zero`), so
  nfe = num_steps + 1 exactly.
  """
  if eps is None:
    from samplers import default_eps   # the package's one home of the convention; lazy: no cycle
    eps = default_eps(sde)
  shape = _common.check_shape(shape)
  method = ns.check_choice('method', method, DPM_METHODS)
  predict = ns.check_choice('predict', predict, PREDICTIONS)
  schedule = ns.check_choice('schedule', schedule, SCHEDULES)
  if order not in DPM_ORDERS or checks.is_bool(order):
    raise ValueError(f"order={order!r} is not a DPM-Solver order; allowed: "
                     f"{', '.join(map(str, DPM_ORDERS))}")
  num_steps = ns.check_int('num_steps', num_steps, order,
                           f" for order={order}: an order-{order} {method} solve needs at least "
                           f"{order} evaluations")
  eps = _common.check_eps(eps, sde)

  if method == 'multistep':
    # A third-order run spends one of its evaluations on its start's stage.
    intervals = num_steps - 1 if order == 3 else num_steps
    t = ns.time_grid(sde, schedule, intervals, eps)
    if order == 3:   # the start's stage at the log-SNR midpoint of the first interval
      t = np.insert(t, 1, ns.time_of_log_snr(sde, ns.log_snr(sde, t[:2]).mean()))
    grid = _Grid(sde, t, predict)
    rows = _multistep_rows(grid, _multistep_orders(intervals, order))
  else:
    grid = _Grid(sde, ns.time_grid(sde, schedule, num_steps, eps), predict)
    rows = _singlestep_rows(grid, _singlestep_orders(num_steps, order))
  # The final denoising: the data prediction at (x, eps), written as a row.
  m_eps, s_eps = grid.m[-1], grid.s[-1]
  if predict == 'data':
    rows.append((eps, 0, 0., _E[0], True))
  else:
    rows.append((eps, 0, 1. / m_eps, -s_eps / m_eps * _E[0], True))
  assert len(rows) == num_steps + 1
  times = np.array([r[0] for r in rows], np.float64)
  m, s = ns.marginals(sde, times)
  table = dict(t=times, m=m, s=s, slot=np.array([r[1] for r in rows], np.int32),
               cx=np.array([r[2] for r in rows], np.float64),
               ce=np.stack([r[3] for r in rows]).astype(np.float64),
               end=np.array([r[4] for r in rows]))
  shift = method == 'multistep'   # multistep: E_0 <- new, E_1 <- E_0, E_2 <- E_1
  return _linear_stage_sampler(sde, score_fn, shape, table, predict, shift, dtype)


def _linear_stage_sampler(sde, score_fn, shape, table, predict, shift, dtype):
  """The loop over the table's rows: evaluate at (u, t_j), store E, u <- cx x_start + ce . E."""
  nfe = len(table['t'])

  def sample(rng, params, z=None):
    x_dtype = _common.sample_dtype(params, dtype)
    score = _common.bind_score(score_fn, params)
    tab = {k: jnp.asarray(v, x_dtype if v.dtype.kind == 'f' else v.dtype)
           for k, v in table.items()}
    x = ns.prior_sample(sde, jax.random.split(rng)[0], shape, x_dtype, z)

    def body(j, carry):
      x_start, u, e0, e1, e2 = carry
      x0, noise = ns.predictions(score, u, tab['t'][j], tab['m'][j], tab['s'][j])
      new = x0 if predict == 'data' else noise
      slot = tab['slot'][j]
      if shift:
        e0, e1, e2 = new, e0, e1
      else:
        e0, e1, e2 = (jnp.where(slot == k, new, old) for k, old in enumerate((e0, e1, e2)))
      ce = tab['ce'][j]
      u = tab['cx'][j] * x_start + ce[0] * e0 + ce[1] * e1 + ce[2] * e2
      x_start = jnp.where(tab['end'][j], u, x_start)
      return x_start, u, e0, e1, e2

    zeros = jnp.zeros_like(x)
    _, x, _, _, _ = jax.lax.fori_loop(0, nfe, body, (x, x, zeros, zeros, zeros))
    return x, jnp.asarray(nfe, jnp.int32)

  return jax.jit(sample)
