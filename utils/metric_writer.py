"""Metrics to a plain JSON-lines log and to TensorBoard event files (tensorboardX, no TensorFlow)."""
import json
import os
import time

import jax


class MetricWriter:
  """Writes scalars on process 0 only; `WORKDIR/NAME.jsonl` and `WORKDIR/tensorboard/NAME/`."""

  def __init__(self, workdir, name='train'):
    self.active = jax.process_index() == 0
    if not self.active:
      return
    from tensorboardX import SummaryWriter
    os.makedirs(workdir, exist_ok=True)
    self._log = open(os.path.join(workdir, f'{name}.jsonl'), 'a', buffering=1)
    self._tb = SummaryWriter(os.path.join(workdir, 'tensorboard', name))

  def write(self, step, **scalars):
    if not self.active:
      return
    scalars = {k: float(v) for k, v in scalars.items()}
    self._log.write(json.dumps({'step': int(step), 'time': time.time(), **scalars}) + '\n')
    for k, v in scalars.items():
      self._tb.add_scalar(k, v, int(step))

  def flush(self):
    if self.active:
      self._tb.flush()
      self._log.flush()

  def close(self):
    if self.active:
      self._tb.close()
      self._log.close()
