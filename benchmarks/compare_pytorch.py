"""Side by side with the PyTorch port (yang-song/score_sde_pytorch): issue 16's table as JSON lines.

    python benchmarks/compare_pytorch.py --port PATH [--rows train_ddpmpp_vp,...] [--repeats 3]
        [--train_steps 5] [--pc_N 100] [--likelihood_tol 1e-5] [--threads 2] [--port_tunables]
        [--port_ops port_cpu|standin]

PATH is a local checkout of the port (it is not a dependency and none of its
code is in this repository). Rows (`ROWS`; the network reductions in
`REDUCED`: nf 32, ch_mult (1, 2, 2), 1 res block, on 32x32x3 CIFAR-10 configs):

  train_ddpmpp_vp       train s/step, reduced DDPM++ cont. VP, batch 16
  train_ncsnpp_ve       train s/step, reduced NCSN++ cont. VE (FIR), batch 16
  pc_ddpmpp_vp          PC s/step, reduced DDPM++ VP, batch 4, Euler-Maruyama
                        predictor, no corrector, N = --pc_N time steps
  likelihood_ddpmpp_vp  likelihood s/example, reduced DDPM++ VP untrained,
                        batch 4 (the same held-out digits resized to 32x32x3
                        on both sides), Rademacher, rtol = atol =
                        --likelihood_tol (the table's: 1e-5); each
                        side's bits/dim is reported (the untrained DDPM++ has
                        a zero output layer, so both solve the same ODE and
                        should agree to about the tolerance)

Each side runs in its own subprocess, one after the other, interleaved
(port, ours, port, ours, ... --repeats pairs per row) on the same configs:
the port through benchmarks/compare_pytorch_port.py (its own training step,
PC sampler and likelihood function; torch with --threads threads; its CUDA
ops, which cannot be built without CUDA, either skipped so that the port's own
CPU code runs, as issue 16's table was measured (--port_ops port_cpu, the
default), or replaced at run time by our faster pure-torch stand-ins
(--port_ops standin: the same results, its NCSN++ step 2.5x faster)), ours through our
benchmarks (train_step.py, pc_step.py, likelihood.py), each run as a user
runs it (XLA's own threading on this machine's cores). Ours re-executes
itself with utils/malloc_tunables.py's GLIBC_TUNABLES (malloc on transparent
huge pages), as main.py does; the port, as its users run it, gets this
process's environment, or with --port_tunables the same tunables (it gains
from them too, ~10% per training step here), for a like-for-like row.

Output, one JSON object per line on stdout:
  kind=setup  versions, the port's path and commit (when it is a git checkout),
              the CPU count, `BUSY_SHARE`, each side's GLIBC_TUNABLES and the
              port's `port_ops`;
  kind=pair   one repeat of one row: `port`, `ours` (seconds), `ratio` =
              port / ours (> 1: we are faster), and for each side
              `port_others` / `ours_others`: the share of the machine's CPU
              time (all cores, over that side's whole subprocess, start-up and
              compilation included) used by processes other than that side,
              from /proc/stat's busy time less the subprocess's own CPU time
              (its rusage). `busy` is true when either share exceeds
              `BUSY_SHARE`: a shared machine slows the port's OpenMP threads
              4-15x and stretches our wall times too, so such rows are printed
              and marked, never dropped;
  kind=row    the summary of a row over its repeats: medians of each side and
              their ratio, the largest others' share seen on each side,
              `busy_repeats`, `busy` (any repeat busy) and, when some repeats
              were quiet and some busy, `quiet`: the medians over quiet ones.
A side that fails gives `error` (its exit status and the end of its stderr)
and null figures; the script then exits with status 1 after all rows.
Progress goes to stderr.
"""
import argparse
import dataclasses
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

# A side's row is marked busy when other processes used more than this share of the machine's
# CPU time during its run: 10% of 2 cores is a fifth of a core, already enough to stall one of
# the port's two OpenMP threads at every barrier.
BUSY_SHARE = 0.10

# The reduced networks of issue 16's table (both sides; field -> value of config.model).
REDUCED = (('nf', 32), ('ch_mult', (1, 2, 2)), ('num_res_blocks', 1))

# compare_pytorch_port.py's --ops values (its OPS; that file imports torch, so the names are
# repeated here and a test keeps the two equal): the port's own CPU code first, the default.
PORT_OPS = ('port_cpu', 'standin')

# The likelihood row's inputs: benchmarks/likelihood.py's held-out digits (test split, seed 1).
LIKELIHOOD_INPUT_SEED = 1


