"""The jitted training step: loss, backward, clip, Adam, EMA; several per call with lax.scan.

(The eval step, which evaluation uses too, is `experiment.make_eval_step`.)
"""
import jax
import jax.numpy as jnp
import optax

from experiment.state import ema_update


def step_rng(seed, step):
  """The key of optimiser step `step`: a pure function of (seed, step), so resuming is exact."""
  return jax.random.fold_in(jax.random.PRNGKey(seed), step)


def make_train_step(loss_fn, optimizer, ema_rate, seed):
  """`train_step(state, batch) -> (state, loss)` for one optimiser step."""
  grad_fn = jax.value_and_grad(loss_fn, argnums=1)

  def train_step(state, batch):
    loss, grads = grad_fn(step_rng(seed, state.step), state.params, batch)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                         ema_params=ema_update(state.ema_params, params, ema_rate)), loss

  return train_step


def make_multi_step(train_step):
  """`multi_step(state, batches) -> (state, losses)` over batches stacked on axis 0."""
  def multi_step(state, batches):
    return jax.lax.scan(train_step, state, batches)
  return multi_step

