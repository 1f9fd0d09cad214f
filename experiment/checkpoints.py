"""Orbax checkpoints: periodic snapshots plus one frequent preemption checkpoint.

`WORKDIR/checkpoints/STEP` keeps every snapshot (`training.snapshot_freq`);
`WORKDIR/checkpoints-meta/STEP` keeps only the latest preemption checkpoint
(`training.snapshot_freq_for_preemption`), as in the original. Orbax writes a
checkpoint into a temporary directory and renames it when complete, so a
process killed mid-write leaves no checkpoint that looks complete; resuming
takes the newest complete one of either kind. A complete-looking checkpoint
that cannot be read is an error, never a silent restart from scratch.

Faults are reported, once and briefly, as `CheckpointError`:
- Before each save the free space is checked against the state's size.
- Writes are asynchronous; `confirm()` waits for the write in flight and turns
  a failed one into "no space left on device writing DIR/STEP" (the training
  loop calls it one call after each save, so a failed write stops the run
  within `training.n_jitted_steps` steps). The temporary folder of a failed
  write is removed, and so are those a killed process left (at the next start).
- Each checkpoint records a CRC-32 of every array (in orbax's step metadata);
  `restore` recomputes them, and a mismatch names the checkpoint and the array.
  `restore(..., fallback=True)` (`training.restore_fallback`) then tries the
  next older checkpoint instead of stopping.
"""
import logging
import os
import re
import shutil
import sys
import zlib

import flax
import jax
import numpy as np
import orbax.checkpoint as ocp

from utils import params_npz

TMP_MARK = '.orbax-checkpoint-tmp'   # orbax's suffix of a checkpoint being written
DIRS = {'snapshot': 'checkpoints', 'preemption': 'checkpoints-meta'}   # kind -> folder
_LEAF_OVERHEAD = 2048                # bytes of orbax metadata per array, measured ~1 KiB
_FIXED_OVERHEAD = 1 << 16


class CheckpointError(RuntimeError):
  pass


class _OrbaxErrorFilter(logging.Filter):
  """Drops orbax's own ERROR records (tracebacks from its writer threads): every failure
  of an orbax call made here is raised as one `CheckpointError` naming the cause."""

  def filter(self, record):
    return not (record.levelno >= logging.ERROR and '/orbax/' in record.pathname)


def _closed_loop_noise(unraisable):
  # After a read fails, orbax closes its event loop while tensorstore still finishes the
  # other reads; each one then fails to deliver its result to the closed loop and Python
  # prints it as an unraisable 'Event loop is closed' traceback. They carry nothing: the
  # failed restore has already been raised.
  # Likewise the sibling reads of orbax's own coroutines, abandoned with the failed restore,
  # are reported as "Exception ignored in: <coroutine ...>" with the same cause.
  e = unraisable.exc_value
  if (unraisable.object is None and isinstance(e, RuntimeError)
      and str(e) == 'Event loop is closed'):
    return True
  code = getattr(unraisable.object, 'cr_code', None)
  return code is not None and '/orbax/' in code.co_filename.replace('\\', '/')


def _install_quiet_hooks():
  absl_logger = logging.getLogger('absl')
  if not any(isinstance(f, _OrbaxErrorFilter) for f in absl_logger.filters):
    absl_logger.addFilter(_OrbaxErrorFilter())
  previous = sys.unraisablehook
  if getattr(previous, '_drops_closed_loop_noise', False):
    return

  def hook(unraisable):
    if not _closed_loop_noise(unraisable):
      previous(unraisable)
  hook._drops_closed_loop_noise = True
  sys.unraisablehook = hook


def describe_error(e):
  """A short cause of an orbax/tensorstore failure: the OS error when there is one."""
  for exc in _chain(e):
    if isinstance(exc, OSError) and exc.errno:
      return os.strerror(exc.errno).lower()
    code = re.search(r"os_error_code='?(\d+)", str(exc))
    if code:
      return os.strerror(int(code.group(1))).lower()
  first = str(e).strip().splitlines()[0] if str(e).strip() else ''
  return f"{type(e).__name__}: {first[:300]}"


def _chain(e):
  seen = []
  while e is not None and e not in seen:
    seen.append(e)
    e = e.__cause__ or e.__context__
  return seen


def _leaf_name(path):
  return '/'.join(str(getattr(k, 'key', getattr(k, 'idx', k))) for k in path)


def _host_leaves(tree):
  """(name, numpy array) of every array of a state dict, from this host's copy."""
  out = []
  for path, x in jax.tree_util.tree_flatten_with_path(tree)[0]:
    if isinstance(x, jax.Array):
      x = x.addressable_data(0)    # the state is replicated: any local copy is the whole
    out.append((_leaf_name(path), np.asarray(x)))
  return out


def checksums(tree):
  """{array name: CRC-32 of its bytes (hex)} of a state dict."""
  return {name: f'{zlib.crc32(np.ascontiguousarray(x).reshape(-1).view(np.uint8)):08x}'
          for name, x in _host_leaves(tree)}


