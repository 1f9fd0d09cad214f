"""Seconds per PC sampler time step of a config's score network (untrained weights).

    python benchmarks/pc_step.py --config configs/vp/cifar10_ddpmpp_continuous.py --batch 4 \\
        --N 100 --predictor euler_maruyama --corrector none \\
        --config.model.nf=32 --config.model.ch_mult='(1,2,2)' --config.model.num_res_blocks=1

Builds `samplers.get_pc_sampler` for the config's network and SDE with N =
--N time steps (replacing config.model.num_scales), compiles it (without
running it), then times --repeats full samplings. Prints one JSON line:
`step_s` (median sampling wall time / N), `cpu_s_per_step` (process CPU
seconds, all threads, / N), `compile_s` and the sampler's exact `nfe`. The
cost per step does not depend on the weights, so they are the
initialisation. The sampler's other settings (snr, corrector steps,
denoising) are the config's `sampling` fields.
"""
import json
import os
import statistics
import sys
import time

from absl import app, flags
from ml_collections import config_flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from utils import xla_flags  # noqa: E402

xla_flags.configure()   # on CPU with the pinned jaxlib: XLA's own convolutions (faster)

import jax  # noqa: E402

import samplers  # noqa: E402
from benchmarks._common import score_network  # noqa: E402

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'image config', lock_config=False)
flags.DEFINE_integer('batch', 4, 'samples per batch')
flags.DEFINE_integer('N', 100, 'time steps (replaces config.model.num_scales)')
flags.DEFINE_integer('repeats', 1, 'timed samplings (median)')
flags.DEFINE_string('predictor', 'euler_maruyama', 'PC predictor')
flags.DEFINE_string('corrector', 'none', 'PC corrector')
flags.mark_flags_as_required(['config'])


def main(_):
  for name in ('batch', 'N', 'repeats'):
    if FLAGS[name].value < 1:
      raise app.UsageError(f"--{name}={FLAGS[name].value}: must be >= 1")
  config = FLAGS.config
  sde, shape, score_fn, variables = score_network(config, FLAGS.batch, FLAGS.N)
  sample = samplers.get_pc_sampler(
      sde, score_fn, shape, FLAGS.predictor, FLAGS.corrector, snr=config.sampling.snr,
      n_steps=config.sampling.n_steps_each, probability_flow=False,
      continuous=config.training.continuous, denoise=config.sampling.noise_removal)
  rng = jax.random.PRNGKey(1)
  start = time.perf_counter()
  compiled = sample.lower(rng, variables).compile()
  compile_s = time.perf_counter() - start
  times, cpu_times = [], []
  for _ in range(FLAGS.repeats):
    start, cpu_start = time.perf_counter(), time.process_time()
    _, nfe = jax.block_until_ready(compiled(rng, variables))
    times.append(time.perf_counter() - start)
    cpu_times.append(time.process_time() - cpu_start)
  print(json.dumps({
      'config': config_flags.get_config_filename(FLAGS['config']),
      'model': {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.model.items()
                if k in ('name', 'nf', 'ch_mult', 'num_res_blocks', 'fir')},
      'batch': FLAGS.batch, 'N': FLAGS.N, 'predictor': FLAGS.predictor,
      'corrector': FLAGS.corrector, 'device': jax.devices()[0].device_kind,
      'compile_s': round(compile_s, 3),
      'step_s': statistics.median(times) / FLAGS.N,
      'cpu_s_per_step': statistics.median(cpu_times) / FLAGS.N,
      'nfe': int(nfe), 'repeats': FLAGS.repeats,
  }), flush=True)


if __name__ == '__main__':
  from utils import malloc_tunables
  malloc_tunables.reexec_with_tunables()  # what main.py runs with (utils/malloc_tunables.py)
  app.run(main)
