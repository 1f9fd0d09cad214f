"""The training loop: mesh and shardings, init or resume, then one loop over steps.

Data parallel: the global batch is sharded over the mesh axis `data`, the
state is replicated; `training.n_jitted_steps` optimiser steps run per call
(lax.scan). Each host feeds its own shard of every global batch. Batches and
per-step noise are pure functions of (seed, step), so a run killed at any
moment and restarted with the same command continues exactly as if it had
not stopped.
"""
import os

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

import experiment
import samplers
from experiment import checkpoints as ckpt_lib, run_config, state as state_lib
from training import step as step_lib
from utils import plots, preemption, xla_flags
from utils.metric_writer import MetricWriter

SNAPSHOT_SAMPLES = {'vector': 2000, 'image': 64}   # samples drawn at each snapshot


class Trainer:
  """Jitted, sharded step functions and state initialisation for one config.

  By default it trains the config's score network (`experiment.Experiment`);
  `loss_fn` / `init_variables` (`init_variables(rng) -> variables`, pure) train another
  network on the same loop and optimiser (the classifier), `batch_field` naming its batch
  size in messages.
  """

  def __init__(self, config, mesh=None, loss_fn=None, eval_loss_fn=None, init_variables=None,
               batch_field='training.batch_size'):
    self.config = config
    self.experiment = experiment.Experiment(config, mesh)
    self.mesh, self.replicated = self.experiment.mesh, self.experiment.replicated
    self.optimizer = self.experiment.optimizer
    if loss_fn is None:
      loss_fn, eval_loss_fn = self.experiment.loss_fn(True), self.experiment.loss_fn(False)
    self.eval_loss_fn = eval_loss_fn
    if init_variables is None:
      self._initial_state = self.experiment.init_state
    else:
      self._initial_state = lambda rng: state_lib.new_train_state(init_variables(rng),
                                                                 self.optimizer)
    train_step = step_lib.make_train_step(loss_fn, self.optimizer, config.model.ema_rate,
                                          config.seed)
    # On CPU, XLA runs the backward pass of convolutions inside a while loop
    # (lax.scan) about 6x slower than the same step jitted alone (measured: 2.96 s
    # vs 0.48 s per step of the digits DDPM++), so there each step of an image
    # model is its own call; dispatch is asynchronous, so nothing waits between
    # them. Vector models (MLPs) and accelerators run n_jitted_steps per call.
    images = len(self.experiment.shape) > 1
    self.steps_per_call = 1 if jax.default_backend() == 'cpu' and images else None
    self._one_step = jax.jit(train_step, donate_argnums=0,
                             out_shardings=(self.replicated, self.replicated))
    self._multi_step = jax.jit(step_lib.make_multi_step(train_step), donate_argnums=0,
                               out_shardings=(self.replicated, self.replicated))
    self._eval_step = None
    n_dev = self.mesh.devices.size
    if config.training.batch_size % n_dev:
      raise ValueError(f"config.{batch_field}={config.training.batch_size} must be "
                       f"divisible by the number of devices ({n_dev})")
    self.batch_sharding = self.experiment.batch_sharding
    self._init = None

  def init_state(self):
    """The initial state (compiled once per Trainer). It runs once, so on CPU it is compiled
    without XLA's backend (LLVM) optimisations: the same bits (integer RNG and exact float
    ops), compiled in ~4 s instead of ~8.5 s for the digits DDPM++."""
    rng = jax.random.PRNGKey(self.config.seed)
    if self._init is None:
      options = xla_flags.ONE_OFF_COMPILE if jax.default_backend() == 'cpu' else None
      self._init = jax.jit(self._initial_state, out_shardings=self.replicated).lower(
          rng).compile(compiler_options=options)
    return self._init(rng)

  def abstract_state(self):
    return experiment.abstract(self._initial_state, self.config.seed, self.replicated)

  def global_batches(self, local_batches):
    """Host-local (k, B/hosts, ...) batches (or pytrees of them) -> global arrays sharded
    on `data`."""
    return jax.tree.map(
        lambda b: jax.make_array_from_process_local_data(self.batch_sharding, b), local_batches)

  def multi_step(self, state, local_batches):
    """Runs len(local_batches) optimiser steps; returns (state, losses of each step)."""
    batches = self.global_batches(local_batches)
    if self.steps_per_call != 1:
      return self._multi_step(state, batches)
    losses = []
    for i in range(jax.tree.leaves(batches)[0].shape[0]):
      state, loss = self._one_step(state, jax.tree.map(lambda b, i=i: b[i], batches))
      losses.append(loss)
    return state, jnp.stack(losses)

  def eval_loss(self, state, local_batch, index):
    """The eval objective of the EMA parameters on one batch (`training.eval_freq`)."""
    if self._eval_step is None:
      self._eval_step = jax.jit(experiment.make_eval_step(self.eval_loss_fn, self.config.seed))
    batch = self.global_batches(local_batch[None])[0]
    return self._eval_step(state, batch, index)