@dataclasses.dataclass(frozen=True)
class Row:
  """One figure of the table: which measurement, on which config and batch."""
  name: str
  kind: str          # 'train', 'pc' or 'likelihood'
  config: str        # relative to either repository (the port's configs mirror ours)
  batch: int
  unit: str
  figure: str        # str.format'ed with the options (pc_N, likelihood_tol)


ROWS = (
    Row('train_ddpmpp_vp', 'train', 'configs/vp/cifar10_ddpmpp_continuous.py', 16, 's/step',
        'train s/step, reduced DDPM++ cont. VP (nf 32, ch_mult (1,2,2), 1 res block), batch 16'),
    Row('train_ncsnpp_ve', 'train', 'configs/ve/cifar10_ncsnpp_continuous.py', 16, 's/step',
        'train s/step, reduced NCSN++ cont. VE (FIR), batch 16'),
    Row('pc_ddpmpp_vp', 'pc', 'configs/vp/cifar10_ddpmpp_continuous.py', 4, 's/step',
        'PC step, reduced DDPM++ VP, batch 4, Euler-Maruyama, no corrector, N = {pc_N}'),
    Row('likelihood_ddpmpp_vp', 'likelihood', 'configs/vp/cifar10_ddpmpp_continuous.py', 4,
        's/example', 'likelihood s/example, reduced DDPM++ VP untrained, batch 4, '
        'rtol = atol = {likelihood_tol:g}'),
)
ROW_NAMES = tuple(r.name for r in ROWS)

# The figure each side's JSON line carries, per kind: (port's key, our benchmark's key).
VALUE_KEYS = {'train': ('step_s', 'step_s'), 'pc': ('step_s', 'step_s'),
              'likelihood': ('per_example_s', 'per_example_s')}
# Figures reported beside the timing, per kind: name in the pair row -> (port's key, our key).
EXTRA_KEYS = {'train': {}, 'pc': {'nfe': ('nfe', 'nfe')},
              'likelihood': {'bpd': ('bpd', 'bpd_256'), 'nfe': ('nfe', 'nfe')}}


def select_rows(text):
  """The rows named in a comma-separated list (all for None/empty), in the table's order."""
  if not text:
    return ROWS
  names = [n.strip() for n in text.split(',') if n.strip()]
  unknown = [n for n in names if n not in ROW_NAMES]
  if unknown:
    raise ValueError(f"--rows={text!r}: unknown row(s) {', '.join(unknown)}; allowed: "
                     f"{', '.join(ROW_NAMES)}")
  return tuple(r for r in ROWS if r.name in names)


def _literal(value):
  return '(' + ','.join(str(v) for v in value) + ')' if isinstance(value, tuple) else str(value)


def ours_command(row, opts, python=sys.executable):
  """argv of our benchmark for `row` (benchmarks/train_step.py, pc_step.py or likelihood.py)."""
  reduced = [f'--config.model.{k}={_literal(v)}' for k, v in REDUCED]
  config = os.path.join(ROOT, row.config)
  if row.kind == 'train':
    return [python, os.path.join(HERE, 'train_step.py'), f'--config={config}',
            f'--batch={row.batch}', f'--steps={opts.train_steps}'] + reduced
  if row.kind == 'pc':
    return [python, os.path.join(HERE, 'pc_step.py'), f'--config={config}',
            f'--batch={row.batch}', f'--N={opts.pc_N}', '--predictor=euler_maruyama',
            '--corrector=none', f'--repeats={opts.pc_repeats}'] + reduced
  if row.kind == 'likelihood':
    return [python, os.path.join(HERE, 'likelihood.py'), f'--config={config}',
            f'--batch={row.batch}', '--train_steps=0', f'--tol={opts.likelihood_tol}',
            f'--solve_repeats={opts.likelihood_repeats}'] + reduced
  raise ValueError(f"row.kind={row.kind!r}: not train, pc or likelihood")


def port_command(row, opts, inputs=None, python=sys.executable):
  """argv of the port's side (benchmarks/compare_pytorch_port.py) for `row`."""
  cmd = [python, os.path.join(HERE, 'compare_pytorch_port.py'), f'--port={opts.port}',
         f'--kind={row.kind}', f'--config={row.config}', f'--batch={row.batch}',
         f'--threads={opts.threads}', f'--ops={opts.port_ops}']
  cmd += [f'--override=model.{k}={_literal(v)}' for k, v in REDUCED]
  if row.kind == 'train':
    cmd.append(f'--steps={opts.train_steps}')
  elif row.kind == 'pc':
    cmd += [f'--N={opts.pc_N}', '--predictor=euler_maruyama', '--corrector=none',
            f'--repeats={opts.pc_repeats}']
  elif row.kind == 'likelihood':
    if inputs is None:
      raise ValueError('the likelihood row needs the inputs file (inputs=None)')
    cmd += [f'--inputs={inputs}', f'--tol={opts.likelihood_tol}',
            f'--repeats={opts.likelihood_repeats}']
  else:
    raise ValueError(f"row.kind={row.kind!r}: not train, pc or likelihood")
  return cmd


