"""The SDE's noise schedule as the fast probability-flow samplers see it, and their argument checks.

Every SDE of the paper perturbs data as x_t = m(t) x_0 + s(t) z (`sde.marginal_prob`:
mean coefficient m, std s). Its probability-flow ODE is then

  dx/dt = (m'/m) x - (s s' - (m'/m) s^2) score(x, t),

and in the log signal-to-noise ratio lambda(t) = log(m(t) / s(t)) it has the
semi-linear form DPM-Solver and DDIM integrate exactly in their linear part:
  x_t = (s_t / s_u) x_u + s_t int_{lambda_u}^{lambda_t} e^lambda x0(lambda) dlambda
      = (m_t / m_u) x_u - m_t int_{lambda_u}^{lambda_t} e^-lambda eps(lambda) dlambda,
with the data prediction x0 = (x + s^2 score) / m and the noise prediction
eps = -s score. EDM's variables are x / m and sigma = s / m = exp(-lambda).
Nothing here knows which SDE it is given: VP, sub-VP and VE differ only in
m(t) and s(t), and lambda(t) is decreasing for all three.

Schedules are static: computed once on the host in float64 (whatever
`jax_enable_x64` says elsewhere) and cast to the samples' dtype inside the
jitted sampler. Times that have no closed form (a given lambda or sigma) are
found by bisection on [0, T] to float64 precision.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from utils import checks, config_checks

# Time-step schedules of the DPM-Solver papers: uniform in log-SNR (their
# 'logSNR', recommended for low resolutions), uniform in t, and uniform in sqrt(t)
# (their 'time_quadratic').
SCHEDULES = config_checks.NOISE_SCHEDULES
# What the network's output is converted to before DPM-Solver integrates it:
# 'data' (DPM-Solver++) or 'noise' (DPM-Solver).
PREDICTIONS = config_checks.DPM_PREDICTIONS

_BISECTION_STEPS = 100   # halves [0, T] below float64 resolution at any t >= 1e-12


def marginals(sde, t):
  """m(t) and s(t) as float64 numpy arrays shaped like `t` (host side, for schedules)."""
  t = np.asarray(t, np.float64)
  flat = t.reshape(-1)
  # Padded to a power of two: jax compiles once per shape, and schedules come in
  # every length.
  size = max(16, 1 << int(np.ceil(np.log2(max(flat.size, 1)))))
  padded = np.concatenate([flat, np.full(size - flat.size, float(sde.T))])
  with jax.enable_x64(True):
    m, s = _marginal_fn(sde)(jnp.asarray(padded))
    m, s = np.asarray(m[:flat.size], np.float64), np.asarray(s[:flat.size], np.float64)
  return m.reshape(t.shape), s.reshape(t.shape)


@functools.lru_cache(maxsize=64)
def _marginal_fn(sde):
  """sde's (m(t), s(t)) for a vector t, jitted (compiled once per SDE and length)."""
  @jax.jit
  def fn(t):
    m, s = sde.marginal_prob(jnp.ones((t.shape[0], 1), t.dtype), t)
    return m[:, 0], s
  return fn


def log_snr(sde, t):
  """lambda(t) = log(m(t) / s(t)), float64; +inf where s(t) = 0 (VP and sub-VP at t = 0)."""
  m, s = marginals(sde, t)
  with np.errstate(divide='ignore'):
    return np.log(m) - np.log(s)


def time_of_log_snr(sde, lam):
  """The t in [0, T] with lambda(t) = lam (lambda is decreasing), by bisection in float64."""
  lam = np.asarray(lam, np.float64)
  lo, hi = np.zeros_like(lam), np.full_like(lam, sde.T)
  for _ in range(_BISECTION_STEPS):
    mid = 0.5 * (lo + hi)
    above = log_snr(sde, mid) > lam      # still too little noise at mid: t is later
    lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
  return 0.5 * (lo + hi)


def time_grid(sde, schedule, num_steps, eps):
  """num_steps + 1 times from T down to eps (both exact), spaced by `schedule` (`SCHEDULES`)."""
  T = float(sde.T)
  i = np.arange(num_steps + 1, dtype=np.float64) / num_steps
  if schedule == 'logsnr':
    lam_T, lam_eps = log_snr(sde, np.array([T, eps]))
    t = time_of_log_snr(sde, lam_T + i * (lam_eps - lam_T))
  elif schedule == 'time_uniform':
    t = T + i * (eps - T)
  elif schedule == 'time_quadratic':
    t = (np.sqrt(T) + i * (np.sqrt(eps) - np.sqrt(T))) ** 2
  else:
    raise ValueError(f"schedule={schedule!r} is not a schedule; allowed: {', '.join(SCHEDULES)}")
  t[0], t[-1] = T, eps    # the ends exactly, whatever bisection or rounding gave
  return t


def prior_sample(sde, rng, shape, dtype, z=None):
  """The starting point at T: `z` if given (checked against `shape`), else a prior draw with rng."""
  if z is None:
    return sde.prior_sampling(rng, shape, dtype)
  if jnp.shape(z) != shape:
    raise ValueError(f"z has shape {jnp.shape(z)}; the sampler was built for shape {shape}")
  return jnp.asarray(z, dtype)


def predictions(score, x, t, m, s):
  """(x0, eps): the data and noise predictions at x, time t, of a score; m, s scalars at t."""
  t = jnp.full(x.shape[:1], t, x.dtype)
  sc = score(x, t)
  return (x + s ** 2 * sc) / m, -s * sc


# ------------------------------------------------------------------- argument checks


def check_choice(argument, value, allowed):
  """`value` lower-cased if it is one of `allowed` (strings), else a ValueError listing them."""
  key = str(value).lower()
  if key not in allowed:
    raise ValueError(config_checks.not_allowed(argument, value, allowed, f'is not a {argument}'))
  return key


def check_int(argument, value, minimum, why=''):
  """`value` as an int >= minimum, else a ValueError naming it and the minimum (and why)."""
  return checks.require_int(argument, value, minimum, why)


def check_real(argument, value, low=0., high=np.inf, allow_inf=False):
  """`value` as a float in [low, high], finite unless `allow_inf`, else a ValueError."""
  return checks.require_real(argument, value, low, high, allow_inf=allow_inf)
