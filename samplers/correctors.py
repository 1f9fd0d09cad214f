"""Correctors: score-based MCMC steps that move x towards p_t at a fixed time t.

A corrector is built per call of a sampler, inside the trace:
`corrector = cls(sde, score, snr, n_steps)`, then
`x, x_mean = corrector.update_fn(rng, x, t)` with `t` of shape `(batch,)`.
It takes `n_steps` Langevin steps (one score evaluation each, `nfe = n_steps`).

Correctors read the SDE only through its methods (`langevin_step_size_scale`,
`marginal_prob`), never through attributes of one SDE class: the original
crashed with sub-VP + Langevin because it read `sde.alphas`.

Names are the original score_sde's: `langevin`, `ald`, `none`.
"""
import abc

import jax
import jax.numpy as jnp

from samplers import _common
from sde_lib import batch_mul
from utils import config_checks

# name -> corrector class, filled by `_common.register` below (names: config_checks.CORRECTORS).
CORRECTORS = {}


def _per_example_norm(v):
  """Euclidean norm of each example over all non-batch axes: (batch,)."""
  return jnp.sqrt(jnp.sum(v.reshape(v.shape[0], -1) ** 2, axis=-1))


class Corrector(abc.ABC):
  """`n_steps` steps of x <- x + step * score + sqrt(2 step) z; subclasses choose the step."""

  def __init__(self, sde, score, snr: float, n_steps: int):
    self.sde = sde
    self.score = score
    self.snr = snr
    self.n_steps = n_steps

  @property
  def nfe(self):
    return self.n_steps

  @abc.abstractmethod
  def step_size(self, x, t, grad, noise):
    """The Langevin step size, (batch,)."""

  def update_fn(self, rng, x, t):
    def body(i, val):
      x, _ = val
      grad = self.score(x, t)
      noise = jax.random.normal(jax.random.fold_in(rng, i), x.shape, x.dtype)
      step = self.step_size(x, t, grad, noise)
      x_mean = x + batch_mul(step, grad)
      return x_mean + batch_mul(jnp.sqrt(2. * step), noise), x_mean

    return jax.lax.fori_loop(0, self.n_steps, body, (x, x))


@_common.register(CORRECTORS, 'langevin')
class LangevinCorrector(Corrector):
  """Langevin MCMC with the step set by a signal-to-noise ratio (Song et al., 2021, Alg. 4-5).

  step = 2 alpha (snr |z| / |score|)^2, where |.| is the per-example norm over
  all non-batch axes averaged over the batch, exactly as the original (so one
  step size is shared by the batch, times alpha_i = `sde.langevin_step_size_scale(t)`).
  """

  def step_size(self, x, t, grad, noise):
    grad_norm = jnp.mean(_per_example_norm(grad))
    noise_norm = jnp.mean(_per_example_norm(noise))
    alpha = self.sde.langevin_step_size_scale(t).astype(x.dtype)
    return 2. * alpha * (self.snr * noise_norm / grad_norm) ** 2


@_common.register(CORRECTORS, 'ald')
class AnnealedLangevinDynamics(Corrector):
  """Annealed Langevin dynamics of NCSN (Song & Ermon, 2019): step = 2 alpha (snr std_t)^2."""

  def step_size(self, x, t, grad, noise):
    _, std = self.sde.marginal_prob(x, t)
    alpha = self.sde.langevin_step_size_scale(t).astype(x.dtype)
    return 2. * alpha * (self.snr * std) ** 2


@_common.register(CORRECTORS, 'none')
class NoneCorrector(_common.Skip, Corrector):
  """No corrector: the sampler runs the predictor alone."""

  def step_size(self, x, t, grad, noise):
    raise NotImplementedError


config_checks.check_registered('correctors', CORRECTORS, config_checks.CORRECTORS)


def get_corrector(name):
  """The corrector class registered under `name` (case-insensitive)."""
  return _common.lookup('corrector', name, CORRECTORS)
