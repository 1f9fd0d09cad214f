"""The training loop: exact resume (also after SIGKILL), NaN handling, bad checkpoints, sharding.

Runs a tiny MLP on the 2-D toy data so each run takes seconds.
"""
import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from configs.toy import gmm_vp
from data.toy import ToyDataset
from experiment import checkpoints as ckpt_lib
from training import loop

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_config(**training):
  c = gmm_vp.get_config()
  c.model.nf = 32
  c.model.num_layers = 1
  c.training.batch_size = 64
  c.training.n_iters = 200
  c.training.n_jitted_steps = 10
  c.training.log_freq = 10
  c.training.snapshot_freq = 100
  c.training.snapshot_freq_for_preemption = 20
  c.training.snapshot_sampling = False
  c.optim.warmup = 10
  for k, v in training.items():
    setattr(c.training, k, v)
  return c


def _leaves(state):
  return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(state))]


def _assert_same_state(a, b):
  for x, y in zip(a, b, strict=True):
    np.testing.assert_array_equal(x, y)


@pytest.mark.slow
def test_resume_continues_exactly(tmp_path):
  """Stopping at step 60 and starting again gives the state of an uninterrupted 200-step run."""
  c = tiny_config()
  src = ToyDataset(c.data.dataset, c.seed, c.training.batch_size)
  full = loop.train(c, str(tmp_path / 'full'), src)
  loop.train(c, str(tmp_path / 'split'), src, max_steps=60)
  with ckpt_lib.Checkpoints(str(tmp_path / 'split'), async_save=False) as ckpts:
    assert ckpts.latest() == ('preemption', 60)
  resumed = loop.train(c, str(tmp_path / 'split'), src)
  assert int(resumed.step) == 200
  _assert_same_state(_leaves(full), _leaves(resumed))
  # Snapshots are kept (all of them), the preemption checkpoint only once.
  assert sorted(os.listdir(tmp_path / 'full' / 'checkpoints')) == ['100', '200']
  assert os.listdir(tmp_path / 'full' / 'checkpoints-meta') == ['180']


class NaNAfter:
  """A data source whose batches become NaN from step `bad` on."""

  def __init__(self, src, bad):
    self.src, self.bad = src, bad

  def batch(self, step):
    x = self.src.batch(step)
    return x * np.nan if step >= self.bad else x


def test_nan_loss_stops_naming_the_step_and_keeps_last_checkpoint(tmp_path):
  """A NaN loss at step 125 raises FloatingPointError naming it; checkpoint 120 survives."""
  c = tiny_config()
  src = NaNAfter(ToyDataset(c.data.dataset, c.seed, c.training.batch_size), bad=124)
  with pytest.raises(FloatingPointError, match='at step 125'):
    loop.train(c, str(tmp_path), src)
  with ckpt_lib.Checkpoints(str(tmp_path), async_save=False) as ckpts:
    assert ckpts.latest() == ('preemption', 120)
    state = ckpts.restore(loop.Trainer(c).abstract_state())
  assert all(np.all(np.isfinite(x)) for x in _leaves(state.params))


def test_unreadable_checkpoint_is_an_error(tmp_path):
  """A complete-looking checkpoint that cannot be read stops the run; it never restarts from 0."""
  c = tiny_config(n_iters=40)
  src = ToyDataset(c.data.dataset, c.seed, c.training.batch_size)
  loop.train(c, str(tmp_path), src)
  step_dir = tmp_path / 'checkpoints' / '40'
  for root, _, files in os.walk(step_dir):
    for f in files:
      if not f.startswith('_') and f != 'commit_success.txt':
        with open(os.path.join(root, f), 'wb') as fh:
          fh.write(b'garbage')
  with pytest.raises(ckpt_lib.CheckpointError, match='cannot be read'):
    loop.train(tiny_config(n_iters=60), str(tmp_path), src)


def _run_main(workdir, extra=(), env=None):
  cmd = [sys.executable, os.path.join(ROOT, 'main.py'), '--config',
         os.path.join(ROOT, 'configs/toy/gmm_vp.py'), '--workdir', str(workdir),
         '--config.model.nf=32', '--config.model.num_layers=1', '--config.training.batch_size=64',
         '--config.training.n_iters=200', '--config.training.n_jitted_steps=5',
         '--config.training.snapshot_freq=100', '--config.training.snapshot_freq_for_preemption=10',
         '--config.training.snapshot_sampling=False', *extra]
  # stderr to a file: a pipe nobody reads would fill up and block the child.
  log = open(os.path.join(os.path.dirname(str(workdir)), os.path.basename(str(workdir)) + '.log'), 'a')
  p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
  p.log_path = log.name
  return p


def _tail(p):
  with open(p.log_path) as f:
    return f.read()[-3000:]


def _final_params(workdir, step=200):
  c = tiny_config()
  c.training.n_jitted_steps = 5
  with ckpt_lib.Checkpoints(str(workdir), async_save=False) as ckpts:
    return _leaves(ckpts.restore(loop.Trainer(c).abstract_state(), kind='snapshot', step=step))


