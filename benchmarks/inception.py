"""Throughput of FID Inception feature extraction (`evaluation.inception.inception_features`).

Prints one JSON line: images/s for batches of uint8 images (default 50 CIFAR-size
32x32x3 images, resized to 299x299 inside), pool3 + logits, with random weights
(the weights do not change the cost). Also the first call's time (compilation
included). Timings are the minimum and the median over repeats.

On CPU with the pinned jaxlib 0.10.2, XLA's YNN fusion of individual
convolutions is switched off (`--xla_cpu_experimental_ynn_fusion_type=
-individual_convolution`), which makes convolutions 2-4x faster there. The
flag is only set for that jaxlib: an XLA flag a build does not know aborts it.
Pass --no-xla-flag to measure without it.

Usage: python benchmarks/inception.py [--batch 50] [--size 32] [--repeats 3]
       [--precision highest|default] [--no-xla-flag]
"""
import argparse
import importlib.metadata
import json
import os
import sys
import time

CONV_FLAG = '--xla_cpu_experimental_ynn_fusion_type=-individual_convolution'
CONV_FLAG_JAXLIB = '0.10.2'


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--batch', type=int, default=50)
  parser.add_argument('--size', type=int, default=32,
                      help='input height = width, before the resize to 299')
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--precision', default='highest', choices=['highest', 'default'])
  parser.add_argument('--no-xla-flag', action='store_true')
  args = parser.parse_args()

  flag_set = False
  if not args.no_xla_flag and importlib.metadata.version('jaxlib') == CONV_FLAG_JAXLIB:
    os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') + ' ' + CONV_FLAG).strip()
    flag_set = True

  # Imported after XLA_FLAGS is final: XLA reads it once, at backend start.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  import jax  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  from evaluation import inception  # pylint: disable=import-outside-toplevel

  params = inception.init_params(0)
  images = np.random.default_rng(0).integers(
      0, 256, size=(args.batch, args.size, args.size, 3), dtype=np.uint8)

  start = time.perf_counter()
  jax.block_until_ready(inception.inception_features(params, images, precision=args.precision))
  first = time.perf_counter() - start
  times = []
  for _ in range(args.repeats):
    start = time.perf_counter()
    jax.block_until_ready(inception.inception_features(params, images, precision=args.precision))
    times.append(time.perf_counter() - start)
  best, median = min(times), float(np.median(times))
  print(json.dumps({
      'benchmark': 'inception_features',
      'device': jax.devices()[0].device_kind,
      'backend': jax.default_backend(),
      'batch': args.batch,
      'input_size': args.size,
      'precision': args.precision,
      'xla_conv_flag': flag_set,
      'images_per_s_best': round(args.batch / best, 2),
      'images_per_s_median': round(args.batch / median, 2),
      'batch_s_best': round(best, 3),
      'first_call_s': round(first, 2),
      'repeats': args.repeats,
  }))


if __name__ == '__main__':
  from utils import malloc_tunables
  malloc_tunables.reexec_with_tunables()  # what main.py runs with (utils/malloc_tunables.py)
  main()
