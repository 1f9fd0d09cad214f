"""Reads parameters out of a run's orbax checkpoints, read-only, without its training state.

For code that uses a trained network but does not train it (controllable
generation reads a score model and a classifier): no optimiser and no
trainer are built, nothing under the workdir is created, cleaned or
written. The directory layout is `training.checkpoints`'s (snapshots in
WORKDIR/checkpoints, the preemption checkpoint in WORKDIR/checkpoints-meta);
a test checks that the two agree.
"""
import os

import jax
import numpy as np
import orbax.checkpoint as ocp

CHECKPOINT_DIRS = {'snapshot': 'checkpoints', 'preemption': 'checkpoints-meta'}


def _manager(directory):
  return ocp.CheckpointManager(
      directory, options=ocp.CheckpointManagerOptions(create=False,
                                                      cleanup_tmp_directories=False))


def newest(workdir):
  """(kind, step) of the newest complete checkpoint under `workdir`, or None."""
  found = []
  for kind, sub in CHECKPOINT_DIRS.items():
    directory = os.path.join(os.path.abspath(workdir), sub)
    if not os.path.isdir(directory):
      continue
    manager = _manager(directory)
    try:
      if manager.latest_step() is not None:
        found.append((manager.latest_step(), kind))
    finally:
      manager.close()
  if not found:
    return None
  step, kind = max(found)
  return kind, step


def read_params(workdir, abstract, key='ema_params', what='model'):
  """(params, step): the `key` entry of the newest checkpoint under `workdir`.

  `abstract` is the expected pytree (arrays or jax.ShapeDtypeStruct, e.g. from
  jax.eval_shape of the initialiser); the checkpoint must match its structure
  and shapes, else a ValueError names the first difference. `what` names the
  network in messages.
  """
  latest = newest(workdir)
  if latest is None:
    raise FileNotFoundError(
        f"no checkpoint of the {what} under {os.path.abspath(workdir)} "
        f"({' or '.join(CHECKPOINT_DIRS.values())}/): train it first")
  kind, step = latest
  path = os.path.join(os.path.abspath(workdir), CHECKPOINT_DIRS[kind])
  manager = _manager(path)
  try:
    restored = manager.restore(step, args=ocp.args.StandardRestore())
  except Exception as e:  # orbax raises several types; all mean the same to the user
    raise ValueError(f"the {what} checkpoint {path}/{step} cannot be read "
                     f"({type(e).__name__}: {e})") from e
  finally:
    manager.close()
  if key not in restored:
    raise ValueError(f"the {what} checkpoint {path}/{step} has no {key!r}")
  params = restored[key]
  want = jax.tree_util.tree_flatten_with_path(abstract)[0]
  got = dict(jax.tree_util.tree_flatten_with_path(params)[0])
  got = {jax.tree_util.keystr(k): v for k, v in got.items()}
  for k, leaf in want:
    name = jax.tree_util.keystr(k)
    if name not in got or tuple(np.shape(got[name])) != tuple(leaf.shape):
      have = 'missing' if name not in got else f'shape {tuple(np.shape(got[name]))}'
      raise ValueError(
          f"the {what} checkpoint {path}/{step} does not fit the config's network: parameter "
          f"{name} is {have}, the config's network has shape {tuple(leaf.shape)}")
  if len(got) != len(want):
    raise ValueError(f"the {what} checkpoint {path}/{step} has {len(got)} parameters arrays, "
                     f"the config's network {len(want)}")
  params = jax.tree.unflatten(jax.tree.structure(abstract),
                              [np.asarray(got[jax.tree_util.keystr(k)], leaf.dtype)
                               for k, leaf in want])
  return params, step