@pytest.mark.slow
def test_sigkill_and_restart_match_an_uninterrupted_run(tmp_path):
  """SIGKILL a training process twice and restart it with the same command: the first kill
  lands while orbax is writing a checkpoint (its temporary directory exists), the second
  between checkpoints. The final state is bit-identical to an uninterrupted run's."""
  # The four processes run the same programs: a persistent compilation cache spares the last
  # three the compiles (as it would a user's restarts), and the cached code is the same.
  env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(tmp_path / 'jax_cache'),
             JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0')
  ref = _run_main(tmp_path / 'ref', env=env)
  assert ref.wait(timeout=600) == 0, _tail(ref)
  work = tmp_path / 'killed'
  meta = work / 'checkpoints-meta'
  killed_mid_write = False
  for attempt in range(2):
    p = _run_main(work, env=env)
    deadline = time.time() + 300
    while time.time() < deadline and p.poll() is None:
      entries = os.listdir(meta) if meta.exists() else []
      if attempt == 0 and any('tmp' in e for e in entries):
        killed_mid_write = True      # a checkpoint is being written right now
        break
      if attempt == 1 and any(e.isdigit() for e in entries):
        time.sleep(0.3)
        break
      time.sleep(0.002)
    assert p.poll() is None, 'the run ended before it could be killed'
    p.send_signal(signal.SIGKILL)
    p.wait()
  assert killed_mid_write, 'never saw a checkpoint being written'
  p = _run_main(work, env=env)
  assert p.wait(timeout=600) == 0, _tail(p)
  _assert_same_state(_final_params(tmp_path / 'ref'), _final_params(work))


SHARDING_SCRIPT = r'''
import json, sys
sys.path.insert(0, {root!r})
from utils import xla_flags; xla_flags.configure()
import jax, numpy as np
from configs.toy import gmm_vp
from data.toy import ToyDataset
from training import loop
c = gmm_vp.get_config()
c.model.nf = 32; c.model.num_layers = 1
c.training.batch_size = 64; c.training.n_iters = 30; c.training.n_jitted_steps = 10
c.training.snapshot_freq = 30; c.training.snapshot_freq_for_preemption = 30
c.training.snapshot_sampling = False
src = ToyDataset(c.data.dataset, c.seed, c.training.batch_size)
state = loop.train(c, sys.argv[1], src)
losses = [json.loads(l)['loss'] for l in open(sys.argv[1] + '/train.jsonl')]
print(json.dumps({{'devices': jax.device_count(), 'losses': losses,
                  'params': [np.asarray(x).ravel().tolist() for x in jax.tree.leaves(state.params)]}}))
'''


@pytest.mark.slow
def test_eight_devices_match_one(tmp_path):
  """8 faked CPU devices (batch sharded on `data`) and 1 device give the same losses and
  parameters for the same global batch and seed (float32 reduction-order tolerance)."""
  script = tmp_path / 'run.py'
  script.write_text(SHARDING_SCRIPT.format(root=ROOT))
  out = {}
  for n in (1, 8):
    env = dict(os.environ, XLA_FLAGS=f'--xla_force_host_platform_device_count={n}')
    r = subprocess.run([sys.executable, str(script), str(tmp_path / f'w{n}')], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out[n] = json.loads(r.stdout.strip().splitlines()[-1])
  assert out[1]['devices'] == 1 and out[8]['devices'] == 8
  np.testing.assert_allclose(out[8]['losses'], out[1]['losses'], rtol=1e-4)
  for a, b in zip(out[8]['params'], out[1]['params'], strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def _digits_config(**training):
  from configs.digits import ddpmpp_vp
  c = ddpmpp_vp.get_config()
  for k, v in training.items():
    setattr(c.training, k, v)
  return c


def test_final_snapshot_left_to_the_eval_only_when_the_eval_samples_it():
  """The digits main job (3000 steps, snapshots every 1500, eval of snapshot 2 at the end)
  leaves the last snapshot's samples to its eval; any config whose eval does not sample
  that snapshot keeps the grid."""
  assert loop.final_snapshot_sampled_by_eval(_digits_config())
  assert not loop.final_snapshot_sampled_by_eval(_digits_config(eval_at_end=False))
  assert not loop.final_snapshot_sampled_by_eval(_digits_config(n_iters=3100))
  c = _digits_config()
  c.eval.enable_sampling = False
  assert not loop.final_snapshot_sampled_by_eval(c)
  c = _digits_config()
  c.eval.end_ckpt = 1
  assert not loop.final_snapshot_sampled_by_eval(c)
  assert not loop.final_snapshot_sampled_by_eval(tiny_config(snapshot_sampling=True))


def test_train_mode_samples_every_snapshot_but_the_one_its_eval_samples(tmp_path, monkeypatch):
  """`loop.run` passes `train` a snapshot hook that skips exactly the last step when the eval
  that follows samples it, and no other."""
  sampled = []
  monkeypatch.setattr(loop, 'make_snapshot_sampler',
                      lambda config, workdir, exp=None: lambda state, step: sampled.append(step))

  def fake_train(config, workdir, source, on_snapshot=None, **kwargs):
    for step in range(config.training.snapshot_freq, config.training.n_iters + 1,
                      config.training.snapshot_freq):
      on_snapshot(None, step)

  monkeypatch.setattr(loop, 'train', fake_train)
  loop.run(_digits_config(), str(tmp_path / 'a'))
  assert sampled == [1500]
  sampled.clear()
  loop.run(_digits_config(eval_at_end=False), str(tmp_path / 'b'))
  assert sampled == [1500, 3000]


def test_initial_state_compiled_unoptimised_is_bit_identical():
  """Trainer.init_state (compiled without backend optimisation on CPU, it runs once) gives
  the same bits as the default compilation of the same function."""
  from experiment import Experiment
  c = _digits_config()
  c.model.nf, c.model.num_res_blocks = 16, 1
  ours = loop.Trainer(c).init_state()
  reference = jax.jit(Experiment(c).init_state)(jax.random.PRNGKey(c.seed))
  _assert_same_state(_leaves(ours), _leaves(reference))