def parse_proc_stat(text):
  """(busy clock ticks of all CPUs, number of CPUs) from the text of /proc/stat.

  Busy = user + nice + system + irq + softirq + steal of the aggregate `cpu`
  line; idle and iowait are not busy, guest time is already inside user/nice.
  """
  busy, ncpu = None, 0
  for line in text.splitlines():
    fields = line.split()
    if not fields:
      continue
    if fields[0] == 'cpu':
      v = [int(x) for x in fields[1:]] + [0] * 8
      busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
    elif fields[0].startswith('cpu') and fields[0][3:].isdigit():
      ncpu += 1
  if busy is None or ncpu == 0:
    raise ValueError("not /proc/stat text: no aggregate 'cpu' line or no per-CPU lines")
  return busy, ncpu


def others_share(busy_ticks, clk_tck, own_cpu_s, wall_s, ncpu):
  """Share of the machine's CPU time (wall_s * ncpu) that processes other than ours used.

  busy_ticks: the machine's busy clock ticks during the run (/proc/stat
  after - before); own_cpu_s: the CPU seconds of the measured process tree.
  Clipped to [0, 1] (tick rounding can make the difference slightly negative).
  """
  if wall_s <= 0 or ncpu < 1 or clk_tck <= 0:
    raise ValueError(f"wall_s={wall_s}, ncpu={ncpu}, clk_tck={clk_tck}: must be positive")
  other = busy_ticks / clk_tck - own_cpu_s
  return min(1., max(0., other / (wall_s * ncpu)))


def is_busy(share):
  """Whether others' share of the machine makes a timing unreliable (> BUSY_SHARE)."""
  return share is not None and share > BUSY_SHARE


def last_json(stdout):
  """The last line of `stdout` that parses as a JSON object (benchmarks print one per line)."""
  for line in reversed(stdout.splitlines()):
    line = line.strip()
    if line.startswith('{'):
      try:
        return json.loads(line)
      except json.JSONDecodeError:
        continue
  return None


def _read_proc_stat():
  with open('/proc/stat') as f:
    return parse_proc_stat(f.read())


def side_environments(port_tunables):
  """{side: environment of its subprocess}. Ours re-executes itself with
  utils/malloc_tunables.py's GLIBC_TUNABLES (as main.py does); the port runs as its users run
  it, with this process's environment, unless `port_tunables`, when it gets the same."""
  from utils import malloc_tunables  # pylint: disable=import-outside-toplevel
  ours = malloc_tunables.environment() or dict(os.environ)
  return {'ours': ours, 'port': dict(ours) if port_tunables else dict(os.environ)}


def run_side(argv, timeout, env=None):
  """Runs one side's subprocess; returns its JSON result, wall/CPU seconds and others' share."""
  clk_tck = os.sysconf('SC_CLK_TCK')
  busy0, ncpu = _read_proc_stat()
  ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
  t0 = time.perf_counter()
  try:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          check=False, env=env)
    rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
  except subprocess.TimeoutExpired as e:
    text = lambda b: (b.decode(errors='replace') if isinstance(b, bytes) else b) or ''
    rc, stdout, stderr = f'none (killed after {timeout} s)', text(e.stdout), text(e.stderr)
  wall = time.perf_counter() - t0
  ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
  busy1, _ = _read_proc_stat()
  own = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
  result = last_json(stdout) if rc == 0 else None
  out = dict(result=result, wall_s=wall, cpu_s=own,
             others=others_share(busy1 - busy0, clk_tck, own, wall, ncpu))
  if result is None:
    out['error'] = f"exit status {rc}: {stderr.strip()[-2000:]}" if rc != 0 else \
        f"no JSON line on stdout: {stdout.strip()[-500:]}"
  return out


def _value(run, key):
  if run is None or run.get('result') is None:
    return None
  value = run['result'].get(key)
  return None if value is None else float(value)


def _ratio(port, ours):
  return None if port is None or ours is None or ours <= 0 else port / ours


