"""What the benchmark scripts share: wall-clock timing, and a config's network ready to sample."""
import time

import jax
import numpy as np

import models
from experiment import Experiment


def median_ms(fn, *args, repeats):
  """Median wall time in ms of `fn(*args)` over `repeats` calls, after one warm-up call."""
  jax.block_until_ready(fn(*args))  # compile and warm up
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return 1e3 * float(np.median(times))


def score_network(config, batch, num_scales):
  """(sde, batch shape, score_fn, variables) of `config`'s network with `num_scales` time steps.

  Sets `config.model.num_scales`; the variables are the network's init (jitted, seed 0).
  """
  config.model.num_scales = num_scales
  exp = Experiment(config)
  variables = jax.jit(lambda r: models.init_model(r, config)[1])(jax.random.PRNGKey(0))
  return exp.sde, (batch,) + exp.shape, exp.score_fn, variables
