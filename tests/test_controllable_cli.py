"""main.py --mode inpaint | colorize | conditional on tiny digits networks: files, shapes, errors.

The networks are untrained (initial parameters, checkpointed as training
does; training itself is tested in tests/test_classifier.py): these tests
check the plumbing (checkpoints read, PNG + npz + json written, known pixels
and greys kept, bad requests refused with a clear message), not sample
quality; the samplers themselves are tested against exact conditionals
elsewhere.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from configs.digits import ddpmpp_vp
from data import digits
from evaluation import controllable
from models import classifier as classifier_lib
from experiment import checkpoints as ckpt_lib, run_config
from training import classifier as train_classifier
from training import loop

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def tiny_config(channels=1):
  c = ddpmpp_vp.get_config()
  m = c.model
  m.nf, m.ch_mult, m.num_res_blocks, m.attn_resolutions = 8, (1,), 1, ()
  m.num_scales = 25                      # 25 PC steps
  t = c.training
  t.n_iters = t.snapshot_freq = t.snapshot_freq_for_preemption = 2
  t.batch_size, t.snapshot_sampling, t.eval_at_end = 8, False, False
  k = c.classifier
  k.blocks_per_group, k.channel_multiplier, k.embedding_size = 1, 1, 8
  k.n_iters = k.snapshot_freq = 2
  k.batch_size = 8
  c.controllable.num_samples = 6
  c.eval.batch_size = 4                  # two rounds, the last one padded
  c.data.num_channels = channels
  return c


def tinted_digits(n, seed=0):
  """Digits tinted with a random colour each, (n, 8, 8, 3) in [0, 1]: the grey level times a
  colour; its channel mean is the colour's mean times the grey level."""
  levels, _ = digits.load_split('test')
  colours = np.random.default_rng(seed).uniform(0.2, 1., (n, 1, 1, 3))
  return (levels[:n].astype(np.float64) / 16. * colours).astype(np.float32)


def save_initial(config, workdir, classifier=True):
  """Checkpoints of the untrained score model (and classifier) as training writes them: the
  modes read them the same way, without the cost of compiling a training step."""
  with ckpt_lib.Checkpoints(workdir, async_save=False) as ckpts:
    ckpts.save('snapshot', loop.Trainer(config).init_state())
  run_config.record(config, workdir)
  if classifier:
    directory = classifier_lib.classifier_workdir(config, workdir)
    trainer = train_classifier.ClassifierTrainer(train_classifier.training_config(config))
    with ckpt_lib.Checkpoints(directory, async_save=False) as ckpts:
      ckpts.save('snapshot', trainer.init_state())
    classifier_lib.write_identity(config, directory)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('controllable'))
  c = tiny_config()
  save_initial(c, workdir)
  return c, workdir


def _outputs(workdir, mode):
  prefix = os.path.join(workdir, 'controllable', mode)
  with open(prefix + '.png', 'rb') as f:
    assert f.read(8) == PNG_MAGIC
  with open(prefix + '.json') as f:
    record = json.load(f)
  return dict(np.load(prefix + '.npz')), record


@pytest.mark.slow
def test_inpaint_writes_grid_npz_and_keeps_the_known_pixels(trained):
  """Inpainting the first 6 test digits with the left half known: the result equals the truth
  on the known pixels (to float32 rounding), the grid has 4 panels per row (mask | observed |
  result | truth), and the masked-pixel error is reported beside the unconditional baseline."""
  c, workdir = trained
  record = controllable.run('inpaint', c, workdir)
  arrays, stored = _outputs(workdir, 'inpaint')
  assert stored['rmse_masked'] == record['rmse_masked']
  assert arrays['result'].shape == arrays['truth'].shape == arrays['mask'].shape == (6, 8, 8, 1)
  known = arrays['mask'] == 1
  assert known[:, :, :4].all() and not known[:, :, 4:].any()
  np.testing.assert_allclose(arrays['result'][known], arrays['truth'][known], atol=1e-6)
  assert np.isfinite(record['rmse_masked']) and np.isfinite(record['baseline']['rmse_masked'])
  assert 0 <= record['class_accuracy'] <= 1 and 0 <= record['baseline']['class_accuracy'] <= 1
  assert record['nfe'] == 25 and arrays['baseline'].shape == (6, 8, 8, 1)
  width, height = Image.open(os.path.join(workdir, 'controllable', 'inpaint.png')).size
  # 4 panels across, 6 images down: 8-pixel tiles with 1-pixel borders, scaled up together.
  assert width * (6 * 9 + 1) == height * (4 * 9 + 1)


