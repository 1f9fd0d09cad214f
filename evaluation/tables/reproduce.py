"""Puts our runs beside the paper's numbers: `python -m evaluation.tables.reproduce --table 2 --workdirs runs/*`.

For each row of Table 1, 2 or 3 of Song et al. 2021 (`evaluation.tables.paper_tables`)
it finds the runs that trained the row's model and the evaluation records
that used the row's sampler, and prints the paper's figure, ours (with the
step it was reached at) and the command that produced ours; a row without a
run says "no run" and gives the commands that would produce it. `--format
json` prints one JSON object per row instead.

What it reads in each workdir (written by `main.py`):
- `config.json`: the run's full config (`--mode train`).
- `eval/metrics.json`: a JSON list of records `{"step", "ckpt", "fid", "is",
  "kid", "bpd", "num_samples", "sampling": {"method", "predictor",
  "corrector", "snr", "n_steps_each", "probability_flow"}, "command"}`
  (`--mode eval`); null metrics were not computed.

A run matches a row when its config has the row's dataset, SDE, objective
(`training.continuous`, `reduce_mean`, `likelihood_weighting`), data scaling
and every `model.*` field of the row's config file (except the compute dtype);
so DDPM++ and NCSN++ (both `model.name='ncsnpp'`), deep and not, VP and sub-VP
are told apart. A record counts for FID/IS only if its sampler is the row's
(predictor, corrector, snr, steps per noise scale, probability flow; only
the method for ODE sampling); bits/dim counts whatever the sampler.

Which checkpoint: Table 3 reports the checkpoint with the smallest FID (its
IS is read at that checkpoint), Tables 1 and 2 the last one evaluated. Several
records at that checkpoint (e.g. the paper's five sampling runs of Table 1)
are averaged: mean and sample standard deviation.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.util
import json
import os
import sys

import numpy as np

import configs
from evaluation.tables import paper_tables
from evaluation.tables.paper_tables import METRIC_NAMES, SAMPLER_METRICS

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Fields that define the trained model besides `model.*`.
IDENTITY_FIELDS = ('data.dataset', 'data.image_size', 'data.centered', 'training.sde',
                   'training.continuous', 'training.reduce_mean', 'training.likelihood_weighting')
# `model.*` fields that do not change what is learnt.
IGNORED_MODEL_FIELDS = ('dtype',)
SAMPLING_FIELDS = ('method', 'predictor', 'corrector', 'snr', 'n_steps_each', 'probability_flow')
_MISSING = object()


# ------------------------------------------------------------------ reading


@dataclasses.dataclass
class Run:
  """A workdir: its config (a plain dict from config.json) and its evaluation records."""
  workdir: str
  config: dict
  records: list


def _read_json(path, what):
  try:
    with open(path) as f:
      return json.load(f)
  except json.JSONDecodeError as e:
    raise ValueError(f"{path} is not valid JSON ({what}): {e}") from e


def load_run(workdir) -> Run:
  """Reads `workdir/config.json` and, if present, `workdir/eval/metrics.json`."""
  workdir = os.fspath(workdir)
  config_path = os.path.join(workdir, 'config.json')
  if not os.path.isfile(config_path):
    raise FileNotFoundError(f"{config_path} does not exist: {workdir!r} is not a workdir "
                            "trained by `main.py --mode train`")
  config = _read_json(config_path, 'the run config')
  if not isinstance(config, dict):
    raise ValueError(f"{config_path} must hold a JSON object (the config), got "
                     f"{type(config).__name__}")
  metrics_path = os.path.join(workdir, 'eval', 'metrics.json')
  records = []
  if os.path.isfile(metrics_path):
    records = _read_json(metrics_path, 'evaluation records')
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
      raise ValueError(f"{metrics_path} must hold a JSON list of records (objects)")
    for i, record in enumerate(records):
      missing = [k for k in ('step', 'ckpt') if not isinstance(record.get(k), int)]
      if missing:
        raise ValueError(f"{metrics_path}: record {i} has no integer {' / '.join(missing)}")
  return Run(workdir, config, records)


def find_runs(paths):
  """The runs under `paths`: each path is a workdir, or a directory of workdirs."""
  runs = []
  for path in paths:
    path = os.fspath(path)
    if os.path.isfile(os.path.join(path, 'config.json')):
      runs.append(load_run(path))
      continue
    if not os.path.isdir(path):
      raise FileNotFoundError(f"--workdirs: {path!r} is not a directory")
    children = sorted(os.path.join(path, c) for c in os.listdir(path))
    found = [c for c in children if os.path.isfile(os.path.join(c, 'config.json'))]
    if not found:
      raise FileNotFoundError(f"--workdirs: no config.json in {path!r} or its subdirectories")
    runs.extend(load_run(c) for c in found)
  return runs


# ------------------------------------------------------------------ the rows' references


def _load_config_file(relpath):
  """A config file of ours as a plain dict (a fresh copy each call)."""
  return json.loads(_config_json(relpath))


@functools.lru_cache(maxsize=None)
def _config_json(relpath):
  path = os.path.join(REPO_ROOT, relpath)
  if not os.path.isfile(path):
    raise FileNotFoundError(f"config file {relpath!r} of a paper row does not exist")
  if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)  # config files import configs.default_*
  spec = importlib.util.spec_from_file_location('_paper_row_config', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config().to_json_best_effort()


def _get(tree, dotted):
  node = tree
  for part in dotted.split('.'):
    if not isinstance(node, dict) or part not in node:
      return _MISSING
    node = node[part]
  return node


def _set(tree, dotted, value):
  *parents, leaf = dotted.split('.')
  node = tree
  for part in parents:
    node = node.setdefault(part, {})
  node[leaf] = value


def reference_config(row) -> dict:
  """The row's config file as a plain dict, with the row's overrides applied."""
  config = _load_config_file(row.config)
  for key, value in row.overrides:
    _set(config, key, value)
  return config


def _norm(value):
  """JSON-comparable form: tuples as lists, floats rounded off their last bits."""
  if isinstance(value, (list, tuple)):
    return [_norm(v) for v in value]
  if isinstance(value, float):
    return round(value, 9)
  return value


def identity_fields(config: dict) -> dict:
  """The fields of a config that say which model it trains (see the module docstring)."""
  fields = {k: _get(config, k) for k in IDENTITY_FIELDS}
  for key, value in sorted((config.get('model') or {}).items()):
    if key not in IGNORED_MODEL_FIELDS:
      fields['model.' + key] = value
  return fields


def config_mismatch(reference: dict, run_config: dict):
  """The first field in which a run's config differs from the reference, or None.

  Identity fields must be present in the run; a `model.*` field the run's
  config lacks (an older version of the config file) is not held against it.
  """
  for key, want in identity_fields(reference).items():
    if want is _MISSING:
      continue
    have = _get(run_config, key)
    if have is _MISSING:
      if key in IDENTITY_FIELDS:
        return f"{key} missing"
      continue
    if _norm(have) != _norm(want):
      return f"{key}={have!r}, the row needs {want!r}"
  return None


def sampler_key(sampling: dict):
  """What makes two samplers the same; fields that have no effect are dropped."""
  method = str(sampling.get('method', '')).lower()
  if method != 'pc':
    return (method,)
  predictor = str(sampling.get('predictor')).lower()
  corrector = str(sampling.get('corrector')).lower()
  key = ['pc', predictor, corrector]
  if predictor != 'none':
    key.append(bool(sampling.get('probability_flow', False)))
  if corrector != 'none':
    snr = sampling.get('snr')
    key += [None if snr is None else round(float(snr), 6), sampling.get('n_steps_each')]
  return tuple(key)


# ------------------------------------------------------------------ matching


def _aggregate(metric, group):
  values = np.asarray([r[metric] for r in group], np.float64)
  first = group[0]
  commands = []
  for r in group:
    if r.get('command') and r['command'] not in commands:
      commands.append(r['command'])
  samples = [r.get('num_samples') for r in group if isinstance(r.get('num_samples'), int)]
  return {'value': float(values.mean()),
          'std': float(values.std(ddof=1)) if len(values) > 1 else None,
          'n': len(values), 'step': first['step'], 'ckpt': first['ckpt'],
          'num_samples': min(samples) if samples else None,
          'workdir': first['_workdir'], 'commands': commands}


def _groups(runs, metric, sampler):
  """{(workdir index, ckpt): [records]} with `metric` computed (and the row's sampler)."""
  groups = {}
  for i, run in enumerate(runs):
    for record in run.records:
      if record.get(metric) is None:
        continue
      if metric in SAMPLER_METRICS and sampler_key(record.get('sampling') or {}) != sampler:
        continue
      groups.setdefault((i, record['ckpt']), []).append(dict(record, _workdir=run.workdir))
  return groups


def match_row(row, runs) -> dict:
  """Our figures for one row: {'status', 'ours': {metric: aggregate or None}, 'runs', ...}."""
  result = {'table': row.table, 'row': row.name,
            'paper': {m: dataclasses.asdict(f) for m, f in row.paper.items()},
            'config': row.config, 'ours': {m: None for m in row.paper},
            'runs': [], 'commands_to_run': [], 'note': row.note, 'source': row.source}
  if not row.ours:
    result['status'] = 'other work'
    return result
  reference = reference_config(row)
  matching = [run for run in runs if config_mismatch(reference, run.config) is None]
  result['runs'] = [run.workdir for run in matching]
  if not row.reproducible:
    result['status'] = 'not reproducible'
    return result
  result['commands_to_run'] = commands_for(row, reference, trained=bool(matching))
  sampler = sampler_key(reference['sampling'])
  groups = {m: _groups(matching, m, sampler) for m in row.paper}
  chosen = {}
  if row.checkpoint == 'best' and groups.get('fid'):
    best = min(groups['fid'], key=lambda k: (np.mean([r['fid'] for r in groups['fid'][k]]), k))
    chosen = {m: best for m in row.paper if best in groups[m]}
  elif row.checkpoint == 'last':
    for m, g in groups.items():
      if g:
        # The last checkpoint; between workdirs, the first one given.
        chosen[m] = max(g, key=lambda k: (k[1], -k[0]))
  for m, key in chosen.items():
    result['ours'][m] = _aggregate(m, groups[m][key])
  found = sum(v is not None for v in result['ours'].values())
  if found == len(row.paper):
    result['status'] = 'ok'
  elif found:
    result['status'] = 'partial'
  else:
    result['status'] = 'not evaluated' if matching else 'no run'
  return result


# ------------------------------------------------------------------ commands


def _flag_value(value):
  if isinstance(value, bool):
    return 'True' if value else 'False'
  return str(value)


def commands_for(row, reference=None, trained=False):
  """The `main.py` commands that produce the row: train (unless `trained`), then eval."""
  reference = reference_config(row) if reference is None else reference
  plain = _load_config_file(row.config)
  workdir = configs.workdir_for(row.config)   # the one its config's docstring gives
  base = f"python main.py --config {row.config} --workdir {workdir}"
  overrides = [f"--config.{key}={_flag_value(value)}" for key, value in row.overrides
               if _norm(_get(plain, key)) != _norm(value)]
  flags = []
  if any(m in row.paper for m in SAMPLER_METRICS):
    flags.append('--config.eval.enable_sampling=True')
  if 'bpd' in row.paper:
    flags.append('--config.eval.enable_bpd=True')
  commands = [] if trained else [f"{base} --mode train"]
  commands.append(' '.join([base, '--mode eval'] + flags + overrides))
  return commands


# ------------------------------------------------------------------ output


def _format_ours(metric, ours):
  if ours is None:
    return f"{METRIC_NAMES[metric]} -"
  text = f"{METRIC_NAMES[metric]} {ours['value']:.2f}"
  if ours['std'] is not None:
    text += f" +- {ours['std']:.2f}"
  details = [f"step {ours['step']}"]
  if ours['n'] > 1:
    details.insert(0, f"n={ours['n']}")
  if ours['num_samples'] is not None and metric in SAMPLER_METRICS:
    details.append(f"{ours['num_samples']} samples")
  return f"{text} ({', '.join(details)})"


def format_table(number, results) -> str:
  """The text table of `results` (from `match_row`) for Table `number`."""
  rows = []
  for res in results:
    paper = '  '.join(f"{METRIC_NAMES[m]} {paper_tables.Figure(**f)}"
                      for m, f in res['paper'].items())
    status = res['status']
    if status in ('ok', 'partial'):
      ours = '  '.join(_format_ours(m, o) for m, o in res['ours'].items())
    else:
      ours = {'other work': 'other work', 'not reproducible': 'not reproducible here',
              'no run': 'no run', 'not evaluated': 'trained, not evaluated'}[status]
    rows.append((res['row'], paper, ours, res))
  w_row = max(len('row'), *(len(r[0]) for r in rows))
  w_paper = max(len('paper'), *(len(r[1]) for r in rows))
  lines = [paper_tables.TITLES[number], f"{'row':<{w_row}}  {'paper':<{w_paper}}  ours"]
  for name, paper, ours, res in rows:
    lines.append(f"{name:<{w_row}}  {paper:<{w_paper}}  {ours}")
    indent = ' ' * 4
    if res['status'] in ('ok', 'partial'):
      commands = []
      for m, o in res['ours'].items():
        for c in (o or {}).get('commands', []):
          if c not in commands:
            commands.append(c)
      lines += [f"{indent}by: {c}" for c in commands]
    if res['status'] in ('partial', 'no run', 'not evaluated'):
      lines += [f"{indent}to run: {c}" for c in res['commands_to_run']]
    if res['status'] == 'not reproducible':
      lines.append(f"{indent}{res['note']}")
  return '\n'.join(lines)


def reproduce(table: int, workdirs=()):
  """`match_row` for every row of Table `table` against the runs under `workdirs`."""
  runs = find_runs(workdirs)
  return [match_row(row, runs) for row in paper_tables.get_table(table)]


def main(argv=None):
  parser = argparse.ArgumentParser(
      prog='python -m evaluation.tables.reproduce',
      description='Our runs beside the numbers of Tables 1-3 of arXiv 2011.13456.')
  parser.add_argument('--table', type=int, required=True, choices=sorted(paper_tables.TABLES))
  parser.add_argument('--workdirs', nargs='*', default=[],
                      help='workdirs of runs (or directories holding workdirs)')
  parser.add_argument('--format', choices=('text', 'json'), default='text')
  args = parser.parse_args(argv)
  results = reproduce(args.table, args.workdirs)
  if args.format == 'json':
    for res in results:
      print(json.dumps(res))
  else:
    print(format_table(args.table, results))
  return 0


if __name__ == '__main__':
  sys.exit(main())
