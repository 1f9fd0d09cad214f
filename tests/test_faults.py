"""Faults never cost work or pass silently: a full disk, a corrupt or mismatched checkpoint,
SIGTERM / SIGINT, bad config values, unwritable outputs, NaN parameters and samples.

Disk cases run on a small tmpfs (tests run as root; skipped where mounting is not permitted).
Training runs use the tiny toy MLP of test_training_loop, so each takes seconds.
"""
import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from configs.digits import ddpmpp_vp
from configs.toy import gmm_vp
from data.toy import ToyDataset
from evaluation import runs
from experiment import checkpoints as ckpt_lib, run_config
from training import loop
from utils import config_checks, preemption
from utils.metric_writer import MetricWriter

from test_training_loop import tiny_config as training_loop_tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_config(**training):
  """test_training_loop's tiny toy run, shortened to 60 steps with a snapshot at 40."""
  settings = dict(n_iters=60, n_jitted_steps=5, log_freq=5, snapshot_freq=40)
  settings.update(training)
  return training_loop_tiny_config(**settings)


def _source(c):
  return ToyDataset(c.data.dataset, c.seed, c.training.batch_size)


# Every training run here uses tiny_config() (shorter ones stop through max_steps), so one
# Trainer, compiled once, serves them all.
@pytest.fixture(scope='module')
def trainer():
  return loop.Trainer(tiny_config())


@pytest.fixture(scope='module')
def reference(trainer, tmp_path_factory):
  """The state after an uninterrupted run of tiny_config() (60 steps)."""
  c = tiny_config()
  return loop.train(c, str(tmp_path_factory.mktemp('ref')), _source(c), trainer=trainer)


def _leaves(state):
  return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(state))]


def _assert_same_state(a, b):
  for x, y in zip(_leaves(a), _leaves(b), strict=True):
    np.testing.assert_array_equal(x, y)


def _tmp_entries(workdir):
  return [os.path.join(r, d) for r, ds, _ in os.walk(workdir) for d in ds
          if ckpt_lib.TMP_MARK in d]


@contextlib.contextmanager
def tmpfs(path, size):
  """A tmpfs of `size` mounted at `path` (skips the test where mounting is not allowed)."""
  os.makedirs(path, exist_ok=True)
  r = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(path)],
                     capture_output=True, text=True)
  if r.returncode:
    pytest.skip(f'cannot mount a tmpfs here: {r.stderr.strip()}')
  try:
    yield path
  finally:
    subprocess.run(['umount', '-l', str(path)], check=False)


def _remount(path, options):
  subprocess.run(['mount', '-o', f'remount,{options}', str(path)], check=True)


# ---------------------------------------------------------------- full disk


@pytest.mark.slow
def test_full_disk_stops_at_the_failing_save_and_resumes_exactly(tmp_path, monkeypatch, trainer,
                                                                 reference, capfd):
  """On a tmpfs with room for one checkpoint: the write of the second (step 40) fails with
  'no space left on device' naming it, within one call (5 steps); checkpoint 20 is intact and
  no temporary folder is left. Run again, the free-space check refuses the save before writing
  and says how much it needs. No traceback from orbax's writer threads is printed. With more room the run resumes and ends bit-identical to an
  uninterrupted run, and train.jsonl holds each step once."""
  c = tiny_config()
  with tmpfs(tmp_path / 'fs', '440k') as fs:
    work = str(fs / 'run')
    # The orbax write itself fails: pretend the free-space check saw plenty.
    monkeypatch.setattr(ckpt_lib, 'free_bytes', lambda path: 1 << 40)
    with pytest.raises(ckpt_lib.CheckpointError) as err:
      loop.train(c, work, _source(c), trainer=trainer)
    message = str(err.value)
    assert message.startswith(f'no space left on device writing {work}/checkpoints/40'), message
    assert f'{work}/checkpoints-meta/20' in message     # the checkpoint that is kept
    assert _tmp_entries(work) == []
    assert 'Traceback' not in capfd.readouterr().err
    logged = [json.loads(line)['step'] for line in open(os.path.join(work, 'train.jsonl'))]
    assert max(logged) <= 45                             # stopped one call after the save
    with ckpt_lib.Checkpoints(work, read_only=True) as ckpts:
      assert ckpts.latest() == ('preemption', 20)
      ckpts.restore(trainer.abstract_state())            # intact: checksums verified
    # Again, with the real free-space check: refused before anything is written.
    monkeypatch.undo()
    with pytest.raises(ckpt_lib.CheckpointError, match=r'needs about [\d.]+ MB, [\d.]+ MB free'):
      loop.train(c, work, _source(c), trainer=trainer)
    assert _tmp_entries(work) == []
    _remount(fs, 'size=4m')
    resumed = loop.train(c, work, _source(c), trainer=trainer)
    _assert_same_state(reference, resumed)
    logged = [json.loads(line)['step'] for line in open(os.path.join(work, 'train.jsonl'))]
    assert logged == list(range(5, 61, 5))


