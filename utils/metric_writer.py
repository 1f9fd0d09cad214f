"""Metrics to a plain JSON-lines log and to TensorBoard event files (tensorboardX, no TensorFlow)."""
import json
import os
import time

import jax

from utils import atomic


class MetricWriter:
  """Writes scalars on process 0 only; `WORKDIR/NAME.jsonl` and `WORKDIR/tensorboard/NAME/`."""

  def __init__(self, workdir, name='train', resume_step=None):
    """`resume_step`: drop the records of later steps from the JSON-lines log (a resumed
    run redoes them; without this they would appear twice)."""
    self.active = jax.process_index() == 0
    if not self.active:
      return
    from tensorboardX import SummaryWriter
    os.makedirs(workdir, exist_ok=True)
    if resume_step is not None:
      _truncate(os.path.join(workdir, f'{name}.jsonl'), resume_step)
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


def _truncate(path, last_step):
  """Keeps the records of steps <= last_step (and any unreadable tail is dropped)."""
  if not os.path.exists(path):
    return
  kept = []
  with open(path) as f:
    for line in f:
      try:
        record = json.loads(line)
      except json.JSONDecodeError:
        break          # a line cut short by a killed process
      if record.get('step', 0) <= last_step:
        kept.append(line)
  atomic.write_text(path, ''.join(kept))