def needed_bytes(tree):
  """A generous estimate of the disk space one checkpoint of `tree` takes."""
  leaves = jax.tree.leaves(tree)
  data = sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize for x in leaves)
  return int(data * 1.05) + _LEAF_OVERHEAD * len(leaves) + _FIXED_OVERHEAD


def free_bytes(path):
  while not os.path.exists(path):
    path = os.path.dirname(path)
  return shutil.disk_usage(path).free


def has_checkpoints(workdir):
  """Whether `workdir` holds any checkpoint folder (complete or not), without opening it."""
  for sub in DIRS.values():
    path = os.path.join(workdir, sub)
    if os.path.isdir(path) and any(name.split('.')[0].isdigit() for name in os.listdir(path)):
      return True
  return False


def _mb(n):
  return f'{n / 2 ** 20:.1f} MB'


class Checkpoints:
  """Saves and restores `TrainState`s under a workdir (async writes).

  Close it (`close()`, or use it as a context manager) so that pending writes
  finish and orbax's background threads stop. `read_only=True` (eval, sample)
  creates nothing: a missing workdir is a FileNotFoundError. A writer
  (`read_only=False`) first removes the temporary folders of unfinished writes.
  """

  def __init__(self, workdir, async_save=True, read_only=False):
    _install_quiet_hooks()
    self.workdir = os.path.abspath(workdir)
    self.read_only = read_only
    self.dirs = {kind: os.path.join(self.workdir, sub) for kind, sub in DIRS.items()}
    if read_only and not os.path.isdir(self.workdir):
      raise FileNotFoundError(f"workdir {self.workdir} does not exist: train first with "
                              "--mode train, or pass the workdir of a trained run")
    if not read_only:
      self._remove_unfinished_writes()
    keep = {'snapshot': None, 'preemption': 1}
    self.managers = {
        kind: ocp.CheckpointManager(
            path, options=ocp.CheckpointManagerOptions(
                max_to_keep=keep[kind], enable_async_checkpointing=async_save,
                create=not read_only))
        for kind, path in self.dirs.items() if not read_only or os.path.isdir(path)}
    self._in_flight = {}   # kind -> step being written

  def _remove_unfinished_writes(self):
    if jax.process_index() != 0:
      return
    for path in self.dirs.values():
      if not os.path.isdir(path):
        continue
      for name in sorted(os.listdir(path)):
        if TMP_MARK in name:
          shutil.rmtree(os.path.join(path, name), ignore_errors=True)
          print(f'removed the unfinished checkpoint write {os.path.join(path, name)}',
                file=sys.stderr)

  def save(self, kind, state):
    """Starts writing `state` as a `kind` ('snapshot' | 'preemption') checkpoint.

    First confirms the previous write and checks the free space; either failing is a
    CheckpointError (the last complete checkpoint is kept).
    """
    self.confirm()
    step = int(jax.device_get(state.step))
    manager = self.managers[kind]
    if manager.latest_step() == step:
      return
    tree = flax.serialization.to_state_dict(state)
    target = os.path.join(self.dirs[kind], str(step))
    need, free = needed_bytes(tree), free_bytes(self.dirs[kind])
    if free < need:
      raise CheckpointError(
          f"not enough free space to write {target}: it needs about {_mb(need)}, "
          f"{_mb(free)} free. {self._kept()}")
    try:
      manager.save(step, args=ocp.args.StandardSave(tree),
                   custom_metadata={'crc32': checksums(tree)})
    except Exception as e:  # a synchronous failure (e.g. the directory cannot be made)
      self._abandon(kind, step)
      raise CheckpointError(f"{describe_error(e)} writing {target}. {self._kept()}") from None
    self._in_flight[kind] = step

  def confirm(self):
    """Waits for the writes in flight; a failed one is a CheckpointError naming its cause."""
    for kind in list(self._in_flight):
      step = self._in_flight.pop(kind)
      try:
        self.managers[kind].wait_until_finished()
      except Exception as e:
        self._abandon(kind, step)
        raise CheckpointError(f"{describe_error(e)} writing "
                              f"{os.path.join(self.dirs[kind], str(step))}. "
                              f"{self._kept()}") from None

  def wait(self):
    self.confirm()

  def _abandon(self, kind, step):
    """Removes the temporary folder of the failed write of `step`."""
    if jax.process_index() != 0 or not os.path.isdir(self.dirs[kind]):
      return
    for name in os.listdir(self.dirs[kind]):
      if name.startswith(f'{step}{TMP_MARK}'):
        shutil.rmtree(os.path.join(self.dirs[kind], name), ignore_errors=True)
    self.managers[kind].reload()

  def _kept(self):
    latest = self.latest()
    if latest is None:
      return 'No complete checkpoint exists yet.'
    kind, step = latest
    return f"The last complete checkpoint is kept: {os.path.join(self.dirs[kind], str(step))}."

  def all(self):
    """(step, kind) of every complete checkpoint, newest first."""
    return sorted(((s, kind) for kind, m in self.managers.items() for s in m.all_steps()),
                  reverse=True)

  def latest(self):
    """(kind, step) of the newest complete checkpoint, or None."""
    found = [(m.latest_step(), kind) for kind, m in self.managers.items()
             if m.latest_step() is not None]
    if not found:
      return None
    step, kind = max(found)
    return kind, step

  def restore(self, abstract_state, kind=None, step=None, fallback=False):
    """The checkpoint `step` of `kind` (default: the newest), laid out like `abstract_state`.

    `abstract_state` is a TrainState of jax.ShapeDtypeStruct (with shardings),
    e.g. from jax.eval_shape of the initialiser. The arrays' checksums are
    verified. With `fallback` (only when neither kind nor step is given), an
    unreadable or corrupt newest checkpoint is reported and the next older one
    tried; otherwise it is a CheckpointError.
    """
    if kind is not None:
      step = self.managers[kind].latest_step() if step is None else step
      return self._restore_one(abstract_state, kind, step)
    candidates = [(k, s) for s, k in self.all()]
    if not candidates:
      raise CheckpointError(f"no checkpoint under {self.workdir}")
    for i, (k, s) in enumerate(candidates):
      try:
        return self._restore_one(abstract_state, k, s)
      except CheckpointError as e:
        if not fallback or i + 1 == len(candidates):
          raise
        print(f'{e}\nfalling back to the older checkpoint '
              f'{os.path.join(self.dirs[candidates[i + 1][0]], str(candidates[i + 1][1]))}',
              file=sys.stderr)
    raise AssertionError('unreachable')

  def _restore_one(self, abstract_state, kind, step):
    target = flax.serialization.to_state_dict(abstract_state)
    path = os.path.join(self.dirs[kind], str(step))
    try:
      restored = self.managers[kind].restore(step, args=ocp.args.StandardRestore(target))
    except Exception as e:  # orbax raises several types; all mean the same to the user
      raise CheckpointError(
          f"checkpoint {path} exists but cannot be read ({describe_error(e)}). Refusing "
          "to start from scratch: delete it to fall back to an older one (or set "
          "training.restore_fallback=True), or fix the config so the model matches the "
          "checkpoint") from None
    self._verify(kind, step, restored)
    return flax.serialization.from_state_dict(abstract_state, restored)

  def read(self, abstract, key='ema_params', what='model'):
    """(arrays, step): entry `key` (e.g. 'ema_params') of the newest checkpoint, read
    without building its training state, its checksums verified.

    `abstract` is the entry's expected pytree (arrays or jax.ShapeDtypeStruct, e.g. from
    jax.eval_shape of the network's initialiser); a checkpoint of another structure or shape
    is a CheckpointError naming the first difference. `what` names the network in messages.
    """
    latest = self.latest()
    if latest is None:
      raise FileNotFoundError(
          f"no checkpoint of the {what} under {self.workdir} "
          f"({' or '.join(DIRS.values())}/): train it first")
    kind, step = latest
    path = os.path.join(self.dirs[kind], str(step))
    try:
      restored = self.managers[kind].restore(step, args=ocp.args.StandardRestore())
    except Exception as e:  # orbax raises several types; all mean the same to the user
      raise CheckpointError(f"the {what} checkpoint {path} cannot be read "
                            f"({describe_error(e)})") from None
    self._verify(kind, step, restored)
    if key not in restored:
      raise CheckpointError(f"the {what} checkpoint {path} has no {key!r}")
    got, want = params_npz.flatten(restored[key]), params_npz.flatten(abstract)
    try:
      params_npz.check(got, want, f"the {what}'s parameters")
    except ValueError as e:
      raise CheckpointError(f"the {what} checkpoint {path} does not fit the config's network: "
                            f"{e}") from None
    return params_npz.unflatten({k: np.asarray(v, want[k].dtype) for k, v in got.items()}), step

  def _verify(self, kind, step, restored):
    path = os.path.join(self.dirs[kind], str(step))
    try:
      recorded = (self.managers[kind].metadata(step).custom_metadata or {}).get('crc32')
    except Exception:  # pylint: disable=broad-except
      recorded = None
    if not recorded:   # written before checksums were recorded: nothing to compare
      return
    actual = checksums(restored)
    bad = sorted(name for name in recorded if actual.get(name) != recorded[name])
    if bad:
      raise CheckpointError(
          f"checkpoint {path} is corrupt: the data of {len(bad)} array(s) ({', '.join(bad[:3])}"
          f"{', ...' if len(bad) > 3 else ''}) do not match the checksums recorded when it was "
          "written. Delete it to fall back to an older one, or set "
          "training.restore_fallback=True")

  def close(self):
    try:
      self.confirm()
    finally:
      for manager in self.managers.values():
        try:
          manager.close()
        except Exception:  # pylint: disable=broad-except
          pass   # a failed write was reported by confirm() (or by the error now unwinding)

  def __enter__(self):
    return self

  def __exit__(self, exc_type, exc, tb):
    if exc_type is None:
      self.close()
      return
    try:   # an error is already unwinding: close quietly, so that it is what gets reported
      self.close()
    except Exception:  # pylint: disable=broad-except
      pass