def pair_row(row, repeat, port_run, ours_run, opts):
  """The JSON object of one repeat of `row` from both sides' `run_side` results."""
  port_key, ours_key = VALUE_KEYS[row.kind]
  port, ours = _value(port_run, port_key), _value(ours_run, ours_key)
  out = dict(kind='pair', row=row.name, figure=row.figure.format(**vars(opts)), unit=row.unit,
             repeat=repeat, port=port, ours=ours, ratio=_ratio(port, ours))
  for name, (pk, ok) in EXTRA_KEYS[row.kind].items():
    out[f'port_{name}'], out[f'ours_{name}'] = _value(port_run, pk), _value(ours_run, ok)
  shares = {}
  for side, run in (('port', port_run), ('ours', ours_run)):
    shares[side] = None if run is None else run.get('others')
    out[f'{side}_others'] = None if shares[side] is None else round(shares[side], 4)
    out[f'{side}_wall_s'] = None if run is None else round(run['wall_s'], 2)
    out[f'{side}_cpu_s'] = None if run is None else round(run['cpu_s'], 2)
    if run is not None and run.get('error'):
      out[f'{side}_error'] = run['error']
  out['busy'] = is_busy(shares['port']) or is_busy(shares['ours'])
  return out


def _median(values):
  values = [v for v in values if v is not None]
  return statistics.median(values) if values else None


def summary_row(row, pairs, opts):
  """The JSON object summarising a row's `pair_row`s (medians; busy repeats counted, kept)."""
  port, ours = _median(p['port'] for p in pairs), _median(p['ours'] for p in pairs)
  out = dict(kind='row', row=row.name, figure=row.figure.format(**vars(opts)), unit=row.unit,
             repeats=len(pairs), port=port, ours=ours, ratio=_ratio(port, ours))
  for name in EXTRA_KEYS[row.kind]:
    for side in ('port', 'ours'):
      out[f'{side}_{name}'] = _median(p[f'{side}_{name}'] for p in pairs)
  for side in ('port', 'ours'):
    shares = [p[f'{side}_others'] for p in pairs if p[f'{side}_others'] is not None]
    out[f'{side}_others'] = max(shares) if shares else None
  busy = [p for p in pairs if p['busy']]
  quiet = [p for p in pairs if not p['busy']]
  out['busy_repeats'] = len(busy)
  out['busy'] = bool(busy)
  if busy and quiet:
    qp, qo = _median(p['port'] for p in quiet), _median(p['ours'] for p in quiet)
    out['quiet'] = dict(repeats=len(quiet), port=qp, ours=qo, ratio=_ratio(qp, qo))
  errors = [p for p in pairs if 'port_error' in p or 'ours_error' in p]
  if errors:
    out['failed_repeats'] = len(errors)
  return out


def write_likelihood_inputs(path, config_file, batch):
  """Saves benchmarks/likelihood.py's held-out digits for `config_file` (NHWC) to `path`.

  Runs in a subprocess of its own (it imports jax): the exact function and
  seed our likelihood row uses, so both sides solve for the same images.
  """
  # pylint: disable=import-outside-toplevel
  import importlib.util

  import numpy as np
  spec = importlib.util.spec_from_file_location('_bench_likelihood',
                                                os.path.join(HERE, 'likelihood.py'))
  bench = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(bench)
  config_spec = importlib.util.spec_from_file_location('_compare_config',
                                                       os.path.join(ROOT, config_file))
  config_mod = importlib.util.module_from_spec(config_spec)
  config_spec.loader.exec_module(config_mod)
  config = config_mod.get_config()
  x = bench.resized_digits(config, 'test', batch, seed=LIKELIHOOD_INPUT_SEED)
  np.save(path, np.asarray(x, np.float32))


