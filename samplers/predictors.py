"""Predictors: one step of a numerical solver of the reverse-time SDE, from t to t - 1/N.

A predictor is built per call of a sampler, inside the trace, from the forward
SDE and a score function with its parameters already bound:
`predictor = cls(sde, score, probability_flow)`, then
`x, x_mean = predictor.update_fn(rng, x, t)` with `t` of shape `(batch,)`.
`x_mean` is the step without its noise; the PC sampler returns it at the last
step when it denoises. `nfe` is the number of score evaluations per step.

Names are the original score_sde's: `euler_maruyama`, `reverse_diffusion`,
`ancestral_sampling`, `none`.
"""
import abc

import jax
import jax.numpy as jnp

from samplers import _common
from sde_lib import batch_mul
from utils import config_checks

# name -> predictor class, filled by `_common.register` below (names: config_checks.PREDICTORS).
PREDICTORS = {}


class Predictor(abc.ABC):
  """One reverse-time step; subclasses set `nfe` and implement `update_fn`."""

  nfe: int = 1

  def __init__(self, sde, score, probability_flow: bool = False):
    self.sde = sde
    self.score = score
    self.probability_flow = probability_flow
    self.rsde = sde.reverse(score, probability_flow)

  @classmethod
  def check(cls, sde, probability_flow: bool):
    """Raises ValueError if this predictor cannot be used with `sde` and `probability_flow`."""

  @abc.abstractmethod
  def update_fn(self, rng, x, t):
    """Returns (x, x_mean) at t - 1/N."""


@_common.register(PREDICTORS, 'euler_maruyama')
class EulerMaruyamaPredictor(Predictor):
  """Euler-Maruyama on the reverse SDE with dt = -T/N (the original's step, whatever the grid)."""

  def update_fn(self, rng, x, t):
    dt = -self.sde.T / self.rsde.N
    drift, diffusion = self.rsde.sde(x, t)
    x_mean = x + drift * dt
    z = jax.random.normal(rng, x.shape, x.dtype)
    return x_mean + batch_mul(diffusion * jnp.sqrt(jnp.asarray(-dt, x.dtype)), z), x_mean


@_common.register(PREDICTORS, 'reverse_diffusion')
class ReverseDiffusionPredictor(Predictor):
  """The reverse of the SDE's own discretisation (DDPM for VP, SMLD for VE): x - f + G z."""

  def update_fn(self, rng, x, t):
    f, G = self.rsde.discretize(x, t)
    x_mean = x - f
    z = jax.random.normal(rng, x.shape, x.dtype)
    return x_mean + batch_mul(G, z), x_mean


@_common.register(PREDICTORS, 'ancestral_sampling')
class AncestralSamplingPredictor(Predictor):
  """Ancestral sampling of the discrete chain behind the SDE (DDPM for VP, SMLD for VE)."""

  @classmethod
  def check(cls, sde, probability_flow):
    if probability_flow:
      raise ValueError(
          "predictor='ancestral_sampling' samples the discrete Markov chain and has no "
          "probability-flow version; use probability_flow=False, or predictor="
          "'reverse_diffusion' or 'euler_maruyama' with probability_flow=True")
    if not sde.has_ancestral_step:
      raise ValueError(
          f"predictor='ancestral_sampling' needs an SDE with an ancestral step "
          f"(VPSDE, VESDE); {type(sde).__name__} has none. Use 'reverse_diffusion' "
          "or 'euler_maruyama'")

  def update_fn(self, rng, x, t):
    x_mean, std = self.sde.ancestral_step(x, t, self.score(x, t))
    z = jax.random.normal(rng, x.shape, x.dtype)
    return x_mean + batch_mul(std, z), x_mean


@_common.register(PREDICTORS, 'none')
class NonePredictor(_common.Skip, Predictor):
  """No predictor: the sampler runs the corrector alone."""


config_checks.check_registered('predictors', PREDICTORS, config_checks.PREDICTORS)


def get_predictor(name):
  """The predictor class registered under `name` (case-insensitive)."""
  return _common.lookup('predictor', name, PREDICTORS)
