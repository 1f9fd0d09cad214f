"""EDM's Heun sampler (Karras et al., NeurIPS 2022, Algorithms 1-2) on any of our SDEs.

EDM solves the probability-flow ODE in the scaled variable x~ = x / m(t) and
the noise level sigma = s(t) / m(t) (= exp(-lambda)), where it reads

  dx~/dsigma = (x~ - D(x~, sigma)) / sigma,   D = the data prediction x0 at x = m(t) x~,

t = t(sigma) being the SDE's time at that level (bisection on lambda,
`_noise_schedule`). So one sampler serves VP (sigma from 0.0105 to 152 for
beta in [0.1, 20], eps = 1e-3), sub-VP and VE (sigma = the SDE's own sigma).

Levels: sigma_i = (sigma_max^(1/rho) + i/(N-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,
i = 0 .. N-1, with sigma_max = sigma(T) and sigma_min = sigma(eps), then
sigma_N = 0. Each step i first "churns" (stochastic sampler, Algorithm 2):
with gamma_i = min(S_churn / N, sqrt(2) - 1) where S_min <= sigma_i <= S_max
(else 0), it raises the level to sigma^_i = sigma_i (1 + gamma_i) by adding
noise of std S_noise sqrt(sigma^_i^2 - sigma_i^2); sigma^_i is capped at
sigma(T), where the SDE ends (so a churn at the first level adds nothing).
Then one Heun step from sigma^_i to sigma_{i+1}; the last step, to sigma_N = 0,
is Euler, and an Euler step to sigma = 0 returns D itself: the final
denoising. S_churn = 0 (the default) is the deterministic Algorithm 1.
"""
import jax
import jax.numpy as jnp
import numpy as np

from samplers import _common
from samplers import _noise_schedule as ns
from utils import checks