@pytest.mark.slow
def test_conditional_writes_one_class_per_row_and_digits_accuracy(trained):
  """Class-conditional samples for labels 'all' (classes 0..5 for 6 samples) with the trained
  classifier: npz with samples and labels, a PNG grid, the independent classifier's accuracy
  and the unconditional baseline's, both fractions."""
  c, workdir = trained
  record = controllable.run('conditional', c, workdir)
  arrays, _ = _outputs(workdir, 'conditional')
  assert arrays['samples'].shape == (6, 8, 8, 1)
  np.testing.assert_array_equal(arrays['labels'], np.arange(6))
  assert 0. <= record['accuracy'] <= 1. and 0. <= record['baseline']['accuracy'] <= 1.
  assert record['scale'] == 1. and np.all(np.isfinite(arrays['samples']))


@pytest.mark.slow
def test_colorize_on_tinted_digits_keeps_the_grey(tmp_path):
  """A 3-channel model (tinted digits) colorizes the grey versions of tinted digits: results of
  the data's shape whose channel mean is the given grey (to float32 rounding), the error against
  the true colours and the grey-image baseline reported, a 3-panel PNG."""
  c = tiny_config(channels=3)
  workdir = str(tmp_path)
  save_initial(c, workdir, classifier=False)
  images = tmp_path / 'tinted.npz'
  np.savez(images, images=tinted_digits(6, seed=123))
  c.controllable.images = str(images)
  record = controllable.run('colorize', c, workdir)
  arrays, _ = _outputs(workdir, 'colorize')
  assert arrays['result'].shape == (6, 8, 8, 3)
  np.testing.assert_allclose(arrays['gray'], arrays['gray'][..., :1].repeat(3, -1))
  # float32 rounding scales with the colour channels, which an untrained network makes large;
  # the grey steps of the data are 2 / 16 apart in model space.
  np.testing.assert_allclose(arrays['result'].mean(-1), arrays['gray'][..., 0], atol=1e-4)
  np.testing.assert_allclose(arrays['truth'].mean(-1), arrays['gray'][..., 0], atol=1e-6)
  assert record['grey_error'] < 1e-4
  assert np.isfinite(record['rmse']) and record['baseline']['rmse'] > 0


@pytest.mark.slow
def test_conditional_on_the_probability_flow_ode(trained):
  """sampling.method='ode' runs the class-conditional probability-flow ODE sampler: samples of
  the right shape, finite, and an NFE above the solver's minimum."""
  c, workdir = trained
  c = tiny_config()
  c.sampling.method = 'ode'
  c.sampling.rtol = c.sampling.atol = 1e-2
  c.controllable.baseline = False
  record = controllable.run('conditional', c, workdir)
  arrays, _ = _outputs(workdir, 'conditional')
  assert arrays['samples'].shape == (6, 8, 8, 1) and np.all(np.isfinite(arrays['samples']))
  assert record['sampling']['method'] == 'ode' and record['nfe'] > 2


def test_colorize_of_a_one_channel_model_is_refused(tmp_path):
  """--mode colorize with a 1-channel config fails before reading anything, naming the field."""
  with pytest.raises(ValueError, match=r'config.data.num_channels=1.*allowed: data.num_channels=3'):
    controllable.run('colorize', tiny_config(), str(tmp_path))


@pytest.mark.parametrize('mode, field, value, match', [
    ('conditional', 'labels', '3,12',
     r"config.controllable.labels='3,12' holds class 12, out of range; allowed: .*0..9"),
    ('conditional', 'labels', '-1', r'holds class -1, out of range'),
    ('conditional', 'labels', 'two', r"config.controllable.labels='two' is not a label spec"),
    ('inpaint', 'mask', 'random_pixels:1.5',
     r"config.controllable.mask='random_pixels:1.5' has P=1.5, outside"),
    ('inpaint', 'mask', 'top_half',
     r"config.controllable.mask='top_half' is not a mask; allowed: center, left_half"),
    ('inpaint', 'mask', 'missing.png', r'is not an existing file'),
])
def test_bad_label_and_mask_specs_are_refused(tmp_path, mode, field, value, match):
  """Labels outside 0..num_classes-1 or not integers, unknown mask kinds, probabilities outside
  (0, 1) and missing files: errors naming the field (and the range or the allowed kinds)."""
  c = tiny_config()
  c.controllable[field] = value
  with pytest.raises(ValueError, match=match):
    controllable.run(mode, c, str(tmp_path))


