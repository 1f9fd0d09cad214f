"""main.py --mode eval on the built-in digits with a tiny network: metrics, files, resumption."""
import glob
import json
import os

import numpy as np
import pytest

from configs.digits import ddpmpp_vp
from data.toy import ToyDataset  # noqa: F401  (imports data before jax work, as main does)
from evaluation import runs
import data
from training import loop


def tiny_digits_config():
  c = ddpmpp_vp.get_config()
  m = c.model
  m.nf, m.ch_mult, m.num_res_blocks, m.attn_resolutions = 16, (1,), 1, ()
  m.num_scales = 20                      # 20 PC steps
  c.training.n_iters = 20
  c.training.batch_size = 16
  c.training.snapshot_freq = 20
  c.training.snapshot_freq_for_preemption = 20
  c.training.snapshot_sampling = False
  c.eval.begin_ckpt = c.eval.end_ckpt = 1
  c.eval.batch_size = 120
  c.eval.num_samples = 240
  c.eval.rtol = c.eval.atol = 1e-3
  return c


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('digits'))
  c = tiny_digits_config()
  loop.train(c, workdir, data.get_train_source(c))
  return c, workdir


@pytest.mark.slow
def test_eval_writes_metrics_samples_and_resumes(trained, capsys):
  """Eval reports loss, bpd (with the exact baselines) and the digits Frechet distance, writes a
  PNG grid; rerun after losing some finished rounds, it redoes only those and gives the same
  numbers."""
  c, workdir = trained
  runs.evaluate(c, workdir)
  out = os.path.join(workdir, 'eval', 'ckpt_1')
  record = json.load(open(os.path.join(workdir, 'eval', 'metrics.json')))[-1]
  assert record['step'] == 20 and record['num_samples'] == 240
  for key in ('loss', 'bpd', 'digits_fd'):
    assert np.isfinite(record[key]), key
  assert set(record['bpd_baselines']) == {'categorical', 'gaussian'}
  assert 0 < record['bpd'] < 20
  with open(os.path.join(out, 'samples.png'), 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  # Saved rounds live in one folder per sampler / bpd settings (settings.json inside).
  [samples_dir] = glob.glob(os.path.join(out, 'samples-*'))
  [bpd_dir] = glob.glob(os.path.join(out, 'bpd-*'))
  settings = json.load(open(os.path.join(samples_dir, 'settings.json')))
  assert settings['sampling']['method'] == c.sampling.method
  # Simulate an interruption after round 0: round 1 and the bpd batch 2 are lost.
  kept = os.path.getmtime(os.path.join(samples_dir, 'samples_0.npz'))
  os.remove(os.path.join(samples_dir, 'samples_1.npz'))
  os.remove(os.path.join(bpd_dir, 'bpd_0_2.npz'))
  runs.evaluate(c, workdir)
  assert os.path.getmtime(os.path.join(samples_dir, 'samples_0.npz')) == kept
  records = json.load(open(os.path.join(workdir, 'eval', 'metrics.json')))
  assert len(records) == 1      # the same checkpoint and sampler: replaced, not appended
  again = records[0]
  for key in ('loss', 'bpd', 'digits_fd'):
    assert again[key] == pytest.approx(record[key], rel=1e-6), key


@pytest.mark.slow
def test_eval_with_another_sampler_reuses_no_saved_round(trained):
  """Resumed with another sampler, eval draws its own rounds in a new folder (never the old
  sampler's saved ones), keeps the bpd rounds (same settings), and appends a second record."""
  c, workdir = trained
  runs.evaluate(c, workdir)
  out = os.path.join(workdir, 'eval', 'ckpt_1')
  before = set(glob.glob(os.path.join(out, 'samples-*')))
  other = tiny_digits_config()
  other.sampling.method, other.sampling.num_steps = 'ddim', 5
  runs.evaluate(other, workdir)
  new = set(glob.glob(os.path.join(out, 'samples-*'))) - before
  assert len(new) == 1
  [new] = new
  assert json.load(open(os.path.join(new, 'settings.json')))['sampling']['method'] == 'ddim'
  assert len(glob.glob(os.path.join(out, 'bpd-*'))) == 1
  records = json.load(open(os.path.join(workdir, 'eval', 'metrics.json')))
  assert [r['sampling']['method'] for r in records] == [c.sampling.method, 'ddim']
  assert records[0]['bpd'] == records[1]['bpd']


def test_eval_of_missing_workdir_is_an_error(tmp_path):
  """No snapshot: a clear error, nothing computed."""
  with pytest.raises(FileNotFoundError, match='train first'):
    runs.evaluate(tiny_digits_config(), str(tmp_path))
