"""The experiment layer: the resume guard, reading parameters out of a run, the eval loss
during training. Tiny MLP runs on the 2-D toy data."""
import hashlib
import json
import os
import shutil

import jax
import numpy as np
import pytest

import experiment
from configs.toy import gmm_subvp, gmm_vp
from data.toy import ToyDataset
from evaluation import runs
from experiment import checkpoints as ckpt_lib, run_config
from training import loop

from test_faults import _flip_byte
from test_training_loop import tiny_config


def _twin(base, **training):
  """`base`'s config (gmm_vp or gmm_subvp) at the tiny test size of tiny_config()."""
  c = tiny_config(**training)
  other = base.get_config()
  c.training.sde = other.training.sde
  return c


def _records(workdir):
  with open(os.path.join(workdir, 'train.jsonl')) as f:
    return [json.loads(line) for line in f]


def _files(workdir):
  """{relative path: sha256} of every file under `workdir`."""
  out = {}
  for root, _, names in os.walk(workdir):
    for name in names:
      path = os.path.join(root, name)
      with open(path, 'rb') as f:
        out[os.path.relpath(path, workdir)] = hashlib.sha256(f.read()).hexdigest()
  return out


@pytest.fixture(scope='module')
def vp_run(tmp_path_factory):
  """A workdir trained 20 steps with the VP toy config (checkpoint at 20)."""
  c = tiny_config(n_iters=20)
  workdir = str(tmp_path_factory.mktemp('vp'))
  loop.train(c, workdir, ToyDataset(c.data.dataset, c.seed, c.training.batch_size))
  return c, workdir


def test_the_twins_differ_only_in_the_sde():
  """The sub-VP toy config is the VP one but for training.sde: the guard must catch exactly
  that field (the hazard of twin configs whose networks have identical shapes)."""
  vp, subvp = gmm_vp.get_config(), gmm_subvp.get_config()
  assert [d[0] for d in run_config.differences(run_config.as_dict(vp), subvp)] == \
      ['training.sde']


def test_training_the_subvp_twin_on_a_vp_workdir_stops_and_changes_nothing(vp_run):
  """train with the sub-VP twin on the VP run's workdir: a ConfigMismatchError naming
  training.sde with both values, and every file (checkpoints, config.json) byte-identical."""
  c, workdir = vp_run
  before = _files(workdir)
  assert 'config.json' in before and any(p.startswith('checkpoints') for p in before)
  twin = _twin(gmm_subvp, n_iters=40)
  with pytest.raises(run_config.ConfigMismatchError) as err:
    loop.train(twin, workdir, ToyDataset(twin.data.dataset, twin.seed, 64))
  assert "training.sde: workdir 'vpsde', given 'subvpsde'" in str(err.value)
  assert 'training.n_iters' not in str(err.value).split('Fields that may differ')[0]
  assert _files(workdir) == before


@pytest.mark.parametrize('command', [runs.sample, runs.likelihood])
def test_sample_and_likelihood_refuse_another_config(vp_run, command, capsys):
  """sample / likelihood with the sub-VP twin on the VP workdir: the same error, nothing
  written; with the VP config (and other sampling/eval settings) they run."""
  c, workdir = vp_run
  before = _files(workdir)
  with pytest.raises(run_config.ConfigMismatchError, match='training.sde'):
    command(_twin(gmm_subvp), workdir)
  assert _files(workdir) == before
  ok = tiny_config(n_iters=20)
  ok.eval.num_samples = ok.eval.batch_size = 8
  ok.data.num_test = 8
  ok.sampling.method = 'ode'         # may differ: how samples are drawn
  ok.eval.rtol = ok.eval.atol = 1e-3
  command(ok, workdir)


def test_fields_that_may_differ_resume(vp_run, tmp_path):
  """Run length, frequencies, eval.* and sampling.* may change on resume (listed in
  run_config.MAY_DIFFER); the recorded config then takes the new values."""
  c, workdir = vp_run
  assert run_config.may_differ('training.n_iters') and run_config.may_differ('eval.rtol')
  assert run_config.may_differ('sampling.method') and not run_config.may_differ('model.nf')
  assert not run_config.may_differ('training.sde') and not run_config.may_differ('seed')
  longer = tiny_config(n_iters=20, log_freq=5)
  longer.sampling.snr = 0.5
  longer.eval.rtol = 1e-3
  run_config.check(longer, workdir)