def test_mask_png_of_the_wrong_shape_is_refused(tmp_path):
  """A 5x7 PNG mask for 8x8 data: an error naming the field, both shapes."""
  workdir = str(tmp_path)
  path = str(tmp_path / 'mask.png')
  Image.fromarray(np.full((5, 7), 255, np.uint8)).save(path)
  c = tiny_config()
  c.controllable.mask = path
  with pytest.raises(ValueError, match=r'is a 5x7 image \(HxW\); the data is 8x8'):
    controllable.run('inpaint', c, workdir)


def test_mask_png_is_read_white_known(tmp_path):
  """A PNG mask: white pixels known (1), black unknown (0), the same for every image/channel."""
  from utils import masks
  img = np.zeros((8, 8), np.uint8)
  img[:3] = 255
  path = str(tmp_path / 'm.png')
  Image.fromarray(img).save(path)
  m = masks.make_mask(path, (2, 8, 8, 3))
  assert m.shape == (2, 8, 8, 3) and m[:, :3].all() and not m[:, 3:].any()
  center = masks.make_mask('center', (1, 8, 8, 1))[0, ..., 0]
  assert center.sum() == 64 - 16 and not center[2:6, 2:6].any()
  rnd = masks.make_mask('random_pixels:0.25', (400, 8, 8, 1), seed=1)
  assert abs((rnd == 0).mean() - 0.25) < 0.01 and (rnd[0] != rnd[1]).any()


def test_classifier_of_another_config_is_refused(tmp_path):
  """A classifier trained for the VP SDE and channel multiplier 1 is refused for a sub-VP config
  with multiplier 2: the error lists both differing fields with both values, before any network
  is read (the record that training writes is enough)."""
  workdir = str(tmp_path)
  classifier_lib.write_identity(tiny_config(), classifier_lib.classifier_workdir(tiny_config(),
                                                                                 workdir))
  other = tiny_config()
  other.training.sde = 'subvpsde'
  other.classifier.channel_multiplier = 2
  with pytest.raises(ValueError, match=r"classifier.channel_multiplier: checkpoint 1, config 2.*"
                                       r"training.sde: checkpoint 'vpsde', config 'subvpsde'"):
    controllable.run('conditional', other, workdir)


def test_missing_classifier_is_an_error(tmp_path):
  """No classifier trained in classifier.workdir: an error saying how to train one."""
  workdir = str(tmp_path)
  c = tiny_config()
  c.classifier.workdir = str(tmp_path / 'nothing')
  with pytest.raises(FileNotFoundError, match='--mode train_classifier'):
    controllable.run('conditional', c, workdir)


def test_images_of_the_wrong_shape_are_refused(tmp_path):
  """controllable.images holding 3-channel images for a 1-channel model: an error with both."""
  workdir = str(tmp_path)
  path = str(tmp_path / 'x.npz')
  np.savez(path, images=np.zeros((4, 8, 8, 3), np.float32))
  c = tiny_config()
  c.controllable.images = path
  with pytest.raises(ValueError, match=r'images of shape \(4, 8, 8, 3\); allowed: \(n,\) \+ '
                                       r'\(8, 8, 1\)'):
    controllable.run('inpaint', c, workdir)


@pytest.mark.slow
def test_main_controllable_command_line(trained):
  """`python main.py --mode controllable` (the one command) on the tiny workdir: it resumes the
  classifier (step 0 -> 2), then inpaints and samples class-conditionally, exits 0 and writes
  PNG + npz + json for both modes."""
  _, workdir = trained
  flags = ['--config.model.nf=8', '--config.model.ch_mult=(1,)', '--config.model.num_res_blocks=1',
           '--config.model.attn_resolutions=()', '--config.model.num_scales=25',
           '--config.classifier.blocks_per_group=1', '--config.classifier.channel_multiplier=1',
           '--config.classifier.embedding_size=8', '--config.classifier.n_iters=2',
           '--config.classifier.snapshot_freq=2', '--config.classifier.batch_size=8',
           '--config.controllable.num_samples=2', '--config.controllable.mask=center',
           '--config.controllable.baseline=False', '--config.eval.batch_size=2',
           '--config.training.batch_size=8']   # the workdir's (run_config refuses another)
  out = subprocess.run([sys.executable, 'main.py', '--config', 'configs/digits/ddpmpp_vp.py',
                        '--workdir', workdir, '--mode', 'controllable'] + flags,
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  arrays, record = _outputs(workdir, 'inpaint')
  assert record['mask'] == 'center' and arrays['result'].shape == (2, 8, 8, 1)
  arrays, record = _outputs(workdir, 'conditional')
  assert arrays['samples'].shape == (2, 8, 8, 1) and record['labels'] == 'all'
  with ckpt_lib.Checkpoints(os.path.join(workdir, 'classifier'), async_save=False) as ckpts:
    assert ckpts.latest() == ('snapshot', 2)
