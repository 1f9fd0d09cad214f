"""The paper-table runner (`evaluation.tables.reproduce`) on fake workdirs, and the table data.

Workdirs are written by hand in temporary directories: `config.json` from our
real config files (`get_config().to_json_best_effort()`, as `--mode train`
writes it) and `eval/metrics.json` records as `--mode eval` writes them.
"""
import importlib.util
import json
import os

import numpy as np
import pytest

from evaluation.tables import paper_tables, reproduce

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config_dict(relpath, **overrides):
  spec = importlib.util.spec_from_file_location('_test_cfg', os.path.join(REPO, relpath))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  for key, value in overrides.items():
    section, field = key.split('.')
    config[section][field] = value
  return json.loads(config.to_json_best_effort())


def _workdir(root, name, config_file, records=None, **overrides):
  path = os.path.join(root, name)
  os.makedirs(os.path.join(path, 'eval'))
  with open(os.path.join(path, 'config.json'), 'w') as f:
    json.dump(_config_dict(config_file, **overrides), f)
  if records is not None:
    with open(os.path.join(path, 'eval', 'metrics.json'), 'w') as f:
      json.dump(records, f)
  return path


def _sampling(method='pc', predictor='reverse_diffusion', corrector='langevin', snr=0.16,
              n_steps_each=1, probability_flow=False):
  return dict(method=method, predictor=predictor, corrector=corrector, snr=snr,
              n_steps_each=n_steps_each, probability_flow=probability_flow)


def _record(ckpt, fid=None, is_=None, bpd=None, sampling=None, num_samples=50000, tag=''):
  return {'step': ckpt * 50000, 'ckpt': ckpt, 'fid': fid, 'is': is_, 'kid': None, 'bpd': bpd,
          'num_samples': num_samples, 'sampling': sampling or _sampling(),
          'command': f'python main.py --mode eval --ckpt {ckpt}{tag}'}


def _by_name(results):
  return {r['row']: r for r in results}


@pytest.fixture
def runs_dir(tmp_path):
  """A directory of workdirs: NCSN++ cont. (deep, VE), DDPM++ cont. (deep, sub-VP), a trained
  but unevaluated DDPM++ cont. (deep, VP), and the VE DDPM model of Table 1."""
  root = str(tmp_path / 'runs')
  _workdir(root, 've_deep', 'configs/ve/cifar10_ncsnpp_deep_continuous.py', [
      _record(10, fid=2.5, is_=9.7),
      _record(12, fid=2.3, is_=9.8),
      _record(14, fid=2.4, is_=9.85),
      # A better FID with another corrector strength: not the row's sampler.
      _record(13, fid=1.0, is_=11., sampling=_sampling(snr=0.2)),
  ])
  ode = _sampling(method='ode', predictor='euler_maruyama', corrector='none')
  em = _sampling(predictor='euler_maruyama', corrector='none')
  _workdir(root, 'subvp_deep', 'configs/subvp/cifar10_ddpmpp_deep_continuous.py', [
      _record(18, fid=2.5, is_=9.5, bpd=3.05, sampling=em),
      _record(19, fid=2.95, sampling=ode, tag=' ode'),
      _record(19, bpd=2.98, sampling=em, tag=' bpd'),
  ])
  _workdir(root, 'vp_deep', 'configs/vp/cifar10_ddpmpp_deep_continuous.py')
  c2000 = _sampling(predictor='none', snr=0.22, n_steps_each=2, probability_flow=True)
  _workdir(root, 've_ddpm', 'configs/ve/cifar10_ddpm.py', [
      _record(20, fid=9.0),
      *[_record(26, fid=f) for f in (3.5, 3.6, 3.7, 3.55, 3.65)],
      _record(26, fid=20.1, sampling=c2000),
  ])
  return root


