"""Reference statistics for FID: pool3 mean and covariance of a dataset's whole training split.

`python main.py --config CFG --workdir DIR --mode fid_stats` calls `run`, which
writes `{mu, sigma, num_images}` to `stats_path(config)`; `--mode eval`
reads them back with `load_stats` and compares its samples' statistics to them.

The protocol is the paper's (FIDs computed with TF-GAN on 50k samples against
the training set): every training image once, as the uint8 image it is
stored as: no dequantisation noise, no flips. Images are read through
`data.get_dataset(config, 'train', evaluation=True,
uniform_dequantization=False)`, whose values are v = k / (L - 1) for integer
levels k, and converted to uint8 by `images_to_uint8`, round(255 v): for the
8-bit datasets that gives back k exactly; for the 17-level digits it spreads
the levels over 0..255. Samples must go through the same `images_to_uint8`,
so both sides of an FID see the same quantisation.

Features are accumulated with `evaluation.metrics.RunningStatistics` (never
all in memory). KID needs features, not moments: the file also keeps the pool3
rows of the first `kid_features` training images (split order, float32;
10,000 by default, as the KID paper's subsets of 1000 need), which `eval`
reads as the reference set for KID. On several hosts each host reads its own share of every
batch; the hosts' (count, mean, scatter) are gathered and merged exactly
(`evaluation.metrics.merge_moments`), so every host ends with the same statistics.

Where the file goes (`stats_path`): `config.eval.stats_path` when the config
has that field and it is not empty, else
`assets/stats/{dataset}[_{category}]_{image_size}_stats.npz` under the
repository root, e.g. `assets/stats/cifar10_32_stats.npz`: the statistics
belong to the dataset, not to a run, so every run of that dataset shares them.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np

from evaluation import metrics
from evaluation.metrics import merge_moments
from utils import atomic, checks

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_STATS_DIR = os.path.join(REPO_ROOT, 'assets', 'stats')
DEFAULT_BATCH_SIZE = 200   # images per host per Inception call (299 x 299 activations are large)
DEFAULT_KID_FEATURES = 10_000   # pool3 rows kept for KID (float32: 82 MB for 10k images)


def stats_path(config) -> str:
  """Where the FID statistics of `config.data` live (see the module docstring)."""
  path = config.eval.get('stats_path', '') if 'eval' in config else ''
  if path:
    return os.fspath(path)
  name = str(config.data.dataset).lower()
  category = config.data.get('category', None)
  if config.data.dataset == 'LSUN' and category:
    name += f'_{category}'
  return os.path.join(DEFAULT_STATS_DIR, f'{name}_{int(config.data.image_size)}_stats.npz')


def images_to_uint8(x, config) -> np.ndarray:
  """Model-space images (as `data` serves them or a sampler returns them) -> uint8 NHWC.

  Maps back to v in [0, 1] with the data's inverse scaler, then round(255 v),
  clipped to [0, 255]. Rounding, not truncation: a level k / (L - 1) read in
  float32 can land a hair below its exact value.
  """
  import data  # pylint: disable=import-outside-toplevel
  v = np.asarray(data.get_data_inverse_scaler(config)(np.asarray(x)), np.float64)
  return np.clip(np.rint(v * 255.), 0., 255.).astype(np.uint8)


# ------------------------------------------------------------ multi-host merge


def _allgather_float64(array):
  """Every host's float64 `array`, stacked (P, ...), bit-exact.

  Sent as uint32 words: with jax's default 32-bit mode a float64 array would
  be cast to float32 on the way.
  """
  from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
  array = np.ascontiguousarray(array, np.float64)
  words = np.asarray(multihost_utils.process_allgather(array.view(np.uint32)))
  return np.ascontiguousarray(words, np.uint32).view(np.float64).reshape(
      (words.shape[0],) + array.shape)


def gather_moments(count, mean, scatter):
  """Merges this host's moments with every other host's (identity on one host)."""
  import jax  # pylint: disable=import-outside-toplevel
  if jax.process_count() == 1:
    return count, np.asarray(mean, np.float64), np.asarray(scatter, np.float64)
  counts = _allgather_float64(np.asarray([count], np.float64))[:, 0]
  return merge_moments(counts.astype(np.int64), _allgather_float64(mean),
                       _allgather_float64(scatter))


def gather_rows(rows, chunk=1000):
  """Sum over hosts of each host's float32 `rows` (identity on one host).

  Each host fills only the rows it read and leaves the others zero, so the sum
  is the union, exactly. Gathered `chunk` rows at a time to bound the memory
  of the (hosts, chunk, d) buffer on large pods.
  """
  import jax  # pylint: disable=import-outside-toplevel
  if jax.process_count() == 1:
    return rows
  from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
  out = np.empty_like(rows)
  for i in range(0, len(rows), chunk):
    part = np.asarray(multihost_utils.process_allgather(np.ascontiguousarray(rows[i:i + chunk])))
    out[i:i + chunk] = part.sum(axis=0)
  return out


# ------------------------------------------------------------ the statistics


def load_stats(path) -> dict:
  """`{mu, sigma, num_images[, features]}` written by `compute_dataset_stats`; a clear error
  if missing. `features` (the KID reference rows) is absent from files written without them."""
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f"no FID statistics at {path!r}. Compute them once per dataset with "
        "`python main.py --config CONFIG --workdir WORKDIR --mode fid_stats` (or set "
        "config.eval.stats_path to an existing file)")
  with np.load(path) as f:
    missing = {'mu', 'sigma', 'num_images'} - set(f.files)
    if missing:
      raise ValueError(f"{path!r} is not an FID statistics file: it lacks {sorted(missing)}")
    stats = {'mu': f['mu'], 'sigma': f['sigma'], 'num_images': int(f['num_images'])}
    if 'features' in f.files:
      stats['features'] = f['features']
    return stats


def compute_dataset_stats(config, out_path=None, *, batch_size=None, max_images=None,
                          params=None, kid_features=DEFAULT_KID_FEATURES) -> dict:
  """Inception pool3 statistics of the whole training split of `config.data`; writes them.

  Args:
    config: reads `data.*` (as `data.get_dataset`), `seed`, and
      `eval.inception_weights` (path of the converted FID Inception .npz; an
      empty or missing field raises the FileNotFoundError of
      `inception.load_params`, which says how to get the weights).
    out_path: where to write; default `stats_path(config)`. None of the
      hosts' files is half-written at any time (temporary file + rename).
    batch_size: images per host per Inception call (default 200).
    max_images: use only the first `max_images` training images (in the
      split's order). For tests and quick checks only: the FID protocol uses
      the whole split.
    params: Inception parameters, instead of loading `eval.inception_weights`.
    kid_features: how many pool3 rows (of the first training images, in split
      order) to keep as KID's reference set; 0 keeps none.
  Returns:
    {'mu': (2048,) float64, 'sigma': (2048, 2048) float64, 'num_images': int,
     'features': (min(kid_features, num_images), 2048) float32, 'path': the file written}.
  """
  # pylint: disable=import-outside-toplevel
  import jax
  import tqdm

  import data
  from evaluation import inception

  if params is None:
    params = inception.load_params(config.eval.get('inception_weights', ''))
  if max_images is not None:
    checks.require_int('max_images', max_images, 2, ' (a covariance needs two images), or '
                       'None for the whole split')
  checks.require_int('kid_features', kid_features, 0)
  local = checks.require_positive_int(
      'batch_size', DEFAULT_BATCH_SIZE if batch_size is None else batch_size)
  hosts, host = jax.process_count(), jax.process_index()
  global_batch = local * hosts
  ds = data.get_dataset(config, 'train', evaluation=True, uniform_dequantization=False,
                        batch_size=global_batch)
  total = ds.num_examples if max_images is None else min(max_images, ds.num_examples)
  num_batches = math.ceil(total / global_batch)

  running = metrics.RunningStatistics(inception.FEATURE_DIM)
  # This host's KID rows at their split positions; other hosts' rows stay zero.
  kid_rows = np.zeros((min(kid_features, total), inception.FEATURE_DIM), np.float32)

  def consume(pending):
    features, keep, positions = pending
    features = np.asarray(jax.device_get(features))
    rows = features.astype(np.float64)[keep]
    running.update(rows)
    wanted = keep & (positions < len(kid_rows))
    kid_rows[positions[wanted]] = features[wanted]

  pending = None
  batches = ds.epoch_batches(global_batch)
  for i in tqdm.trange(num_batches, desc=f'fid_stats {config.data.dataset} train',
                       disable=host != 0):
    x, mask = next(batches)
    # The position of each of this host's rows in the split (the layout of
    # `epoch_batches`: host p reads [p * local, (p + 1) * local) of each batch).
    positions = i * global_batch + host * local + np.arange(local)
    keep = mask & (positions < total)
    features, _ = inception.inception_features(params, images_to_uint8(x, config))
    # Dispatch is asynchronous: read the previous batch while this one runs.
    if pending is not None:
      consume(pending)
    pending = (features, keep, positions)
  if pending is not None:
    consume(pending)

  count, mean, scatter = gather_moments(*running.moments())
  if count != total:
    raise RuntimeError(f"the hosts saw {count} images but the split has {total}: the data "
                       "layout is not the one this function expects")
  sigma = scatter / (count - 1)
  kid_rows = gather_rows(kid_rows)
  path = stats_path(config) if out_path is None else os.fspath(out_path)
  atomic.save_npz(path, mu=mean, sigma=sigma, num_images=np.int64(count), features=kid_rows)
  return {'mu': mean, 'sigma': sigma, 'num_images': int(count), 'features': kid_rows,
          'path': path}


def run(config, workdir, *, batch_size=None, max_images=None):
  """`main.py --mode fid_stats`: computes and writes the statistics, prints one JSON line.

  `workdir` is not used: the statistics belong to the dataset (see
  `stats_path`). `batch_size`, `max_images`: as `compute_dataset_stats`.
  """
  del workdir
  import jax  # pylint: disable=import-outside-toplevel
  stats = compute_dataset_stats(config, batch_size=batch_size, max_images=max_images)
  result = {'stats_path': os.path.abspath(stats['path']), 'num_images': stats['num_images'],
            'kid_features': len(stats['features']),
            'dataset': config.data.dataset, 'image_size': int(config.data.image_size)}
  if jax.process_index() == 0:
    print(json.dumps(result))
  return result
