"""Parameter pytrees as .npz files: one key per leaf, named by its path joined with '/'.

The format of the project's stored weight files (the FID Inception weights
that `evaluation.tools.convert_inception` writes, `evaluation/digits_classifier.npz`):
a nested mapping {'Mixed_5b': {'branch1x1': {'kernel': array}}} is stored as
the key 'Mixed_5b/branch1x1/kernel'. `save` writes float32 leaves atomically
(`utils.atomic`); `load` reads them back into the nested dict, after checking
that the names and shapes are those of an expected (abstract) tree, so a
wrong file is a clear error, never a network silently run with the wrong
weights.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from utils import atomic

SEPARATOR = '/'


def flatten(tree, prefix='') -> dict:
  """{'a/b/c': leaf} of a nested mapping (dicts or flax FrozenDicts) of arrays."""
  flat = {}
  for key, value in tree.items():
    path = f'{prefix}{key}'
    if hasattr(value, 'items'):
      flat.update(flatten(value, path + SEPARATOR))
    else:
      flat[path] = value
  return flat


def unflatten(flat) -> dict:
  """Inverse of `flatten`: nested dicts from {'a/b/c': leaf}."""
  tree = {}
  for path, value in flat.items():
    node = tree
    *parents, leaf = path.split(SEPARATOR)
    for name in parents:
      node = node.setdefault(name, {})
    node[leaf] = value
  return tree


def check(flat, expected, what) -> None:
  """ValueError unless `flat` has exactly the keys and shapes of `expected` (a flat dict).

  `what` names the parameters in the message, e.g. 'FID Inception parameters'.
  """
  missing = sorted(set(expected) - set(flat))
  unexpected = sorted(set(flat) - set(expected))
  if missing or unexpected:
    raise ValueError(f"these are not {what}: missing {missing[:5]}"
                     f"{' ...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
                     f"{' ...' if len(unexpected) > 5 else ''}")
  for path, value in flat.items():
    if tuple(np.shape(value)) != tuple(expected[path].shape):
      raise ValueError(f"{what}: parameter {path} has shape {tuple(np.shape(value))}, expected "
                       f"{tuple(expected[path].shape)}")


def from_flat(flat, expected, what, dtype=np.float32) -> dict:
  """The nested tree of jnp `dtype` arrays of `flat`, checked against the tree `expected`
  (arrays or jax.ShapeDtypeStruct leaves)."""
  flat = {k: np.asarray(v, dtype) for k, v in flat.items()}
  check(flat, flatten(expected), what)
  return unflatten({k: jnp.asarray(v) for k, v in flat.items()})


def save(path, params, dtype=np.float32) -> str:
  """Writes the nested mapping `params` to the .npz `path` (exactly that name), leaves as `dtype`."""
  arrays = {k: np.asarray(jax.device_get(v), dtype) for k, v in flatten(params).items()}
  return atomic.save_npz(path, **arrays)


def load(path, expected, what, dtype=np.float32) -> dict:
  """The tree `save` wrote to `path`, checked against `expected` (see `from_flat`)."""
  with np.load(path) as data:
    flat = {key: data[key] for key in data.files}
  return from_flat(flat, expected, what, dtype)