def test_temporary_folders_of_a_killed_write_are_removed_at_start(tmp_path, capsys):
  """A `STEP.orbax-checkpoint-tmp` folder (what a process killed mid-write leaves) is removed
  when the next training process opens the checkpoints, and it says so."""
  leftover = tmp_path / 'checkpoints-meta' / '20.orbax-checkpoint-tmp'
  (leftover / 'default').mkdir(parents=True)
  with ckpt_lib.Checkpoints(str(tmp_path)) as ckpts:
    assert ckpts.latest() is None
  assert not leftover.exists()
  assert 'removed the unfinished checkpoint write' in capsys.readouterr().err


# ---------------------------------------------------------------- integrity


def _flip_byte(step_dir):
  d = os.path.join(step_dir, 'default', 'ocdbt.process_0', 'd')
  path = max((os.path.join(d, f) for f in os.listdir(d)), key=os.path.getsize)
  data = bytearray(open(path, 'rb').read())
  data[len(data) // 2] ^= 0x01
  open(path, 'wb').write(bytes(data))


def test_flipped_byte_is_detected_at_restore(tmp_path, trainer):
  """One bit flipped in a checkpoint's data file: restoring it is a CheckpointError naming
  the checkpoint and the array; with fallback (training.restore_fallback) the previous
  checkpoint is restored instead and is intact."""
  c = tiny_config()
  loop.train(c, str(tmp_path), _source(c), max_steps=40, trainer=trainer)
  _flip_byte(str(tmp_path / 'checkpoints' / '40'))
  abstract = trainer.abstract_state()
  with ckpt_lib.Checkpoints(str(tmp_path), read_only=True) as ckpts:
    with pytest.raises(ckpt_lib.CheckpointError,
                       match=f'checkpoint {tmp_path}/checkpoints/40 is corrupt: .*'
                       r'\(\w+(/\w+)+\) do not match'):
      ckpts.restore(abstract)
    state = ckpts.restore(abstract, fallback=True)
  assert int(state.step) == 20


# ---------------------------------------------------------------- errors printed last


def _main(workdir, *extra, **kw):
  cmd = [sys.executable, os.path.join(ROOT, 'main.py'), '--config',
         os.path.join(ROOT, 'configs/toy/gmm_vp.py'), '--workdir', str(workdir),
         '--config.model.nf=32', '--config.model.num_layers=1', '--config.training.batch_size=64',
         '--config.training.n_jitted_steps=5', '--config.training.snapshot_freq=40',
         '--config.training.snapshot_freq_for_preemption=20',
         '--config.training.snapshot_sampling=False', *extra]
  return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, **kw)


def _last_line(text):
  return [line for line in text.splitlines() if line.strip()][-1]


@pytest.mark.slow
def test_failed_restores_print_the_cause_last(tmp_path, trainer):
  """main.py with another width (model.nf changed) than the workdir was trained with: exit
  status 1, the last line of stderr is the ConfigMismatchError naming the field and both values
  (the guard stops it before any checkpoint is opened); on a checkpoint missing its
  manifest.ocdbt, the CheckpointError naming the checkpoint. No 'Event loop is closed'
  traceback is printed."""
  c = tiny_config()
  loop.train(c, str(tmp_path), _source(c), max_steps=20, trainer=trainer)
  same = ('--config.training.n_iters=40', f'--config.optim.warmup={c.optim.warmup}')
  r = _main(tmp_path, *same, '--config.model.nf=16')
  assert r.returncode == 1, r.stderr[-3000:]
  assert _last_line(r.stderr).startswith(
      f'ConfigMismatchError: {tmp_path} was trained with another config (1 field(s) differ: '
      'model.nf: workdir 32, given 16)'), r.stderr[-3000:]
  assert 'Event loop is closed' not in r.stderr and 'Traceback' not in r.stderr
  os.remove(tmp_path / 'checkpoints-meta' / '20' / 'default' / 'manifest.ocdbt')
  r = _main(tmp_path, *same)
  assert r.returncode == 1, r.stderr[-3000:]
  assert _last_line(r.stderr).startswith(
      f'CheckpointError: checkpoint {tmp_path}/checkpoints-meta/20 exists but cannot be read'), \
      r.stderr[-3000:]
  assert 'Event loop is closed' not in r.stderr and 'Traceback' not in r.stderr