def test_table3_takes_the_best_checkpoint_of_the_rows_sampler(runs_dir):
  """Table 3 reports the checkpoint with the smallest FID among records with the row's sampler
  (a better FID from another snr is ignored), IS at that checkpoint, its step and command;
  the non-deep NCSN++ cont. row does not take the deep run (num_res_blocks differs)."""
  rows = _by_name(reproduce.reproduce(3, [runs_dir]))
  deep = rows['NCSN++ cont. (deep, VE)']
  assert deep['status'] == 'ok'
  assert deep['ours']['fid']['value'] == pytest.approx(2.3)
  assert deep['ours']['is']['value'] == pytest.approx(9.8)
  assert deep['ours']['fid']['step'] == 600000 and deep['ours']['fid']['ckpt'] == 12
  assert deep['ours']['fid']['commands'] == ['python main.py --mode eval --ckpt 12']
  assert deep['runs'] == [os.path.join(runs_dir, 've_deep')]
  assert rows['NCSN++ cont. (VE)']['status'] == 'no run'
  assert rows['NCSN++ cont. (VE)']['runs'] == []
  assert rows['Conditional BigGAN']['status'] == 'other work'


def test_table2_last_checkpoint_ode_fid_and_any_sampler_bpd(runs_dir):
  """Table 2 takes the last checkpoint: FID only from probability-flow ODE records (the PC
  record at ckpt 18 does not count), bits/dim whatever the sampler; VP and sub-VP runs of
  the same network are told apart; a trained run without metrics is 'not evaluated' and
  needs only the eval command."""
  rows = _by_name(reproduce.reproduce(2, [runs_dir]))
  subvp = rows['DDPM++ cont. (deep, sub-VP)']
  assert subvp['status'] == 'ok'
  assert subvp['ours']['fid']['value'] == pytest.approx(2.95)
  assert subvp['ours']['fid']['commands'] == ['python main.py --mode eval --ckpt 19 ode']
  assert subvp['ours']['bpd']['value'] == pytest.approx(2.98)
  assert subvp['ours']['bpd']['ckpt'] == 19
  vp = rows['DDPM++ cont. (deep, VP)']
  assert vp['status'] == 'not evaluated'
  assert vp['runs'] == [os.path.join(runs_dir, 'vp_deep')]
  assert len(vp['commands_to_run']) == 1 and '--mode eval' in vp['commands_to_run'][0]
  assert '--config.sampling.method=ode' in vp['commands_to_run'][0]
  assert '--config.eval.enable_bpd=True' in vp['commands_to_run'][0]
  assert rows['DDPM++ cont. (VP)']['status'] == 'no run'


def test_table1_averages_sampling_runs_at_the_last_checkpoint(runs_dir):
  """Table 1: the five records of the row's sampler at the last checkpoint are averaged (mean,
  sample std, n = 5); the corrector-only record matches C2000 (its probability_flow flag is
  irrelevant without a predictor); P2000 rows are not reproducible and give no command;
  the VP rows have no run."""
  rows = _by_name(reproduce.reproduce(1, [runs_dir]))
  pc = rows['VE (SMLD), reverse diffusion, PC1000']
  values = [3.5, 3.6, 3.7, 3.55, 3.65]
  assert pc['status'] == 'ok'
  assert pc['ours']['fid']['n'] == 5 and pc['ours']['fid']['ckpt'] == 26
  assert pc['ours']['fid']['value'] == pytest.approx(np.mean(values))
  assert pc['ours']['fid']['std'] == pytest.approx(np.std(values, ddof=1))
  c2000 = rows['VE (SMLD), corrector only, C2000']
  assert c2000['status'] == 'ok' and c2000['ours']['fid']['value'] == pytest.approx(20.1)
  assert c2000['ours']['fid']['std'] is None
  assert rows['VE (SMLD), reverse diffusion, P1000']['status'] == 'not evaluated'
  p2000 = rows['VE (SMLD), reverse diffusion, P2000']
  assert p2000['status'] == 'not reproducible' and p2000['commands_to_run'] == []
  assert rows['VP (DDPM), ancestral sampling, PC1000']['status'] == 'no run'