@pytest.mark.parametrize('field, value', [('model.nf', 16), ('model.num_scales', 2000),
                                          ('optim.lr', 1e-3), ('seed', 1),
                                          ('training.batch_size', 32), ('data.dataset', 'moons')])
def test_every_field_that_changes_the_run_is_refused(vp_run, field, value):
  """A change of the network, the SDE's time labels, the optimiser, the seed or the data is
  named with both values."""
  c, workdir = vp_run
  other = tiny_config(n_iters=20)
  section, name = field.split('.') if '.' in field else (None, field)
  setattr(other[section] if section else other, name, value)
  old = c[section][name] if section else c[name]
  with pytest.raises(run_config.ConfigMismatchError,
                     match=f"{field}: workdir {old!r}, given {value!r}".replace('.', r'\.')):
    run_config.check(other, workdir)


def test_checkpoints_without_a_recorded_config_are_refused(vp_run, tmp_path):
  """A workdir whose checkpoints have no config.json cannot be matched: an error that says so,
  never a guess; an empty workdir is a new run."""
  c, workdir = vp_run
  copy = str(tmp_path / 'copy')
  shutil.copytree(workdir, copy)
  os.remove(os.path.join(copy, 'config.json'))
  with pytest.raises(run_config.ConfigMismatchError, match='no config.json'):
    run_config.check(c, copy)
  run_config.check(c, str(tmp_path / 'new'))


def test_read_gives_the_ema_parameters_and_checks_them(vp_run, tmp_path):
  """Checkpoints.read returns the EMA parameters the trainer saved (no optimiser state built),
  names a parameter of the wrong shape, and rejects an array whose bytes were changed."""
  c, workdir = vp_run
  exp = experiment.Experiment(c)
  with ckpt_lib.Checkpoints(workdir, async_save=False, read_only=True) as ckpts:
    state = ckpts.restore(exp.abstract_state())
    params, step = ckpts.read(exp.abstract_state().ema_params, 'ema_params', 'score model')
  assert step == 20
  for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(state.ema_params), strict=True):
    np.testing.assert_array_equal(a, np.asarray(b))
  wider = tiny_config(n_iters=20)
  wider.model.nf = 16
  abstract = experiment.Experiment(wider).abstract_state().ema_params
  with ckpt_lib.Checkpoints(workdir, async_save=False, read_only=True) as ckpts:
    with pytest.raises(ckpt_lib.CheckpointError, match="does not fit the config's network"):
      ckpts.read(abstract, 'ema_params', 'score model')
  copy = str(tmp_path / 'copy')
  shutil.copytree(workdir, copy)
  with ckpt_lib.Checkpoints(copy, async_save=False, read_only=True) as ckpts:
    kind, step = ckpts.latest()
  _flip_byte(os.path.join(copy, ckpt_lib.DIRS[kind], str(step)))
  with ckpt_lib.Checkpoints(copy, async_save=False, read_only=True) as ckpts:
    with pytest.raises(ckpt_lib.CheckpointError, match='is corrupt'):
      ckpts.read(exp.abstract_state().ema_params, 'ema_params', 'score model')


def test_eval_loss_is_logged_every_eval_freq_steps_and_leaves_training_unchanged(tmp_path):
  """training.eval_freq: the EMA eval loss on a held-out batch is logged at each multiple of
  eval_freq; the trained state is bit-identical to a run without it."""
  c = tiny_config(n_iters=30, eval_freq=10)
  src = ToyDataset(c.data.dataset, c.seed, c.training.batch_size)
  test_src = ToyDataset(c.data.dataset, c.seed, c.training.batch_size, split='test')
  trainer = loop.Trainer(c)
  with_eval = loop.train(c, str(tmp_path / 'a'), src, trainer=trainer, eval_source=test_src)
  without = loop.train(c, str(tmp_path / 'b'), src, trainer=trainer)
  for a, b in zip(jax.tree.leaves(with_eval), jax.tree.leaves(without), strict=True):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  records = _records(tmp_path / 'a')
  evals = [(r['step'], r['eval_loss']) for r in records if 'eval_loss' in r]
  assert [s for s, _ in evals] == [10, 20, 30]
  assert all(np.isfinite(v) and v > 0 for _, v in evals)
  assert not any('eval_loss' in r for r in _records(tmp_path / 'b'))
