"""Host-side throughput of the data pipeline: examples/s of `ImageDataset.batch(step)`.

    python benchmarks/data.py [--steps 20]

Measures the built-in digits and an in-memory 32x32x3 array (CIFAR-10's shape,
so the per-example flip/dequantisation cost is visible without TFDS files), with
and without flips + uniform dequantisation. Prints one JSON object per line.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data import digits, pipeline, sources  # noqa: E402  pylint: disable=wrong-import-position


def _measure(source, num_levels, batch_size, steps, augment):
  ds = pipeline.ImageDataset(source, split='train', num_levels=num_levels,
                             batch_size=batch_size, seed=0, random_flip=augment,
                             uniform_dequantization=augment, centered=True)
  ds.batch(0)  # warm-up: first permutation
  start = time.perf_counter()
  for step in range(1, steps + 1):
    ds.batch(step)
  seconds = (time.perf_counter() - start) / steps
  return {'seconds_per_batch': round(seconds, 5),
          'examples_per_s': round(batch_size / seconds, 1)}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--steps', type=int, default=20)
  parser.add_argument('--batch_size', type=int, default=128)
  args = parser.parse_args()
  images, _ = digits.load_split('train')
  cifar_like = np.random.default_rng(0).integers(0, 256, (5000, 32, 32, 3), dtype=np.uint8)
  for name, source, levels in (('digits', sources.ArraySource(images), digits.NUM_LEVELS),
                               ('array_32x32x3', sources.ArraySource(cifar_like), 256)):
    for augment in (False, True):
      result = _measure(source, levels, args.batch_size, args.steps, augment)
      print(json.dumps({'benchmark': 'data.batch', 'dataset': name,
                        'batch_size': args.batch_size,
                        'flip_and_dequantization': augment, **result}))


if __name__ == '__main__':
  from utils import malloc_tunables
  malloc_tunables.reexec_with_tunables()  # what main.py runs with (utils/malloc_tunables.py)
  main()
