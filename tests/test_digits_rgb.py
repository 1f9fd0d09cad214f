"""The tinted digits (data.digits_rgb, 'DIGITS_RGB'): the known colour, and colorize on them.

The known answer: each pixel is the grey digit's level k times the tint of the
digit's class, every tint's components summing to 3, so the channel mean of an
image in [0, 1] is exactly GREY_SCALE = 1/3 of the grey digit in [0, 1], and
the tint is recoverable from the colour image.
"""
import numpy as np
import pytest

import data
from configs.digits import ddpmpp_vp_rgb
from data import digits, digits_rgb
from data import labelled
from evaluation import controllable
from test_controllable_cli import _outputs, save_initial


def _split(name, split, channels):
  c = ddpmpp_vp_rgb.get_config()
  c.data.dataset, c.data.num_channels, c.data.centered = name, channels, False
  ds = data.get_dataset(c, split, evaluation=True, uniform_dequantization=False,
                        batch_size=500, process_index=0, process_count=1)
  return np.concatenate([x[m] for x, m in ds.epoch_batches()]).astype(np.float64)


@pytest.mark.parametrize('split', ['train', 'test'])
def test_channel_mean_is_the_grey_digit_scaled_by_a_third(split):
  """Read through data.get_dataset (no dequantisation, [0, 1]): 3-channel images of the split's
  size whose channel mean equals GREY_SCALE (= 1/3) times the DIGITS image in [0, 1], pixel by
  pixel, and whose channels are that grey times the tint of the digit's class."""
  rgb = _split('DIGITS_RGB', split, 3)
  grey = _split('DIGITS', split, 1)
  assert rgb.shape == (len(grey), 8, 8, 3)
  assert digits_rgb.GREY_SCALE == pytest.approx(1. / 3.)
  np.testing.assert_allclose(rgb.mean(-1), digits_rgb.GREY_SCALE * grey[..., 0], atol=1e-6)
  tints = digits_rgb.TINTS[digits.load_split(split)[1]].astype(np.float64)
  np.testing.assert_allclose(rgb, grey * tints[:, None, None, :] / 3., atol=1e-6)
  assert rgb.max() == pytest.approx(1.) and rgb.min() == 0.


def test_tints_sum_to_three_are_distinct_and_read_back():
  """The ten tints are all compositions of 3 into three parts; `tint_index` finds each test
  image's class tint exactly, and the data's num_levels is 49 (levels 0..48 all used up to 48);
  the labelled dataset's labels are the digits' own."""
  assert len({tuple(t) for t in digits_rgb.TINTS}) == 10
  assert (digits_rgb.TINTS.sum(-1) == 3).all()
  images, labels = digits_rgb.load_split('test')
  assert images.max() == 48 and images.dtype == np.uint8
  np.testing.assert_array_equal(digits_rgb.tint_index(images / 48.), labels)
  c = ddpmpp_vp_rgb.get_config()
  assert data.num_levels(c) == 49
  c.training.batch_size, c.data.uniform_dequantization = 16, False
  x, y = labelled.get_labelled_dataset(c, 'train', process_index=0, process_count=1).batch(3)
  assert x.shape == (16, 8, 8, 3)
  np.testing.assert_array_equal(digits_rgb.tint_index((np.asarray(x) + 1.) / 2.), y)


def test_grey_to_three_channels_reads_as_white_and_blank_is_white():
  """An image with equal channels is the white tint (index 9); an all-black one too (defined)."""
  grey = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).repeat(3, -1)
  np.testing.assert_array_equal(digits_rgb.tint_index(grey), 9)
  np.testing.assert_array_equal(digits_rgb.tint_index(np.zeros((2, 8, 8, 3))), 9)
  with pytest.raises(ValueError, match='images must be'):
    digits_rgb.tint_index(np.zeros((2, 8, 8, 1)))


@pytest.mark.slow
def test_colorize_cli_accepts_the_rgb_config(tmp_path):
  """--mode colorize with configs/digits/ddpmpp_vp_rgb.py (tiny untrained network, 25 PC steps,
  6 test digits): the truth is the tinted test split, its channel mean the given grey; the
  record carries the tint accuracy beside the grey and random-tint baselines, all fractions,
  and the random tint's RMS error."""
  c = ddpmpp_vp_rgb.get_config()
  m = c.model
  m.nf, m.ch_mult, m.num_res_blocks, m.attn_resolutions, m.num_scales = 8, (1,), 1, (), 25
  c.controllable.num_samples, c.eval.batch_size = 6, 6
  workdir = str(tmp_path)
  save_initial(c, workdir, classifier=False)
  record = controllable.run('colorize', c, workdir)
  arrays, stored = _outputs(workdir, 'colorize')
  truth = (arrays['truth'].astype(np.float64) + 1.) / 2.
  np.testing.assert_array_equal(digits_rgb.tint_index(truth), digits.load_split('test')[1][:6])
  np.testing.assert_allclose(arrays['truth'].mean(-1), arrays['gray'][..., 0], atol=1e-6)
  assert arrays['result'].shape == (6, 8, 8, 3) and record['nfe'] == 25
  assert np.all(np.isfinite(arrays['result']))
  assert stored['tint_accuracy'] == record['tint_accuracy']
  for value in (record['tint_accuracy'], record['baseline_grey_tint_accuracy'],
                record['baseline_random_tint']['tint_accuracy']):
    assert 0. <= value <= 1.
  assert record['baseline_random_tint']['rmse'] > 0 and record['baseline']['rmse'] > 0
