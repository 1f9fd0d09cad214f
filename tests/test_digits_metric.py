"""The digits Frechet distance: separates real digits from corrupted ones, deterministically."""
import numpy as np
import pytest

from data.digits import load_split
from evaluation import digits_classifier as dc


@pytest.fixture(scope='module')
def splits():
  return load_split('train'), load_split('test')


def _box_blur(levels):
  """3x3 box blur with edge padding, rounded back to integer levels."""
  x = np.pad(levels[..., 0].astype(np.float64), ((0, 0), (1, 1), (1, 1)), mode='edge')
  blurred = sum(x[:, i:i + 8, j:j + 8] for i in range(3) for j in range(3)) / 9.
  return np.rint(blurred).astype(np.uint8)[..., None]


def test_shipped_classifier_is_accurate(splits):
  """The shipped weights classify the held-out test split with >= 95% accuracy, so the
  penultimate features carry what makes a digit a digit."""
  _, (test_images, test_labels) = splits
  assert np.mean(dc.classify(test_images) == test_labels) >= 0.95


def test_real_vs_real_far_below_real_vs_corrupted(splits):
  """Train vs test digits score far lower (< 1/10) than train digits vs per-pixel uniform
  noise, vs blurred test digits and vs test digits with their pixels shuffled."""
  (train_images, _), (test_images, _) = splits
  rng = np.random.default_rng(0)
  n = len(test_images)
  noise = rng.integers(0, 17, size=(n, 8, 8, 1), dtype=np.uint8)
  shuffled = test_images.reshape(n, 64)[np.arange(n)[:, None], rng.permuted(
      np.tile(np.arange(64), (n, 1)), axis=1)].reshape(n, 8, 8, 1)
  real = dc.digits_frechet_distance(train_images, test_images)
  for name, fake in [('noise', noise), ('blurred', _box_blur(test_images)), ('shuffled', shuffled)]:
    corrupted = dc.digits_frechet_distance(train_images, fake)
    assert 10. * real < corrupted, (name, real, corrupted)


def test_deterministic_and_conventions_agree(splits):
  """Two calls give the same value; grey levels k and model-space floats k / 16 (also
  without the channel axis, also float64) give the same features."""
  (train_images, _), (test_images, _) = splits
  first = dc.digits_frechet_distance(train_images, test_images)
  assert dc.digits_frechet_distance(train_images, test_images) == first
  as_floats = test_images[..., 0].astype(np.float64) / 16.
  np.testing.assert_allclose(dc.digits_features(as_floats), dc.digits_features(test_images),
                             rtol=1e-6, atol=1e-6)
  assert dc.digits_features(test_images).shape == (len(test_images), dc.FEATURE_DIM)


def test_bad_images_rejected():
  """Wrong shape or out-of-range integer levels: ValueError saying what is allowed."""
  with pytest.raises(ValueError, match=r'\(n, 8, 8, 1\)'):
    dc.digits_features(np.zeros((4, 28, 28, 1), np.float32))
  with pytest.raises(ValueError, match=r'grey levels in 0..16'):
    dc.digits_features(np.full((4, 8, 8, 1), 255, np.uint8))


def test_training_recipe_reaches_shipped_quality(splits):
  """Retraining with the documented recipe (what wrote the shipped .npz) gives a
  classifier with >= 95% test accuracy whose metric also separates real from noise."""
  (train_images, _), (test_images, test_labels) = splits
  params, losses = dc.train_classifier()
  assert float(losses[-1]) < 0.5 * float(losses[0])
  assert np.mean(dc.classify(test_images, params) == test_labels) >= 0.95
  noise = np.random.default_rng(1).uniform(size=(len(test_images), 8, 8, 1))
  assert (5. * dc.digits_frechet_distance(train_images, test_images, params)
          < dc.digits_frechet_distance(train_images, noise, params))
