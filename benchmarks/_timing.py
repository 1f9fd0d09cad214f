"""Timing helpers shared by the benchmark scripts (wall-clock, after a compile/warm-up call)."""
import time

import jax
import numpy as np


def median_ms(fn, *args, repeats):
  """Median wall time in ms of `fn(*args)` over `repeats` calls, after one warm-up call."""
  jax.block_until_ready(fn(*args))  # compile and warm up
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return 1e3 * float(np.median(times))
