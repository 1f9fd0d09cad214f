"""Speed of one training step (loss, backward, clip, Adam, EMA) of a config's network.

    python benchmarks/train_step.py --config configs/vp/cifar10_ddpmpp_continuous.py --batch 16 \
        --config.model.nf=32 --config.model.ch_mult='(1,2,2)' --config.model.num_res_blocks=1

Prints one JSON line: compile seconds, seconds per step (median of --steps
timed steps after one warm-up) and CPU seconds per step, images/s, FLOPs per step from XLA's cost
analysis, achieved FLOP/s, and peak memory (device memory_stats when the
backend has them, else the process's max RSS). The step is the project's
`training.step.make_train_step` on `training.losses.get_loss_fn`, jitted
once, on random data of the config's shape.

On CPU, --cpu_fast_convs (default) sets utils/xla_flags.py's flags for the installed
jaxlib (XLA's own convolutions instead of YNNPACK's); --nocpu_fast_convs runs XLA's defaults.
"""
import json
import os
import resource
import statistics
import sys
import time

from absl import app, flags
from ml_collections import config_flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'experiment config file', lock_config=False)
flags.DEFINE_integer('batch', 8, 'batch size')
flags.DEFINE_integer('steps', 5, 'timed steps')
flags.DEFINE_boolean('cpu_fast_convs', True,
                     'on CPU, set utils/xla_flags.py\'s flags for the installed jaxlib')
flags.mark_flags_as_required(['config'])


def main(_):
  if FLAGS.cpu_fast_convs:
    # Before jax initialises its backend; only for the jaxlib the flag exists in.
    from utils import xla_flags
    xla_flags.configure()
  import jax
  import jax.numpy as jnp

  import models
  import sde_lib
  from data import transforms
  from experiment import state as state_lib
  from training import losses, step as step_lib

  config = FLAGS.config
  sde = sde_lib.get_sde(config)
  optimizer = state_lib.get_optimizer(config)
  model = models.get_model(config)
  # Initialised under jit, so params and ema_params are distinct buffers (both donated).
  state = jax.jit(lambda r: state_lib.init_train_state(r, config, optimizer)[1])(
      jax.random.PRNGKey(0))
  loss_fn = losses.get_loss_fn(config, sde, model, train=True)
  train_step = jax.jit(step_lib.make_train_step(loss_fn, optimizer, config.model.ema_rate,
                                                config.seed), donate_argnums=0)
  size, ch = config.data.image_size, config.data.num_channels
  batch = jax.random.uniform(jax.random.PRNGKey(1), (FLAGS.batch, size, size, ch), jnp.float32)
  batch = transforms.to_model_space(batch, config.data.centered)

  start = time.perf_counter()
  compiled = train_step.lower(state, batch).compile()
  compile_s = time.perf_counter() - start
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else {}
  flops = float(cost.get('flops', float('nan'))) if cost else float('nan')

  state, loss = compiled(state, batch)       # warm-up
  jax.block_until_ready(loss)
  times, cpu_times = [], []
  for _ in range(FLAGS.steps):
    start, cpu_start = time.perf_counter(), time.process_time()
    state, loss = compiled(state, batch)
    jax.block_until_ready(loss)
    times.append(time.perf_counter() - start)
    cpu_times.append(time.process_time() - cpu_start)
  step_s = statistics.median(times)

  device = jax.devices()[0]
  stats = device.memory_stats() if hasattr(device, 'memory_stats') else None
  if stats and 'peak_bytes_in_use' in stats:
    peak, peak_kind = stats['peak_bytes_in_use'], 'device_peak_bytes'
  else:
    peak, peak_kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, 'process_max_rss_bytes'
  n_params = sum(x.size for x in jax.tree_util.tree_leaves(state.params))
  print(json.dumps({
      'config': config_flags.get_config_filename(FLAGS['config']),
      'model': {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.model.items()
                if k in ('name', 'nf', 'ch_mult', 'num_res_blocks', 'dtype')},
      'params': int(n_params),
      'batch': FLAGS.batch,
      'device': device.device_kind,
      'compile_s': round(compile_s, 3),
      'step_s': round(step_s, 5),
      # CPU seconds of all the process's threads per step: on a shared machine less
      # disturbed by other processes than wall time (which they stretch).
      'cpu_s_per_step': round(statistics.median(cpu_times), 5),
      'images_per_s': round(FLAGS.batch / step_s, 2),
      'flops_per_step': flops,
      'achieved_flops_per_s': flops / step_s,
      peak_kind: int(peak),
      'loss': float(loss),
  }))


if __name__ == '__main__':
  from utils import malloc_tunables
  malloc_tunables.reexec_with_tunables()  # what main.py runs with (utils/malloc_tunables.py)
  app.run(main)
