"""Overhead of the training loop: steps/s of the whole loop (data, step, logging,
checkpoints) divided by steps/s of the bare jitted step on ready batches; and how long a
checkpoint save blocks the loop. Prints JSON lines.

  python benchmarks/train_loop.py --config configs/digits/ddpmpp_vp.py --steps 400
"""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

config_flags.DEFINE_config_file('config', 'configs/digits/ddpmpp_vp.py', 'Experiment config.')
flags.DEFINE_integer('steps', 400, 'Optimiser steps to time (after a warm-up call).')
FLAGS = flags.FLAGS


def main(_):
  from utils import xla_flags
  xla_flags.configure()
  logging.set_verbosity(logging.WARNING)
  import jax
  import numpy as np
  from experiment import checkpoints as ckpt_lib
  from training import loop

  config = FLAGS.config
  k = config.training.n_jitted_steps
  trainer = loop.Trainer(config)
  source = trainer.experiment.train_source()

  # Bare step: the same jitted multi-step on batches prepared beforehand.
  state = trainer.init_state()
  batches = [np.stack([source.batch(s + i) for i in range(k)]) for s in range(0, FLAGS.steps, k)]
  state, losses = trainer.multi_step(state, batches[0])
  jax.block_until_ready(losses)

  def bare_rate():
    nonlocal state
    t = time.perf_counter()
    for b in batches:
      state, losses = trainer.multi_step(state, b)
    jax.block_until_ready(losses)
    return FLAGS.steps / (time.perf_counter() - t)

  # Timed before and after the loop; the faster is the bare rate (load on a
  # shared machine only ever slows a run down).
  bare = bare_rate()

  # The whole loop, with checkpoints and logging as configured (no snapshot sampling).
  with tempfile.TemporaryDirectory() as workdir:
    config.training.snapshot_sampling = False
    # The same Trainer (its steps compiled above). Two warm-up calls checkpoint
    # every k steps: the first starts from scratch, the second restores (a
    # restored state may compile the step once more, as a resumed run does
    # once). The timed call restores again and runs the loop as configured.
    preemption = config.training.snapshot_freq_for_preemption
    config.training.snapshot_freq_for_preemption = k
    loop.train(config, workdir, source, max_steps=k, trainer=trainer)
    loop.train(config, workdir, source, max_steps=k, trainer=trainer)
    config.training.snapshot_freq_for_preemption = preemption
    t = time.perf_counter()
    loop.train(config, workdir, source, max_steps=FLAGS.steps, trainer=trainer)
    whole = FLAGS.steps / (time.perf_counter() - t)
  bare = max(bare, bare_rate())
  with tempfile.TemporaryDirectory() as workdir:
    ckpts = ckpt_lib.Checkpoints(os.path.join(workdir, 'bench'))
    blocks = []
    for i in range(5):
      state = state.replace(step=state.step + 1)
      t = time.perf_counter()
      ckpts.save('preemption', state)
      blocks.append(time.perf_counter() - t)
      ckpts.wait()
    ckpts.close()
  n_params = sum(x.size for x in jax.tree.leaves(state.params))
  print(json.dumps({'bench': 'train_loop', 'config': config.model.name, 'params': int(n_params),
                    'batch': config.training.batch_size, 'n_jitted_steps': k,
                    'bare_steps_per_s': bare, 'loop_steps_per_s': whole,
                    'loop_over_bare': whole / bare,
                    'checkpoint_save_blocks_s_median': float(np.median(blocks)),
                    'preemption_every': config.training.snapshot_freq_for_preemption,
                    'device': str(jax.devices()[0].platform)}))


if __name__ == '__main__':
  from utils import malloc_tunables
  malloc_tunables.reexec_with_tunables()  # what main.py runs with (utils/malloc_tunables.py)
  app.run(main)