# ---------------------------------------------------------------- preemption


class SignalAt:
  """A data source that sends `sig` to this process when the batch of step `at` is read,
  i.e. while the call containing that step is being prepared."""

  def __init__(self, src, at, sig):
    self.src, self.at, self.sig = src, at, sig

  def batch(self, step):
    if step == self.at:
      os.kill(os.getpid(), self.sig)
    return self.src.batch(step)


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_signal_checkpoints_the_current_step_and_resume_is_exact(tmp_path, sig, trainer,
                                                                 reference):
  """SIGTERM / SIGINT during step 33: the call in flight (steps 31-35) finishes, a preemption
  checkpoint of step 35 is written, Preempted says so; the resumed run ends bit-identical to
  an uninterrupted one."""
  c = tiny_config()
  work = str(tmp_path / 'run')
  with pytest.raises(preemption.Preempted, match=f'{sig.name}: stopped at step 35; '
                     f'checkpoint {work}/checkpoints-meta/35 written'):
    loop.train(c, work, SignalAt(_source(c), 33, sig), trainer=trainer)
  assert signal.getsignal(sig) is not None and signal.getsignal(signal.SIGTERM) != \
      signal.getsignal(signal.SIGINT)    # the handlers are restored
  with ckpt_lib.Checkpoints(work, read_only=True) as ckpts:
    assert ckpts.latest() == ('preemption', 35)
  resumed = loop.train(c, work, _source(c), trainer=trainer)
  _assert_same_state(reference, resumed)


@pytest.mark.slow
def test_sigterm_to_main_exits_with_the_preemption_status(tmp_path):
  """SIGTERM to a training `main.py`: one line saying where the checkpoint is, the last line
  of stderr, exit status preemption.EXIT_CODE, a checkpoint at a step that is no multiple of
  the checkpoint frequencies."""
  work = tmp_path / 'run'
  log = open(tmp_path / 'log', 'w')
  p = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, 'main.py'), '--config',
       os.path.join(ROOT, 'configs/toy/gmm_vp.py'), '--workdir', str(work),
       '--config.model.nf=32', '--config.model.num_layers=1', '--config.training.batch_size=64',
       '--config.training.n_jitted_steps=1', '--config.training.n_iters=100000',
       '--config.training.log_freq=1', '--config.training.snapshot_freq=100000',
       '--config.training.snapshot_freq_for_preemption=100000',
       '--config.training.snapshot_sampling=False'],
      cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
  jsonl = work / 'train.jsonl'
  deadline = time.time() + 240
  while time.time() < deadline and p.poll() is None:
    if jsonl.exists() and jsonl.stat().st_size > 0:
      break
    time.sleep(0.05)
  assert p.poll() is None, open(tmp_path / 'log').read()[-3000:]
  p.send_signal(signal.SIGTERM)
  assert p.wait(timeout=120) == preemption.EXIT_CODE, open(tmp_path / 'log').read()[-3000:]
  last = _last_line(open(tmp_path / 'log').read())
  steps = os.listdir(work / 'checkpoints-meta')
  assert len(steps) == 1 and steps[0].isdigit(), steps
  assert last == (f'SIGTERM: stopped at step {steps[0]}; checkpoint '
                  f'{work}/checkpoints-meta/{steps[0]} written. Run the same command to resume')


def test_second_signal_stops_at_once():
  """Inside a PreemptionWatch the first SIGINT only sets the flag; the second gets the
  handler that was there before (Python's default here: KeyboardInterrupt), which the
  watch restores on exit. (pytest-xdist workers ignore SIGINT, so the test installs
  Python's default handler first and puts the worker's back afterwards.)"""
  outer = signal.signal(signal.SIGINT, signal.default_int_handler)
  try:
    with preemption.PreemptionWatch() as watch:
      os.kill(os.getpid(), signal.SIGINT)
      assert watch.reached(0) and watch.signal_name == 'SIGINT'
      with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
  finally:
    signal.signal(signal.SIGINT, outer)


