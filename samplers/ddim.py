"""DDIM (Song, Meng & Ermon, ICLR 2021) on any of our SDEs: one jitted loop of num_steps evaluations.

With the data and noise predictions x0 = (x + s^2 score) / m and
eps = -s score at (x, t_i), a step to t_{i+1} is

  x <- m_{i+1} x0 + sqrt(s_{i+1}^2 - c_i^2) eps + c_i z,
  c_i = eta s_{i+1} sqrt(1 - (m_i s_{i+1} / (m_{i+1} s_i))^2).

eta = 0 is the deterministic DDIM: the first-order exponential integrator of
the probability-flow ODE in log-SNR (DPM-Solver-1), exact in the ODE's linear
part; its noise- and data-prediction forms are the same update. eta = 1 draws
from the forward process's posterior q(x_{t_{i+1}} | x_{t_i}, x0) (DDPM's
ancestral step on the skipped grid), and c_i^2 above is that posterior's
variance written through m and s only, so the same code serves VP, sub-VP and
VE (for VE, m = 1).
"""
import jax
import jax.numpy as jnp
import numpy as np

from samplers import _common
from samplers import _noise_schedule as ns


def get_ddim_sampler(sde, score_fn, shape, num_steps=50, eta=0., eps=None, dtype=None):
  """A DDIM sampler: a pure, jitted `sample(rng, params) -> (x, nfe)`.

  Args:
    sde: the forward SDE (`sde_lib`); only its `marginal_prob` is used.
    score_fn: `score_fn(params, x, t) -> score shaped like x`, `t` of shape (batch,).
    shape: shape of the sample batch, batch first.
    num_steps: score evaluations, >= 2. They are made at the times
      t_i = T + i (eps - T) / (num_steps - 1), i = 0 .. num_steps - 1 (uniform
      in t, DDIM's default spacing); the steps go t_0 -> t_1 -> ... -> t_{n-1}
      = eps, and the last evaluation, at eps, takes the step to noise level 0
      (m = 1, s = 0), i.e. returns the data prediction x0 there: DDIM's own
      last step, which is also the paper's final denoising.
    eta: in [0, 1]; 0 is deterministic (the probability-flow ODE), 1 the
      posterior's full noise.
    eps: the last time, in (0, T); None is `samplers.default_eps(sde)`.
    dtype: dtype of the samples; None takes that of the floating leaves of `params`.

  Returns `sample(rng, params, z=None) -> (x, nfe)`, x of `shape` in model
  space and nfe = num_steps exactly. `z`, if given, is the prior sample at T
  to start from (else drawn with the first half of `rng`, as every sampler does).
  """
  if eps is None:
    from samplers import default_eps   # the package's one home of the convention; lazy: no cycle
    eps = default_eps(sde)
  shape = _common.check_shape(shape)
  num_steps = ns.check_int('num_steps', num_steps, 2,
                           ' (DDIM evaluates at T, ..., eps: at least those two times)')
  eta = ns.check_real('eta', eta, 0., 1.)
  eps = _common.check_eps(eps, sde)

  t = np.linspace(sde.T, eps, num_steps)
  m, s = ns.marginals(sde, t)
  # Next levels: the last step goes to clean data (m = 1, s = 0).
  m_next, s_next = np.append(m[1:], 1.), np.append(s[1:], 0.)
  noise_std = eta * s_next * np.sqrt(np.maximum(1. - (m * s_next / (m_next * s)) ** 2, 0.))
  keep_std = np.sqrt(np.maximum(s_next ** 2 - noise_std ** 2, 0.))
  stochastic = eta > 0

  def sample(rng, params, z=None):
    x_dtype = _common.sample_dtype(params, dtype)
    score = _common.bind_score(score_fn, params)
    table = {k: jnp.asarray(v, x_dtype) for k, v in dict(
        t=t, m=m, s=s, m_next=m_next, keep=keep_std, noise=noise_std).items()}
    prior_rng, loop_rng = jax.random.split(rng)
    x = ns.prior_sample(sde, prior_rng, shape, x_dtype, z)

    def body(i, x):
      c = {k: v[i] for k, v in table.items()}
      x0, e = ns.predictions(score, x, c['t'], c['m'], c['s'])
      x = c['m_next'] * x0 + c['keep'] * e
      if stochastic:
        x = x + c['noise'] * jax.random.normal(jax.random.fold_in(loop_rng, i), shape, x_dtype)
      return x

    x = jax.lax.fori_loop(0, num_steps, body, x)
    return x, jnp.asarray(num_steps, jnp.int32)

  return jax.jit(sample)