def test_text_table(runs_dir, capsys):
  """The printed Table 3 has the title, each row with the paper's figures, ours with the step
  and sample count, the command that produced ours, and for rows without a run 'no run' and
  the train and eval commands that would produce them."""
  assert reproduce.main(['--table', '3', '--workdirs', runs_dir]) == 0
  out = capsys.readouterr().out
  lines = out.splitlines()
  assert lines[0] == paper_tables.TITLES[3]
  deep = next(l for l in lines if l.startswith('NCSN++ cont. (deep, VE)'))
  assert 'FID 2.20  IS 9.89' in deep
  assert 'FID 2.30 (step 600000, 50000 samples)' in deep and 'IS 9.80' in deep
  assert lines[lines.index(deep) + 1].strip() == 'by: python main.py --mode eval --ckpt 12'
  no_run = next(l for l in lines if l.startswith('NCSN++ cont. (VE)'))
  assert no_run.rstrip().endswith('no run')
  assert ('to run: python main.py --config configs/ve/cifar10_ncsnpp_continuous.py --workdir '
          'runs/ve_cifar10_ncsnpp_continuous --mode train') in out
  assert ('python main.py --config configs/ve/cifar10_ncsnpp_continuous.py --workdir '
          'runs/ve_cifar10_ncsnpp_continuous --mode eval --config.eval.enable_sampling=True') in out
  assert next(l for l in lines if l.startswith('Conditional BigGAN')).rstrip().endswith(
      'other work')


def test_json_format(runs_dir, capsys):
  """--format json prints one JSON object per row of the table, in the paper's order, with
  the paper's figures and ours."""
  reproduce.main(['--table', '2', '--workdirs', os.path.join(runs_dir, 'subvp_deep'),
                  '--format', 'json'])
  rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
  assert [r['row'] for r in rows] == [r.name for r in paper_tables.get_table(2)]
  last = rows[-1]
  assert last['row'] == 'DDPM++ cont. (deep, sub-VP)'
  assert last['paper'] == {'bpd': {'value': 2.99, 'std': None, 'bound': False},
                           'fid': {'value': 2.92, 'std': None, 'bound': False}}
  assert last['ours']['bpd']['value'] == pytest.approx(2.98)


def test_sampler_key_ignores_fields_without_effect():
  """snr and steps do not matter without a corrector, probability_flow not without a
  predictor, nothing but the method for ODE sampling; the snr is compared after rounding."""
  key = reproduce.sampler_key
  assert key(_sampling(corrector='none', snr=0.1)) == key(_sampling(corrector='none', snr=0.3))
  assert key(_sampling(predictor='none', probability_flow=True)) == key(
      _sampling(predictor='none'))
  assert key(_sampling(method='ode')) == key(_sampling(method='ode', predictor='none'))
  assert key(_sampling(snr=0.16)) == key(_sampling(snr=0.16 + 1e-12))
  assert key(_sampling(snr=0.16)) != key(_sampling(snr=0.17))
  assert key(_sampling(probability_flow=True)) != key(_sampling())


def test_bad_workdirs_are_named(tmp_path):
  """A path without config.json (itself or its children) and a malformed metrics.json fail
  with errors naming the path."""
  with pytest.raises(FileNotFoundError, match='no config.json'):
    reproduce.find_runs([str(tmp_path)])
  path = _workdir(str(tmp_path), 'bad', 'configs/ve/cifar10_ncsnpp.py')
  with open(os.path.join(path, 'eval', 'metrics.json'), 'w') as f:
    f.write('{"fid": 3')
  with pytest.raises(ValueError, match='metrics.json is not valid JSON'):
    reproduce.find_runs([path])
  with open(os.path.join(path, 'eval', 'metrics.json'), 'w') as f:
    json.dump([{'fid': 3.}], f)
  with pytest.raises(ValueError, match='record 0 has no integer step / ckpt'):
    reproduce.load_run(path)


def test_every_row_config_and_override_is_valid():
  """Every row of ours names an existing config file; with the row's overrides applied
  (as --config.x.y=v flags would) the config passes the start-up checks, so the commands
  the runner prints can run. Our Table 3 rows take the best checkpoint, Tables 1-2 the last."""
  from utils import config_checks  # pylint: disable=import-outside-toplevel
  for number in paper_tables.TABLES:
    for row in paper_tables.get_table(number):
      assert set(row.paper) <= set(paper_tables.METRICS), row.name
      if not row.ours:
        continue
      assert row.checkpoint == ('best' if number == 3 else 'last'), row.name
      spec = importlib.util.spec_from_file_location('_row_cfg', os.path.join(REPO, row.config))
      module = importlib.util.module_from_spec(spec)
      spec.loader.exec_module(module)
      config = module.get_config()
      config.lock()
      for key, value in row.overrides:
        section, field = key.split('.')
        assert field in config[section], (row.name, key)
        config[section][field] = value  # a locked config rejects unknown fields and types
      config_checks.validate(config)
