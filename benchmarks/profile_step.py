"""Where the time of one training step goes: XLA's optimised HLO and per-op timings.

    python benchmarks/profile_step.py --config configs/vp/cifar10_ddpmpp_continuous.py \
        --batch 16 --config.model.nf=32 --config.model.ch_mult='(1,2,2)' \
        --config.model.num_res_blocks=1 [--out DIR] [--steps 5] [--top 15]

Traces `--steps` steps of the config's jitted train step (the Experiment's loss and
optimiser, `training.step.make_train_step`) with `jax.profiler` and writes, under --out
(default: a temporary folder), the trace (TensorBoard / Perfetto) and the compiled
module's HLO (`hlo.txt`). Each op event of the trace is matched to its HLO instruction;
prints JSON lines, times in ms per step summed over the threads that ran them:

- `summary`: step time, FLOPs, the traced op time and each thread's busy time;
- `kind`: op time by kind of instruction: convolution, dot, copy, fusion (split by what
  the fused computation holds: convolution, dot, reduce, transpose; `ynn` for fusions
  handed to YNNPACK);
- `layer`: op time by forward / backward (`transpose(jvp(...))` in the op's metadata) and
  the module path of the op (e.g. AttnBlockpp/Dense);
- `op`: the `--top` slowest single ops with their output shapes.

On CPU, XLA's own convolutions run on Eigen's thread pool after their thunk returns, so
their trace events hold only the dispatch: the convolution share of a step is the step
time less the other ops' (per thread), or from microbenchmarks (benchmarks/README.md).
"""
import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile
import time

from absl import app, flags
from ml_collections import config_flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS


def _define_flags():
  # Defined when run as a script, so tests can import the parsing functions.
  config_flags.DEFINE_config_file('config', None, 'experiment config file', lock_config=False)
  flags.DEFINE_integer('batch', 16, 'batch size')
  flags.DEFINE_integer('steps', 5, 'traced steps (after 3 untraced ones)')
  flags.DEFINE_integer('top', 15, 'slowest single ops to print')
  flags.DEFINE_string('out', None, 'folder for the trace and hlo.txt (default: a temporary one)')
  flags.mark_flags_as_required(['config'])

_ENTRY = re.compile(r'^(?:ENTRY )?%?([\w.\-]+) \(.*\{$')
_INSTR = re.compile(r'^\s+(?:ROOT )?%?([\w.\-]+) = (\S+) ([\w\-]+)\(')
_FUSED_KINDS = ('convolution', 'dot', 'reduce', 'transpose')   # opcodes named in a fusion's kind
_MODULE_PART = re.compile(r'^[A-Z][A-Za-z]*(_\d+)?$|^jit\((silu|swish)\)$')


def parse_hlo(text):
  """{instruction name: (opcode, line, shape)} and {computation name: [lines]} of HLO text."""
  computations, current = {}, None
  for line in text.split('\n'):
    m = _ENTRY.match(line)
    if m:
      current = m.group(1)
      computations[current] = []
    elif current is not None:
      computations[current].append(line)
  instructions = {}
  for lines in computations.values():
    for line in lines:
      m = _INSTR.match(line)
      if m:
        instructions[m.group(1)] = (m.group(3), line, m.group(2))
  return instructions, computations


def classify(name, instructions, computations):
  """(kind, layer, direction) of the HLO instruction `name`; None when it is not one."""
  if name not in instructions:
    return None
  opcode, line, shape = instructions[name]
  meta_line = line
  kind = opcode
  if opcode == 'fusion':
    called = re.search(r'calls=%?([\w.\-]+)', line)
    body = computations.get(called.group(1), []) if called else []
    opcodes = {m.group(3) for m in map(_INSTR.match, body) if m}
    held = [k for k in _FUSED_KINDS if k in opcodes]
    kind = 'fusion[' + ('ynn' if '__ynn_fusion' in line else 'xla') + ']' + (
        ':' + '+'.join(held) if held else '')
    roots = [l for l in body if 'ROOT' in l]
    if roots and 'op_name=' in roots[0]:
      meta_line = roots[0]
  m = re.search(r'op_name="([^"]+)"', meta_line)
  op_name = m.group(1) if m else ''
  direction = 'backward' if 'transpose(' in op_name else 'forward'
  parts = [re.sub(r'_\d+$', '', p) for p in op_name.split('/') if _MODULE_PART.match(p)]
  return kind, '/'.join(parts) or '(other)', direction