# ---------------------------------------------------------------- bad config values


BAD_VALUES = [  # (config, field, value, the allowed range as the message states it)
    ('toy', 'optim.lr', -0.002, '(0, inf)'),
    ('toy', 'optim.lr', float('nan'), '(0, inf)'),
    ('toy', 'model.ema_rate', 1.5, '[0, 1]'),
    ('toy', 'optim.warmup', -1, '[0, inf)'),
    ('toy', 'optim.grad_clip', 0., '(0, inf) or (-inf, 0): a negative value disables clipping'),
    ('toy', 'optim.beta1', 1., '[0, 1)'),
    ('toy', 'sampling.snr', 0., '(0, inf)'),
    ('toy', 'sampling.eps', 1., '(0, 1): t runs in [eps, T], T = 1'),
    ('toy', 'sampling.eps', 0., '(0, 1): t runs in [eps, T], T = 1'),
    ('toy', 'eval.rtol', -1e-5, '(0, inf)'),
    ('toy', 'model.sigma_min', 0., '(0, inf)'),
    ('digits', 'model.dropout', 1.5, '[0, 1)'),
    ('digits', 'data.image_size', 0, 'a positive integer'),
    ('digits', 'model.ch_mult', (1, 0), 'a sequence of positive integers'),
    ('digits', 'model.nf', -8, 'a positive integer'),
]


@pytest.mark.parametrize('which,field,value,allowed', BAD_VALUES)
def test_bad_value_is_refused_naming_field_value_and_range(which, field, value, allowed):
  """Each out-of-range value is a ConfigError whose message names the field, the value and
  the allowed range."""
  c = (gmm_vp if which == 'toy' else ddpmpp_vp).get_config()
  section, name = field.split('.')
  c[section][name] = value
  with pytest.raises(config_checks.ConfigError) as err:
    config_checks.validate(c)
  assert f'config.{field}={value!r}' in str(err.value)
  assert allowed in str(err.value)


def test_ordered_fields_and_unknown_toy_dataset():
  """sigma_min must be below sigma_max; an unknown dataset in a toy config is blamed on
  config.data.dataset (not on a field the toy configs lack)."""
  c = gmm_vp.get_config()
  c.model.sigma_min = 20.
  with pytest.raises(config_checks.ConfigError, match='config.model.sigma_min=20.0 must be '
                     'below config.model.sigma_max=10.0'):
    config_checks.validate(c)
  c = gmm_vp.get_config()
  c.data.dataset = 'spirals'
  with pytest.raises(config_checks.ConfigError, match="config.data.dataset='spirals' is not "
                     "allowed; allowed: gmm, checkerboard, moons, DIGITS"):
    config_checks.validate(c)


@pytest.mark.slow
@pytest.mark.parametrize('override,shown', [
    ('--config.optim.lr=-0.002', 'config.optim.lr=-0.002 is out of range; allowed: (0, inf)'),
])
def test_main_refuses_bad_value_before_writing(tmp_path, override, shown):
  """main.py with a bad value: exit status 1, the message as the last line, no workdir."""
  r = _main(tmp_path / 'run', override)
  assert r.returncode == 1
  assert _last_line(r.stderr) == f'ConfigError: {shown}'
  assert not (tmp_path / 'run').exists()


# ---------------------------------------------------------------- outputs and NaN


@pytest.fixture(scope='module')
def trained(tmp_path_factory, trainer):
  workdir = tmp_path_factory.mktemp('toy')
  c = tiny_config()
  c.eval.num_samples = c.eval.batch_size = 50
  c.data.num_test = 40
  loop.train(c, str(workdir), _source(c), max_steps=20, trainer=trainer)
  return c, workdir


def _never(*args, **kwargs):
  raise AssertionError('computed before checking its outputs')


def test_missing_workdir_is_an_error_that_creates_nothing(tmp_path):
  """sample, likelihood and eval on a workdir that does not exist: FileNotFoundError; the
  workdir is still absent afterwards."""
  missing = tmp_path / 'nope'
  for mode in (runs.sample, runs.likelihood):
    with pytest.raises(FileNotFoundError, match='does not exist'):
      mode(tiny_config(), str(missing))
  from tests.test_eval import tiny_digits_config
  with pytest.raises(FileNotFoundError, match='does not exist'):
    runs.evaluate(tiny_digits_config(), str(missing))
  assert not missing.exists()