def _setup_line(opts, envs):
  commit = None
  # Only the port's own repository (git -C would also find a repository above PATH).
  if shutil.which('git') and os.path.exists(os.path.join(opts.port, '.git')):
    proc = subprocess.run(['git', '-C', opts.port, 'rev-parse', 'HEAD'], capture_output=True,
                          text=True, check=False)
    if proc.returncode == 0:
      commit = proc.stdout.strip() or None
  versions = {}
  for dist in ('torch', 'jax', 'jaxlib'):
    try:
      from importlib.metadata import version  # pylint: disable=import-outside-toplevel
      versions[dist] = version(dist)
    except Exception:  # pylint: disable=broad-except
      versions[dist] = None
  _, ncpu = _read_proc_stat()
  tunables = {f'{side}_glibc_tunables': envs[side].get('GLIBC_TUNABLES') for side in envs}
  return dict(kind='setup', **tunables, port=os.path.abspath(opts.port), port_commit=commit,
              port_threads=opts.threads, port_ops=opts.port_ops, ncpu=ncpu, busy_share=BUSY_SHARE,
              repeats=opts.repeats, train_steps=opts.train_steps, pc_N=opts.pc_N,
              likelihood_tol=opts.likelihood_tol,
              reduced={k: list(v) if isinstance(v, tuple) else v for k, v in REDUCED},
              **versions)


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--port', help='local checkout of yang-song/score_sde_pytorch')
  parser.add_argument('--rows', default='', help=f"comma-separated, of {', '.join(ROW_NAMES)} "
                      '(default: all)')
  parser.add_argument('--repeats', type=int, default=3, help='port/ours pairs per row')
  parser.add_argument('--train_steps', type=int, default=5, help='timed training steps per run')
  parser.add_argument('--pc_N', type=int, default=100, help='PC time steps')
  parser.add_argument('--pc_repeats', type=int, default=1, help='timed samplings per run')
  parser.add_argument('--likelihood_repeats', type=int, default=1, help='timed solves per run')
  parser.add_argument('--likelihood_tol', type=float, default=1e-5,
                      help='rtol = atol of the likelihood row (the table: 1e-5)')
  parser.add_argument('--threads', type=int, default=2, help="the port's torch threads")
  parser.add_argument('--timeout', type=float, default=1800., help='seconds per side run')
  parser.add_argument('--port_ops', choices=PORT_OPS, default=PORT_OPS[0],
                      help="how the port runs without its CUDA ops (compare_pytorch_port.py "
                      "--ops): its own CPU code (default, as issue 16's table) or our faster "
                      "pure-torch stand-ins")
  parser.add_argument('--port_tunables', action='store_true',
                      help="run the port with the GLIBC_TUNABLES ours runs with "
                      "(utils/malloc_tunables.py: malloc on huge pages); default: as its users "
                      "run it")
  parser.add_argument('--write_likelihood_inputs', metavar='PATH', help=argparse.SUPPRESS)
  opts = parser.parse_args(argv)
  if opts.write_likelihood_inputs:
    return opts
  if not 0 < opts.likelihood_tol < 1:
    parser.error(f"--likelihood_tol={opts.likelihood_tol}: must be in (0, 1)")
  if not opts.port:
    parser.error('--port is required (a checkout of yang-song/score_sde_pytorch)')
  if not os.path.isfile(os.path.join(opts.port, 'models', 'ncsnpp.py')):
    parser.error(f"--port={opts.port!r} is not a checkout of yang-song/score_sde_pytorch "
                 "(no models/ncsnpp.py there)")
  for name in ('repeats', 'train_steps', 'pc_N', 'pc_repeats', 'likelihood_repeats', 'threads'):
    if getattr(opts, name) < 1:
      parser.error(f"--{name}={getattr(opts, name)}: must be >= 1")
  try:
    opts.rows = select_rows(opts.rows)
  except ValueError as e:
    parser.error(str(e))
  return opts


def main(argv=None):
  opts = parse_args(argv)
  if opts.write_likelihood_inputs:
    row = next(r for r in ROWS if r.kind == 'likelihood')
    write_likelihood_inputs(opts.write_likelihood_inputs, row.config, row.batch)
    return 0
  envs = side_environments(opts.port_tunables)
  print(json.dumps(_setup_line(opts, envs)), flush=True)
  tmp = tempfile.mkdtemp(prefix='compare_pytorch_')
  failed = False
  try:
    for row in opts.rows:
      inputs = None
      if row.kind == 'likelihood':
        inputs = os.path.join(tmp, 'likelihood_inputs.npy')
        proc = subprocess.run([sys.executable, os.path.abspath(__file__),
                               f'--write_likelihood_inputs={inputs}'], capture_output=True,
                              text=True, cwd=ROOT, check=False)
        if proc.returncode != 0:
          raise SystemExit(f"writing the likelihood inputs failed: {proc.stderr[-2000:]}")
      pairs = []
      for repeat in range(opts.repeats):
        runs = {}
        for side, argv_ in (('port', port_command(row, opts, inputs)),
                            ('ours', ours_command(row, opts))):
          print(f'[compare_pytorch] {row.name} repeat {repeat}: {side}', file=sys.stderr,
                flush=True)
          runs[side] = run_side(argv_, opts.timeout, envs[side])
        pair = pair_row(row, repeat, runs['port'], runs['ours'], opts)
        failed = failed or 'port_error' in pair or 'ours_error' in pair
        pairs.append(pair)
        print(json.dumps(pair), flush=True)
      print(json.dumps(summary_row(row, pairs, opts)), flush=True)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return 1 if failed else 0


if __name__ == '__main__':
  sys.exit(main())
