"""Score-matching objectives: continuous DSM for any SDE, SMLD and DDPM for discrete models.

Every loss is `loss_fn(rng, params, batch) -> scalar`, pure and jit-able;
`get_loss_fn(config, sde, model, train)` picks one from `training.continuous`.
"""
import jax
import jax.numpy as jnp

from models import scoring
from sde_lib import VESDE, VPSDE, batch_mul, subVPSDE


def _reduce(reduce_mean):
  """Per-example reduction over all but the batch axis (the original's choice)."""
  if reduce_mean:
    return lambda v: jnp.mean(v.reshape(v.shape[0], -1), axis=-1)
  return lambda v: 0.5 * jnp.sum(v.reshape(v.shape[0], -1), axis=-1)


def get_sde_loss_fn(sde, model, train, reduce_mean=True, continuous=True,
                    likelihood_weighting=True, eps=1e-5):
  """Denoising score matching at t ~ U[eps, T] (Song et al. 2021, eq. 7).

  Without likelihood weighting the per-time weight is lambda(t) = s(t)^2
  (the loss is |s(t) score + z|^2); with it lambda(t) = g(t)^2, which makes
  the objective an upper bound on the negative log-likelihood.
  """
  score_fn = scoring.get_score_fn(sde, model, continuous=continuous, train=train)
  reduce = _reduce(reduce_mean)

  def loss_fn(rng, params, batch):
    t_rng, z_rng, drop_rng = jax.random.split(rng, 3)
    b = batch.shape[0]
    t = jax.random.uniform(t_rng, (b,), batch.dtype, eps, sde.T)
    z = jax.random.normal(z_rng, batch.shape, batch.dtype)
    mean, std = sde.marginal_prob(batch, t)
    perturbed = mean + batch_mul(std, z)
    score = score_fn(params, perturbed, t, drop_rng if train else None)
    if likelihood_weighting:
      g2 = sde.sde(jnp.zeros_like(batch), t)[1] ** 2
      losses = reduce(jnp.square(score + batch_mul(1. / std, z))) * g2
    else:
      losses = reduce(jnp.square(batch_mul(std, score) + z))
    return jnp.mean(losses)

  return loss_fn


def _discrete_levels(sde, rng, batch):
  """(level i ~ U{0, ..., N-1} per example, its time `scoring.discrete_times`, noise key,
  dropout key): the draw of both discrete losses."""
  i_rng, z_rng, drop_rng = jax.random.split(rng, 3)
  levels = jax.random.randint(i_rng, (batch.shape[0],), 0, sde.N)
  return levels, jnp.asarray(scoring.discrete_times(sde, batch.dtype))[levels], z_rng, drop_rng


def get_smld_loss_fn(vesde, model, train, reduce_mean=False):
  """NCSN's loss: sigma_i^2-weighted DSM over the discrete noise levels.

  Level i (uniform) is the i-th largest sigma; the network sees it through
  the score function at the level's time `scoring.discrete_times` (whose
  discrete-VE label is i), never through a label of its own.
  """
  if not isinstance(vesde, VESDE):
    raise ValueError(f"the SMLD loss needs a VESDE, got {type(vesde).__name__}")
  score_fn = scoring.get_score_fn(vesde, model, continuous=False, train=train)
  reduce = _reduce(reduce_mean)

  def loss_fn(rng, params, batch):
    levels, t, z_rng, drop_rng = _discrete_levels(vesde, rng, batch)
    sigmas = jnp.asarray(vesde.discrete_sigmas[::-1], batch.dtype)[levels]
    noise = batch_mul(sigmas, jax.random.normal(z_rng, batch.shape, batch.dtype))
    score = score_fn(params, batch + noise, t, drop_rng if train else None)
    target = -batch_mul(1. / sigmas ** 2, noise)
    return jnp.mean(reduce(jnp.square(score - target)) * sigmas ** 2)

  return loss_fn


def get_ddpm_loss_fn(vpsde, model, train, reduce_mean=True):
  """DDPM's loss: MSE between the predicted and the true noise, at a uniform step i.

  The predicted noise is -sqrt(1 - abar_i) * score, the score taken at the
  step's time `scoring.discrete_times` (whose discrete-VP label is i).
  """
  if not isinstance(vpsde, VPSDE) or isinstance(vpsde, subVPSDE):
    raise ValueError(f"the DDPM loss needs a VPSDE, got {type(vpsde).__name__}")
  score_fn = scoring.get_score_fn(vpsde, model, continuous=False, train=train)
  reduce = _reduce(reduce_mean)

  def loss_fn(rng, params, batch):
    levels, t, z_rng, drop_rng = _discrete_levels(vpsde, rng, batch)
    a = jnp.asarray(vpsde.sqrt_alphas_cumprod, batch.dtype)[levels]
    s = jnp.asarray(vpsde.sqrt_1m_alphas_cumprod, batch.dtype)[levels]
    noise = jax.random.normal(z_rng, batch.shape, batch.dtype)
    perturbed = batch_mul(a, batch) + batch_mul(s, noise)
    score = score_fn(params, perturbed, t, drop_rng if train else None)
    return jnp.mean(reduce(jnp.square(batch_mul(s, score) + noise)))

  return loss_fn


def get_loss_fn(config, sde, model, train, eps=1e-5):
  """The objective for `config`: continuous DSM, or SMLD/DDPM when `training.continuous` is False."""
  tc = config.training
  if tc.continuous:
    return get_sde_loss_fn(sde, model, train, reduce_mean=tc.reduce_mean, continuous=True,
                           likelihood_weighting=tc.likelihood_weighting, eps=eps)
  if tc.likelihood_weighting:
    raise ValueError("config.training.likelihood_weighting=True needs "
                     "config.training.continuous=True (the discrete losses have fixed weights)")
  if isinstance(sde, VESDE):
    return get_smld_loss_fn(sde, model, train, reduce_mean=tc.reduce_mean)
  if isinstance(sde, VPSDE) and not isinstance(sde, subVPSDE):
    return get_ddpm_loss_fn(sde, model, train, reduce_mean=tc.reduce_mean)
  raise ValueError(f"config.training.continuous=False is defined for vesde (SMLD) and "
                   f"vpsde (DDPM), not {config.training.sde!r}")