def test_unwritable_outputs_fail_before_computing(trained, tmp_path, monkeypatch):
  """On a read-only filesystem sample and likelihood raise OutputError before building a
  sampler or a likelihood (both replaced here by functions that fail the test)."""
  c, workdir = trained
  with tmpfs(tmp_path / 'ro', '2m') as fs:
    import shutil
    shutil.copytree(workdir, fs / 'run')
    _remount(fs, 'ro')
    monkeypatch.setattr(runs.samplers, 'get_sampler', _never)
    monkeypatch.setattr(runs, '_loglik_fn', _never)
    with pytest.raises(runs.OutputError, match=f'cannot write to {fs}/run/samples'):
      runs.sample(c, str(fs / 'run'))
    with pytest.raises(runs.OutputError, match=f'cannot write to {fs}/run '):
      runs.likelihood(c, str(fs / 'run'))


def test_nan_parameters_and_samples_are_refused(trained, tmp_path, monkeypatch, trainer):
  """A checkpoint with NaN EMA parameters: sample and likelihood raise FloatingPointError
  naming the step, before computing; a sampler that returns NaN: FloatingPointError naming
  the sampling settings, and no sample file is written."""
  c, workdir = trained
  bad = tmp_path / 'nan'
  state = trainer.init_state()
  state = state.replace(ema_params=jax.tree.map(lambda x: x * np.nan, state.ema_params))
  with ckpt_lib.Checkpoints(str(bad), async_save=False) as ckpts:
    ckpts.save('snapshot', state)
  run_config.record(c, str(bad))
  for mode in (runs.sample, runs.likelihood):
    with pytest.raises(FloatingPointError, match='EMA parameters of the checkpoint at step 0 '
                       'are not finite'):
      mode(c, str(bad))
  monkeypatch.setattr(runs.samplers, 'get_sampler',
                      lambda *a: lambda rng, params: (np.full((50, 2), np.nan), 10))
  with pytest.raises(FloatingPointError, match=r"samples of round 0: 100 of 100 values are NaN "
                     r"or inf \(sampling.method='pc'"):
    runs.sample(c, str(workdir))
  assert not os.listdir(workdir / 'samples')


def test_likelihood_prints_before_writing(trained, capsys, monkeypatch):
  """The likelihood figure is printed even when writing likelihood.json fails."""
  c, workdir = trained

  def fail(path, obj):
    raise OSError(28, 'No space left on device')
  monkeypatch.setattr(runs, '_write_json_atomic', fail)
  with pytest.raises(OSError):
    runs.likelihood(c, str(workdir))
  printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
  assert np.isfinite(printed['nll']) and printed['step'] == 20


# ---------------------------------------------------------------- smaller items


def test_metric_log_drops_steps_redone_after_resume(tmp_path):
  """MetricWriter(resume_step=N) keeps the records of steps <= N (and drops a cut line)."""
  path = tmp_path / 'train.jsonl'
  path.write_text(''.join(json.dumps({'step': s, 'loss': 1.}) + '\n' for s in (10, 20, 30))
                  + '{"step": 4')
  w = MetricWriter(str(tmp_path), 'train', resume_step=20)
  w.write(30, loss=2.)
  w.close()
  assert [json.loads(line)['step'] for line in open(path)] == [10, 20, 30]


def test_data_dir_is_a_field_passed_to_tfds(monkeypatch):
  """data.data_dir exists in the image configs ('' = TFDS default) and reaches the source."""
  import data
  from configs.vp import cifar10_ddpmpp_continuous
  from data import sources
  seen = {}

  class Source:
    def __init__(self, *args, data_dir=None, **kwargs):
      seen['data_dir'] = data_dir
  monkeypatch.setattr(sources, 'TfdsSource', Source)
  c = cifar10_ddpmpp_continuous.get_config()
  assert c.data.data_dir == ''
  data._make_source(c, 'CIFAR10', 'train', 32, 3, None)
  assert seen['data_dir'] is None
  c.data.data_dir = '/data/tfds'
  data._make_source(c, 'CIFAR10', 'train', 32, 3, None)
  assert seen['data_dir'] == '/data/tfds'
