"""Orbax checkpoints: periodic snapshots plus one frequent preemption checkpoint.

`WORKDIR/checkpoints/STEP` keeps every snapshot (`training.snapshot_freq`);
`WORKDIR/checkpoints-meta/STEP` keeps only the latest preemption checkpoint
(`training.snapshot_freq_for_preemption`), as in the original. Orbax writes a
checkpoint into a temporary directory and renames it when complete, so a
process killed mid-write leaves no checkpoint that looks complete; resuming
takes the newest complete one of either kind. A complete-looking checkpoint
that cannot be read is an error, never a silent restart from scratch.
"""
import os

import flax
import jax
import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
  pass


class Checkpoints:
  """Saves and restores `TrainState`s under a workdir (async writes).

  Close it (`close()`, or use it as a context manager) so that pending writes
  finish and orbax's background threads stop.
  """

  def __init__(self, workdir, async_save=True):
    self.dirs = {'snapshot': os.path.join(os.path.abspath(workdir), 'checkpoints'),
                 'preemption': os.path.join(os.path.abspath(workdir), 'checkpoints-meta')}
    self.managers = {
        'snapshot': ocp.CheckpointManager(
            self.dirs['snapshot'],
            options=ocp.CheckpointManagerOptions(enable_async_checkpointing=async_save)),
        'preemption': ocp.CheckpointManager(
            self.dirs['preemption'],
            options=ocp.CheckpointManagerOptions(max_to_keep=1,
                                                 enable_async_checkpointing=async_save)),
    }

  def save(self, kind, state):
    """Starts writing `state` as a `kind` ('snapshot' | 'preemption') checkpoint."""
    step = int(jax.device_get(state.step))
    manager = self.managers[kind]
    if manager.latest_step() == step:
      return
    manager.save(step, args=ocp.args.StandardSave(flax.serialization.to_state_dict(state)))

  def wait(self):
    for manager in self.managers.values():
      manager.wait_until_finished()

  def latest(self):
    """(kind, step) of the newest complete checkpoint, or None."""
    found = [(m.latest_step(), kind) for kind, m in self.managers.items()
             if m.latest_step() is not None]
    if not found:
      return None
    step, kind = max(found)
    return kind, step

  def restore(self, abstract_state, kind=None, step=None):
    """The checkpoint `step` of `kind` (default: the newest), laid out like `abstract_state`.

    `abstract_state` is a TrainState of jax.ShapeDtypeStruct (with shardings),
    e.g. from jax.eval_shape of the initialiser.
    """
    if kind is None:
      latest = self.latest()
      if latest is None:
        raise CheckpointError(f"no checkpoint under {os.path.dirname(self.dirs['snapshot'])}")
      kind, step = latest
    target = flax.serialization.to_state_dict(abstract_state)
    path = os.path.join(self.dirs[kind], str(step))
    try:
      restored = self.managers[kind].restore(step, args=ocp.args.StandardRestore(target))
    except Exception as e:  # orbax raises several types; all mean the same to the user
      raise CheckpointError(
          f"checkpoint {path} exists but cannot be read ({type(e).__name__}: {e}). Refusing "
          "to start from scratch: delete it to fall back to an older one, or fix the "
          "config so the model matches the checkpoint") from e
    return flax.serialization.from_state_dict(abstract_state, restored)

  def close(self):
    for manager in self.managers.values():
      manager.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.close()
