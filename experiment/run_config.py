"""The config a workdir's checkpoints belong to, and the guard that stops a run using another.

`train` records the config it runs as WORKDIR/config.json before its first
checkpoint. Every later command on that workdir (`train` resuming it, `eval`,
`sample`, `likelihood`, the controllable modes) first compares its own config
with the recorded one: a difference in any field that changes the network,
the SDE, the loss, the optimisation or the data stops the command with a
message listing each differing field and both values, before anything is read
or written (config.json included). `MAY_DIFFER` lists, in this one place, the
fields a later command may change: run length, logging and checkpoint
frequencies, and what evaluation and sampling do with the trained network.
"""
import json
import os

import jax

from experiment import checkpoints as ckpt_lib
from utils import atomic

CONFIG_FILE = 'config.json'

# Paths (a section name covers all its fields) that may differ between the recorded
# config and a later command's: none of them changes the trained network.
MAY_DIFFER = (
    'training.n_iters',                       # train longer (or evaluate before the end)
    'training.n_jitted_steps',                # steps per call; the same steps either way
    'training.log_freq',
    'training.eval_freq',
    'training.snapshot_freq',
    'training.snapshot_freq_for_preemption',
    'training.snapshot_sampling',
    'training.eval_at_end',
    'training.restore_fallback',
    'data.data_dir',                          # where the same prepared data lives
    'data.tfrecords_path',
    'data.num_test',                          # held-out toy points for --mode likelihood
    'eval',                                   # what is measured, and how
    'sampling',                               # how samples are drawn from the network
    'controllable',
    'classifier',                             # a classifier run checks its own identity
)

_ABSENT = '(absent)'


class ConfigMismatchError(ValueError):
  """The config given does not match the one the workdir's checkpoints were trained with."""


def may_differ(path):
  return any(path == p or path.startswith(p + '.') for p in MAY_DIFFER)


def _flatten(tree, prefix=''):
  out = {}
  for key, value in tree.items():
    path = f'{prefix}{key}'
    if isinstance(value, dict):
      out.update(_flatten(value, path + '.'))
    else:
      out[path] = value
  return out


def as_dict(config):
  """The config as it is recorded: JSON types (tuples become lists)."""
  return json.loads(config.to_json_best_effort())


def differences(recorded, config):
  """[(path, recorded value, given value)] of the fields outside `MAY_DIFFER` that differ;
  a field that one side lacks shows as '(absent)'."""
  old, new = _flatten(recorded), _flatten(as_dict(config))
  return [(path, old.get(path, _ABSENT), new.get(path, _ABSENT))
          for path in sorted(set(old) | set(new))
          if not may_differ(path) and old.get(path, _ABSENT) != new.get(path, _ABSENT)]


def recorded(workdir):
  """The config recorded in `workdir` (a dict), or None when there is none."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    try:
      return json.load(f)
    except json.JSONDecodeError as e:
      raise ConfigMismatchError(f"{os.path.abspath(path)} is not valid JSON ({e}): cannot "
                                "tell which config trained this workdir; nothing was changed")


def check(config, workdir):
  """Raises ConfigMismatchError when `workdir`'s checkpoints were trained with another config
  (or cannot be told apart: checkpoints without a recorded config). A workdir without
  checkpoints and without a recorded config passes: a new run."""
  stored = recorded(workdir)
  where = os.path.abspath(workdir)
  if stored is None:
    if ckpt_lib.has_checkpoints(workdir):
      raise ConfigMismatchError(
          f"{where} holds checkpoints but no {CONFIG_FILE}: cannot tell which config trained "
          f"them, so nothing was read or changed. Write the config that trained them to "
          f"{os.path.join(where, CONFIG_FILE)} (`config.to_json()`), or use another --workdir")
    return
  diff = differences(stored, config)
  if diff:
    fields = '; '.join(f'{path}: workdir {old!r}, given {new!r}' for path, old, new in diff)
    raise ConfigMismatchError(
        f"{where} was trained with another config ({len(diff)} field(s) differ: {fields}). "
        "Nothing was read or changed: give the config that trained it, or another --workdir "
        "(the fields that may differ are experiment.run_config.MAY_DIFFER)")


def record(config, workdir):
  """Writes `config` as WORKDIR/config.json (process 0; atomic). Call `check` first."""
  if jax.process_index() == 0:
    atomic.write_text(os.path.join(workdir, CONFIG_FILE), config.to_json_best_effort(indent=1))
