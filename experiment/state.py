"""Training state (parameters, EMA, optimiser) and the optimiser built from `config.optim`."""
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

import models
from utils import config_checks

OPTIMIZERS = config_checks.OPTIMIZERS
SCHEDULES = config_checks.LR_SCHEDULES


@flax.struct.dataclass
class TrainState:
  """Everything a step changes. Per-step randomness is derived from (seed, step), so
  the state needs no key: a run resumed at step N draws the same noise."""
  step: jnp.ndarray          # int32 scalar: number of optimiser steps taken
  params: Any                # the model's variables, {'params': ...}
  ema_params: Any            # exponential moving average of `params`
  opt_state: Any


def get_optimizer(config):
  """Adam with linear warm-up and global-norm clipping, as the original.

  lr(step) = optim.lr * min(step / optim.warmup, 1) (the original's
  schedule); with the optional `optim.schedule = 'cosine'` the rate then
  decays as a half cosine to 0 at `training.n_iters`. Gradients are clipped
  to global norm optim.grad_clip when it is >= 0; optim.weight_decay is
  decoupled (AdamW), 0 by default.
  """
  o = config.optim
  if o.optimizer not in OPTIMIZERS:
    raise ValueError(config_checks.not_allowed('config.optim.optimizer', o.optimizer, OPTIMIZERS))
  kind = o.get('schedule', 'constant')
  if kind not in SCHEDULES:
    raise ValueError(config_checks.not_allowed('config.optim.schedule', kind, SCHEDULES))
  warmup = max(o.warmup, 1)
  decay_steps = max(config.training.n_iters - warmup, 1)

  def schedule(step):
    lr = o.lr * jnp.minimum(step / warmup, 1.)
    if kind == 'cosine':
      progress = jnp.clip((step - warmup) / decay_steps, 0., 1.)
      lr = lr * 0.5 * (1. + jnp.cos(jnp.pi * progress))
    return lr
  adam = optax.adamw(schedule, b1=o.beta1, b2=0.999, eps=o.eps, weight_decay=o.weight_decay)
  if o.grad_clip >= 0:
    return optax.chain(optax.clip_by_global_norm(o.grad_clip), adam)
  return adam


def new_train_state(variables, optimizer):
  """The state at step 0 of a network with `variables` (EMA starts at the variables)."""
  return TrainState(step=jnp.zeros((), jnp.int32), params=variables, ema_params=variables,
                    opt_state=optimizer.init(variables))


def init_train_state(rng, config, optimizer):
  """(model, state) at step 0; works under jax.eval_shape / jit with out_shardings."""
  model, variables = models.init_model(rng, config)
  return model, new_train_state(variables, optimizer)


def ema_update(ema, params, rate):
  return jax.tree.map(lambda e, p: e * rate + (1. - rate) * p, ema, params)