def op_times(trace_events, instructions, computations, steps):
  """Per-step totals by kind, by (direction, layer), single ops, and per-thread busy time."""
  threads = {(e['pid'], e['tid']): e['args']['name'] for e in trace_events
             if e.get('ph') == 'M' and e.get('name') == 'thread_name'}
  by_kind, by_layer, by_op = (collections.Counter() for _ in range(3))
  counts, busy = collections.Counter(), collections.Counter()
  for e in trace_events:
    if e.get('ph') != 'X':
      continue
    c = classify(e['name'], instructions, computations)
    if c is None:
      continue
    ms = e['dur'] / 1e3 / steps
    kind, layer, direction = c
    by_kind[kind] += ms
    counts[kind] += 1
    by_layer[(direction, layer)] += ms
    by_op[e['name']] += ms
    busy[threads.get((e['pid'], e['tid']), '?')] += ms
  return by_kind, counts, by_layer, by_op, busy


def main(_):
  from utils import xla_flags
  xla_flags.configure()
  import jax
  import jax.numpy as jnp

  from data import transforms
  from experiment import Experiment
  from training import step as step_lib

  config = FLAGS.config
  exp = Experiment(config)
  state = jax.jit(exp.init_state)(jax.random.PRNGKey(0))
  train_step = jax.jit(step_lib.make_train_step(exp.loss_fn(True), exp.optimizer,
                                                config.model.ema_rate, config.seed),
                       donate_argnums=0)
  batch = jax.random.uniform(jax.random.PRNGKey(1), (FLAGS.batch,) + exp.shape, jnp.float32)
  batch = transforms.to_model_space(batch, config.data.centered)
  compiled = train_step.lower(state, batch).compile()
  cost = compiled.cost_analysis()
  cost = (cost[0] if isinstance(cost, (list, tuple)) and cost else cost) or {}
  for _ in range(3):
    state, loss = compiled(state, batch)
  jax.block_until_ready(loss)
  start = time.perf_counter()
  for _ in range(FLAGS.steps):
    state, loss = compiled(state, batch)
    jax.block_until_ready(loss)
  step_s = (time.perf_counter() - start) / FLAGS.steps

  out = FLAGS.out or tempfile.mkdtemp(prefix='profile_step_')
  with jax.profiler.trace(out, create_perfetto_trace=True):
    for _ in range(FLAGS.steps):
      state, loss = compiled(state, batch)
      jax.block_until_ready(loss)
  hlo_text = compiled.as_text()
  with open(os.path.join(out, 'hlo.txt'), 'w') as f:
    f.write(hlo_text)
  trace_files = sorted(glob.glob(os.path.join(out, 'plugins', 'profile', '*',
                                              'perfetto_trace.json.gz')))
  if not trace_files:
    raise FileNotFoundError(f'jax.profiler wrote no perfetto_trace.json.gz under {out}')
  with gzip.open(trace_files[-1]) as f:
    trace = json.load(f)
  events = trace['traceEvents'] if isinstance(trace, dict) else trace
  instructions, computations = parse_hlo(hlo_text)
  by_kind, counts, by_layer, by_op, busy = op_times(events, instructions, computations,
                                                    FLAGS.steps)

  def r(x):
    return round(x, 3)

  print(json.dumps({
      'kind': 'summary', 'config': config_flags.get_config_filename(FLAGS['config']),
      'batch': FLAGS.batch, 'step_ms': r(step_s * 1e3), 'flops': float(cost.get('flops', 0.)),
      'traced_op_ms': r(sum(by_kind.values())),
      'thread_op_ms': {k: r(v) for k, v in busy.most_common()},
      'hlo': os.path.join(out, 'hlo.txt'), 'trace': trace_files[-1]}))
  for kind, ms in by_kind.most_common():
    print(json.dumps({'kind': 'kind', 'name': kind, 'ms': r(ms),
                      'ops_per_step': counts[kind] // FLAGS.steps}))
  for (direction, layer), ms in by_layer.most_common():
    print(json.dumps({'kind': 'layer', 'direction': direction, 'name': layer, 'ms': r(ms)}))
  for name, ms in by_op.most_common(FLAGS.top):
    print(json.dumps({'kind': 'op', 'name': name, 'ms': r(ms),
                      'shape': instructions[name][2],
                      'class': classify(name, instructions, computations)[0]}))


if __name__ == '__main__':
  from utils import malloc_tunables
  malloc_tunables.reexec_with_tunables()  # what main.py runs with (utils/malloc_tunables.py)
  _define_flags()
  app.run(main)