def get_edm_sampler(sde, score_fn, shape, num_steps=18, rho=7., s_churn=0., s_min=0.,
                    s_max=float('inf'), s_noise=1., eps=None, dtype=None):
  """EDM's Heun sampler: a pure, jitted `sample(rng, params) -> (x, nfe)`.

  Args:
    sde: the forward SDE (`sde_lib`); only its `marginal_prob` is used.
    score_fn: `score_fn(params, x, t) -> score shaped like x`, `t` of shape (batch,).
    shape: shape of the sample batch, batch first.
    num_steps: N >= 2, the number of noise levels from sigma(T) to sigma(eps)
      (EDM's `num_steps`; 18 is its CIFAR-10 setting, 35 evaluations).
    rho: > 0, the schedule's exponent (7 in EDM; 1 is uniform in sigma).
    s_churn, s_min, s_max, s_noise: EDM's stochasticity (Algorithm 2), all
      >= 0, s_min <= s_max (s_max may be inf); levels are the sigma = s / m
      above.
    eps: the last time, in (0, T); None is `samplers.default_eps(sde)`.
    dtype: dtype of the samples; None takes that of the floating leaves of `params`.

  Returns `sample(rng, params, z=None) -> (x, nfe)` (`z`: the prior sample at
  T to start from; else drawn with the first half of `rng`) with nfe = 2 N - 1 exactly: two
  evaluations per Heun step for the N - 1 steps down to sigma(eps), and one
  for the last, Euler, step to sigma = 0 (which returns the data prediction
  at eps, the final denoising).
  """
  if eps is None:
    from samplers import default_eps   # the package's one home of the convention; lazy: no cycle
    eps = default_eps(sde)
  shape = _common.check_shape(shape)
  n = ns.check_int('num_steps', num_steps, 2,
                   ' (EDM needs the two levels sigma(T) and sigma(eps))')
  rho = checks.require_real('rho', rho, 0, low_open=True)
  s_churn = ns.check_real('s_churn', s_churn)
  s_min = ns.check_real('s_min', s_min)
  s_max = ns.check_real('s_max', s_max, low=s_min, allow_inf=True)
  s_noise = ns.check_real('s_noise', s_noise)
  eps = _common.check_eps(eps, sde)

  # Levels sigma_i, their times, and the churned levels sigma^_i (host, float64).
  sig_T, sig_eps = np.exp(-ns.log_snr(sde, np.array([sde.T, eps])))
  ramp = np.arange(n) / (n - 1)
  sigma = (sig_T ** (1 / rho) + ramp * (sig_eps ** (1 / rho) - sig_T ** (1 / rho))) ** rho
  t = ns.time_of_log_snr(sde, -np.log(sigma))
  t[0], t[-1] = sde.T, eps
  sigma = np.exp(-ns.log_snr(sde, t))        # the levels the times really have
  in_range = (sigma >= s_min) & (sigma <= s_max)
  gamma = np.where(in_range, min(s_churn / n, np.sqrt(2.) - 1.), 0.)
  sigma_hat = np.minimum(sigma * (1. + gamma), sig_T)
  t_hat = np.where(sigma_hat > sigma, ns.time_of_log_snr(sde, -np.log(sigma_hat)), t)
  sigma_hat = np.exp(-ns.log_snr(sde, t_hat))
  churn_std = s_noise * np.sqrt(np.maximum(sigma_hat ** 2 - sigma ** 2, 0.))
  stochastic = bool(np.any(churn_std > 0))

  # One row per evaluation: stage A (first Heun stage, at sigma^_i) and B (second, at sigma_{i+1}).
  sigma_next = np.append(sigma[1:], 0.)
  rows = []
  for i in range(n):
    rows.append(dict(a=True, t=t_hat[i], sigma=sigma_hat[i], sigma_next=sigma_next[i],
                     sigma_hat=sigma_hat[i], churn=0.))
    if i < n - 1:
      rows.append(dict(a=False, t=t[i + 1], sigma=sigma[i + 1], sigma_next=0.,
                       sigma_hat=sigma_hat[i], churn=churn_std[i + 1]))
  table = {k: np.array([r[k] for r in rows]) for k in rows[0]}
  table['m'], table['s'] = ns.marginals(sde, table['t'])
  nfe = len(rows)
  assert nfe == 2 * n - 1
  m_T = float(ns.marginals(sde, np.array([sde.T]))[0][0])

  def sample(rng, params, z=None):
    x_dtype = _common.sample_dtype(params, dtype)
    score = _common.bind_score(score_fn, params)
    tab = {k: jnp.asarray(v, x_dtype if v.dtype.kind == 'f' else v.dtype)
           for k, v in table.items()}
    prior_rng, noise_rng = jax.random.split(rng)
    x = ns.prior_sample(sde, prior_rng, shape, x_dtype, z) / jnp.asarray(m_T, x_dtype)
    if stochastic:
      x = x + jnp.asarray(churn_std[0], x_dtype) * jax.random.normal(
          jax.random.fold_in(noise_rng, 0), shape, x_dtype)

    def body(j, carry):
      x_hat, d1, u = carry       # x_hat: the step's churned start; u: this evaluation's input
      row = {k: v[j] for k, v in tab.items()}
      denoised, _ = ns.predictions(score, row['m'] * u, row['t'], row['m'], row['s'])
      d = (u - denoised) / row['sigma']
      # Stage A: Euler to sigma_next (the next stage's input, or, to sigma = 0, the output D).
      euler = jnp.where(row['sigma_next'] == 0, denoised, u + (row['sigma_next'] - row['sigma']) * d)
      # Stage B: the Heun step's result, churned for the next step.
      heun = x_hat + (row['sigma'] - row['sigma_hat']) * 0.5 * (d1 + d)
      if stochastic:
        heun = heun + row['churn'] * jax.random.normal(jax.random.fold_in(noise_rng, j + 1),
                                                       shape, x_dtype)
      return (jnp.where(row['a'], u, heun), jnp.where(row['a'], d, d1),
              jnp.where(row['a'], euler, heun))

    _, _, x = jax.lax.fori_loop(0, nfe, body, (x, jnp.zeros_like(x), x))
    return x, jnp.asarray(nfe, jnp.int32)

  return jax.jit(sample)