def _say(message):
  if jax.process_index() == 0:
    tqdm.tqdm.write(message)


def _chunk_ends(step, n_iters, freqs):
  """The next step at which something happens (log, checkpoint, end)."""
  ends = [n_iters] + [(step // f + 1) * f for f in freqs if f > 0]
  return min(e for e in ends if e > step)


def train(config, workdir, data_source, on_snapshot=None, max_steps=None, trainer=None,
          eval_source=None, check_config=True):
  """Trains from `config`, resuming from the newest checkpoint in `workdir`.

  Args:
    data_source: `batch(step) -> np.ndarray`, this host's shard of the batch of step `step`.
    on_snapshot: optional `fn(state, step)` called at each snapshot (sample grids).
    max_steps: stop after this many steps in this call (tests); default: run to n_iters.
    trainer: a `Trainer(config)` to reuse (its steps are already compiled);
      default: a new one.
    eval_source: optional `batch(step)` source of held-out batches: every
      `training.eval_freq` steps the EMA parameters' eval loss on its batch of that step
      is logged as `eval_loss` (the original's periodic evaluation).
    check_config: refuse a workdir whose checkpoints were trained with another config
      (`experiment.run_config`); the classifier's run checks its own identity instead.
  Returns the final TrainState.
  Raises `run_config.ConfigMismatchError` (nothing read or written) when `workdir` belongs
  to another config; `preemption.Preempted` after SIGTERM / SIGINT, once the step in flight
  is done and a preemption checkpoint of it is written; `checkpoints.CheckpointError`
  when a checkpoint cannot be written (at the latest one call after that save) or read.
  """
  tc = config.training
  if check_config:
    run_config.check(config, workdir)
  os.makedirs(workdir, exist_ok=True)
  run_config.record(config, workdir)
  trainer = Trainer(config) if trainer is None else trainer
  eval_freq = tc.get('eval_freq', 0) if eval_source is not None else 0
  # Closed on every exit, an unreadable checkpoint included (stops orbax's threads).
  with preemption.PreemptionWatch() as watch, ckpt_lib.Checkpoints(workdir) as ckpts:
    latest = ckpts.latest()
    if latest is None:
      state = trainer.init_state()
      _say(f'starting from scratch in {workdir}')
    else:
      state = ckpts.restore(trainer.abstract_state(),
                            fallback=bool(tc.get('restore_fallback', False)))
      _say(f'resumed from the checkpoint at step {int(jax.device_get(state.step))}')
    step = int(jax.device_get(state.step))
    stop = tc.n_iters if max_steps is None else min(tc.n_iters, step + max_steps)
    # Steps logged after this checkpoint by an earlier process are re-run: drop them.
    writer = MetricWriter(workdir, 'train', resume_step=step)
    freqs = (tc.n_jitted_steps, tc.log_freq, tc.snapshot_freq, tc.snapshot_freq_for_preemption,
             eval_freq)
    bar = tqdm.tqdm(total=tc.n_iters, initial=step, desc='train', unit='step',
                    dynamic_ncols=True, disable=jax.process_index() != 0)
    pending = None     # (first step, losses) of the last call, checked one call late
    try:
      while step < stop:
        end = min(_chunk_ends(step, tc.n_iters, freqs), stop)
        # A batch is an array or a pytree of arrays ((images, labels) for a classifier).
        local = jax.tree.map(lambda *b: np.stack(b),
                             *[data_source.batch(s) for s in range(step, end)])
        state, step_losses = trainer.multi_step(state, local)
        # The write started one call ago must have succeeded before training goes on
        # (this waits while the device runs the call just dispatched).
        ckpts.confirm()
        if pending is not None:
          _check_and_log(pending, writer, bar, tc.log_freq)
        pending = (step, step_losses)
        step = end
        if eval_freq and step % eval_freq == 0:
          _log_eval_loss(trainer, state, eval_source, step, writer)
        checkpoint_now = step % tc.snapshot_freq_for_preemption == 0
        snapshot_now = step % tc.snapshot_freq == 0 or step == tc.n_iters
        if checkpoint_now or snapshot_now or step == stop:
          # Never checkpoint a state whose losses have not been seen to be finite.
          _check_and_log(pending, writer, bar, tc.log_freq)
          pending = None
          if snapshot_now:
            ckpts.save('snapshot', state)
            if on_snapshot is not None:
              on_snapshot(state, step)
          elif checkpoint_now:
            ckpts.save('preemption', state)
        if watch.reached(step):
          if pending is not None:
            _check_and_log(pending, writer, bar, tc.log_freq)
            pending = None
          if ckpts.latest() != ('snapshot', step):
            ckpts.save('preemption', state)
          ckpts.confirm()
          kind, saved = ckpts.latest()
          raise preemption.Preempted(
              f'{watch.signal_name}: stopped at step {step}; checkpoint '
              f'{os.path.join(ckpts.dirs[kind], str(saved))} written. Run the same command '
              'to resume')
      if pending is not None:
        _check_and_log(pending, writer, bar, tc.log_freq)
    finally:
      bar.close()
      writer.close()
  return state


def _check_and_log(pending, writer, bar, log_freq):
  first, step_losses = pending
  values = np.asarray(jax.device_get(step_losses))
  bad = np.flatnonzero(~np.isfinite(values))
  if bad.size:
    s = first + int(bad[0]) + 1
    raise FloatingPointError(
        f"training loss is {values[bad[0]]} at step {s}; stopping. The last checkpoint "
        "saved before that step is kept")
  for i, v in enumerate(values):
    s = first + i + 1
    if s % log_freq == 0:
      writer.write(s, loss=v)
  bar.update(len(values))
  bar.set_postfix(loss=f'{values[-1]:.4g}')


def _log_eval_loss(trainer, state, eval_source, step, writer):
  value = float(jax.device_get(trainer.eval_loss(state, eval_source.batch(step), step)))
  if not np.isfinite(value):
    raise FloatingPointError(f"eval loss is {value} at step {step}; stopping. The last "
                             "checkpoint saved before that step is kept")
  writer.write(step, eval_loss=value)


def make_snapshot_sampler(config, workdir, exp=None):
  """`fn(state, step)`: samples with the EMA parameters and writes samples/step_STEP.{npz,png}."""
  exp = experiment.Experiment(config) if exp is None else exp
  n = SNAPSHOT_SAMPLES['vector' if len(exp.shape) == 1 else 'image']
  sampler = samplers.get_sampler(config, exp.sde, exp.score_fn, (n,) + exp.shape)
  inverse = exp.inverse_scaler
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 0x5A3)

  def on_snapshot(state, step):
    x, _ = sampler(jax.random.fold_in(key, step), state.ema_params)
    if jax.process_index() == 0:
      plots.save_samples(os.path.join(workdir, 'samples', f'step_{step}'),
                         np.asarray(jax.device_get(x)), inverse)

  return on_snapshot


def final_snapshot_sampled_by_eval(config):
  """True when `--mode train` ends with an eval (`training.eval_at_end`) that draws samples
  of the last snapshot: then training draws no snapshot grid at the last step."""
  return bool(config.training.get('eval_at_end', False) and config.eval.enable_sampling
              and any(step == config.training.n_iters
                      for _, step in experiment.eval_snapshots(config)))


def run(config, workdir):
  """`main.py --mode train`: train (resuming if possible) with snapshot samples and, every
  `training.eval_freq` steps, the eval loss on a held-out batch."""
  trainer = Trainer(config)
  exp = trainer.experiment
  on_snapshot = (make_snapshot_sampler(config, workdir, exp)
                 if config.training.snapshot_sampling else None)
  if on_snapshot is not None and final_snapshot_sampled_by_eval(config):
    # The eval that follows samples the last snapshot (eval/ckpt_K/samples.png): drawing
    # its grid here too would sample the same network twice in one command.
    sample_snapshot = on_snapshot
    on_snapshot = lambda state, step: (None if step == config.training.n_iters
                                       else sample_snapshot(state, step))
  eval_source = exp.train_source('test') if config.training.get('eval_freq', 0) else None
  return train(config, workdir, exp.train_source(), on_snapshot=on_snapshot, trainer=trainer,
               eval_source=eval_source)
