"""The data package: digits, the data convention, resizes, deterministic multi-host iteration.

TFDS and tfrecords reading (with TensorFlow-made files) is in test_cifar10_builder.py.
"""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from sklearn.datasets import load_digits

import data
from data import digits, pipeline, sources, transforms


def _config(dataset='DIGITS', centered=False, uniform_dequantization=False, random_flip=False,
            batch_size=64, image_size=8, num_channels=1, seed=0):
  config = ml_collections.ConfigDict()
  config.data = ml_collections.ConfigDict(dict(
      dataset=dataset, image_size=image_size, num_channels=num_channels,
      random_flip=random_flip, centered=centered,
      uniform_dequantization=uniform_dequantization))
  config.training = ml_collections.ConfigDict(dict(batch_size=batch_size))
  config.eval = ml_collections.ConfigDict(dict(batch_size=batch_size))
  config.seed = seed
  return config


def _digits(split='train', **kwargs):
  pk = {k: kwargs.pop(k) for k in ('process_index', 'process_count', 'evaluation',
                                   'uniform_dequantization') if k in kwargs}
  pk.setdefault('process_index', 0)
  pk.setdefault('process_count', 1)
  return data.get_dataset(_config(**kwargs), split, **pk)


# ----------------------------------------------------------------------------- digits

def test_digits_splits_shapes_levels_and_labels():
  """Train 1437 / test 360 of uint8 (8, 8, 1) images using exactly the levels 0..16, int64 labels 0..9."""
  for split, n in (('train', 1437), ('test', 360)):
    images, labels = digits.load_split(split)
    assert images.shape == (n, 8, 8, 1) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert set(np.unique(images)) == set(range(digits.NUM_LEVELS))
    assert set(np.unique(labels)) == set(range(10))
  assert digits.NUM_LEVELS == 17


def test_digits_split_is_fixed_disjoint_and_matches_sklearn():
  """The splits partition the 1797 digits, never change (pinned indices), and are sklearn's rows."""
  train, test = digits.split_indices('train'), digits.split_indices('test')
  assert len(np.intersect1d(train, test)) == 0
  assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(1797))
  # Pinned: a change here changes every digits result; do not update lightly.
  assert test[:6].tolist() == [360, 1773, 1482, 600, 850, 196]
  assert train[:6].tolist() == [1398, 677, 163, 284, 763, 1712]
  ref = load_digits()
  images, labels = digits.load_split('test')
  np.testing.assert_array_equal(images[..., 0], ref.images[test])
  np.testing.assert_array_equal(labels, ref.target[test])
  images2, _ = digits.load_split('test')
  images2[:] = 0   # callers get copies: mutating one cannot change the next load
  np.testing.assert_array_equal(digits.load_split('test')[0], images)
  with pytest.raises(ValueError, match="split='valid'"):
    digits.load_split('valid')


# ----------------------------------------------------------------------------- convention

@pytest.mark.parametrize('centered', [False, True])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_scaler_and_inverse_round_trip_and_keep_dtype(centered, dtype):
  """inverse(scaler(v)) = v on [0, 1], the scaler maps [0, 1] onto [-1, 1] or [0, 1], dtype kept (np, jnp)."""
  config = _config(centered=centered)
  scale, inverse = data.get_data_scaler(config), data.get_data_inverse_scaler(config)
  v = np.linspace(0., 1., 11, dtype=dtype)
  x = scale(v)
  assert x.dtype == dtype
  np.testing.assert_allclose([x[0], x[-1]], [-1., 1.] if centered else [0., 1.])
  np.testing.assert_allclose(inverse(x), v, atol=1e-7)
  assert inverse(x).dtype == dtype
  xj = scale(jnp.asarray(v))
  assert xj.dtype == dtype
  np.testing.assert_allclose(np.asarray(inverse(xj)), v, atol=1e-7)


@pytest.mark.parametrize('num_levels', [17, 256])
@pytest.mark.parametrize('centered', [False, True])
def test_levels_to_model_space_without_and_with_dequantisation(num_levels, centered):
  """v = k/(L-1) hits 0 and 1 exactly; v = (k+u)/L lies in [k/L, (k+1)/L) so floor(v L) = k."""
  k = np.arange(num_levels, dtype=np.uint8).reshape(1, -1, 1, 1)
  x = transforms.levels_to_model_space(k, num_levels, centered)
  assert x.dtype == np.float32
  v = (x + 1.) / 2. if centered else x
  np.testing.assert_allclose(v.ravel(), np.arange(num_levels) / (num_levels - 1), atol=1e-6)
  assert v.min() == 0. and v.max() == 1.
  for u in (np.zeros(k.shape), np.full(k.shape, 0.5), np.full(k.shape, 0.999)):
    xd = transforms.levels_to_model_space(k.astype(np.float64), num_levels, centered, noise=u)
    assert xd.dtype == np.float64
    vd = (xd + 1.) / 2. if centered else xd
    np.testing.assert_allclose(vd, (k + u) / num_levels, rtol=1e-12)
    np.testing.assert_array_equal(np.floor(vd * num_levels), k)
  assert data.num_levels(_config()) == 17
  assert data.num_levels(_config('CIFAR10', num_channels=3, image_size=32)) == 256


# ----------------------------------------------------------------------------- resize

@pytest.mark.parametrize('method', ['linear', 'cubic'])
@pytest.mark.parametrize('in_shape,out_shape', [((37, 29), (16, 12)), ((140, 140), (64, 64)),
                                                ((9, 10), (20, 15)), ((32, 32), (32, 32))])
def test_resize_matches_jax_image_resize_antialiased(method, in_shape, out_shape):
  """The numpy separable resize equals jax.image.resize(antialias=True), down- and up-sampling."""
  img = np.random.default_rng(1).uniform(0., 255., in_shape + (3,)).astype(np.float32)
  ours = transforms.resize(img, out_shape, method)
  ref = jax.image.resize(jnp.asarray(img), out_shape + (3,), method=method, antialias=True)
  assert ours.shape == out_shape + (3,) and ours.dtype == np.float32
  np.testing.assert_allclose(ours, np.asarray(ref), atol=2e-3)


def test_resize_weights_are_a_partition_of_unity_and_preserve_constants():
  """Each output pixel's weights sum to 1, so a constant image stays constant at any size."""
  for method in transforms.RESIZE_METHODS:
    w = transforms.resize_weights(218, 64, method)
    np.testing.assert_allclose(w.sum(1), 1., atol=1e-6)
  out = transforms.preprocess('CELEBA', np.full((218, 178, 3), 77, np.uint8), 64)
  assert out.shape == (64, 64, 3)
  np.testing.assert_allclose(out, 77., atol=1e-3)
  with pytest.raises(ValueError, match="method='nearest'"):
    transforms.resize_weights(4, 2, 'nearest')


# ----------------------------------------------------------------------------- iteration

def test_batch_is_the_digits_at_example_indices_in_model_space():
  """Without flip/noise, batch(step) is exactly k/16 (centred: 2k/16 - 1) of the indexed digits."""
  images, _ = digits.load_split('train')
  for centered in (False, True):
    ds = _digits(centered=centered)
    x = ds.batch(7)
    assert x.shape == (64, 8, 8, 1) and x.dtype == np.float32
    expected = images[ds.example_indices(7)] / 16.
    np.testing.assert_allclose(x, 2. * expected - 1. if centered else expected, atol=1e-6)


def test_batch_depends_only_on_step_not_history():
  """batch(i) is identical across fresh iterators and whatever steps were read before (resumable)."""
  kw = dict(random_flip=True, uniform_dequantization=True, centered=True, seed=3)
  a, b = _digits(**kw), _digits(**kw)
  for s in (0, 1, 2, 30, 31):   # step 22 crosses the first epoch boundary (1437 / 64)
    a.batch(s)
  for s in (31, 22, 5, 0):
    np.testing.assert_array_equal(a.batch(s), b.batch(s))
  resumed = [x for _, x in zip(range(3), a.iterate(start_step=21))]
  for i, x in enumerate(resumed):
    np.testing.assert_array_equal(x[1], b.batch(21 + i))
    assert x[0] == 21 + i
  assert not np.array_equal(a.batch(0), a.batch(1))
  assert not np.array_equal(a.batch(0), _digits(**dict(kw, seed=4)).batch(0))


def test_each_epoch_is_a_permutation_and_epochs_differ():
  """Stream positions [e n, (e+1) n) visit every example exactly once, in a new order each epoch."""
  ds = _digits(batch_size=100)
  n = ds.num_examples
  steps = -(-2 * n // 100) + 1
  stream = np.concatenate([ds.example_indices(s) for s in range(steps)])
  first, second = stream[:n], stream[n:2 * n]
  assert np.array_equal(np.sort(first), np.arange(n))
  assert np.array_equal(np.sort(second), np.arange(n))
  assert not np.array_equal(first, second)


@pytest.mark.parametrize('process_count', [2, 4])
def test_hosts_batches_concatenate_to_the_global_batch(process_count):
  """With P processes, each reads B/P examples and their concatenation is the 1-process batch, noise and flips included."""
  kw = dict(random_flip=True, uniform_dequantization=True, centered=True, batch_size=64)
  single = _digits(**kw)
  hosts = [_digits(process_index=p, process_count=process_count, **kw)
           for p in range(process_count)]
  for step in (0, 13, 22):
    parts = [h.batch(step) for h in hosts]
    assert all(p.shape == (64 // process_count, 8, 8, 1) for p in parts)
    np.testing.assert_array_equal(np.concatenate(parts), single.batch(step))
    idx = [h.example_indices(step) for h in hosts]
    assert len(np.unique(np.concatenate(idx))) == 64   # disjoint within a global batch


def test_random_flip_mirrors_some_examples_and_only_in_training():
  """With random_flip each example is itself or its left-right mirror, both occur; evaluation never flips."""
  images, _ = digits.load_split('train')
  ds = _digits(random_flip=True, batch_size=256)
  x = ds.batch(0) * 16.
  orig = images[ds.example_indices(0)].astype(np.float32)
  same = np.all(np.isclose(x, orig), axis=(1, 2, 3))
  mirrored = np.all(np.isclose(x, orig[:, :, ::-1]), axis=(1, 2, 3))
  symmetric = np.all(orig == orig[:, :, ::-1], axis=(1, 2, 3))
  assert np.all(same | mirrored)
  assert 80 < np.sum(mirrored & ~symmetric) and 80 < np.sum(same & ~symmetric)
  ev = _digits(random_flip=True, batch_size=256, evaluation=True)
  np.testing.assert_allclose(ev.batch(0) * 16., images[ev.example_indices(0)], atol=1e-5)


def test_dequantisation_noise_is_uniform_within_each_level():
  """(k + u)/17 recovers k by floor and u looks U[0, 1): mean 1/2, variance 1/12, range [0, 1)."""
  images, _ = digits.load_split('train')
  ds = _digits(uniform_dequantization=True, batch_size=512)
  v = ds.batch(2)
  k = images[ds.example_indices(2)]
  np.testing.assert_array_equal(np.floor(v * 17.), k)
  u = v.astype(np.float64) * 17. - k
  assert u.min() >= 0. and u.max() < 1.
  # 32768 draws: the mean's standard error is 0.0016, the variance's 0.0005.
  assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1. / 12.) < 0.004


@pytest.mark.parametrize('process_count', [1, 2])
def test_epoch_batches_cover_the_split_in_order_with_a_padding_mask(process_count):
  """One ordered pass: masked examples are the split in order, once; the padded last batch has full shape."""
  images, _ = digits.load_split('test')   # 360 examples: 3 batches of 128, last one 104 real
  hosts = [_digits('test', batch_size=128, evaluation=True, process_index=p,
                   process_count=process_count) for p in range(process_count)]
  assert hosts[0].num_epoch_batches() == 3
  per_host = [list(h.epoch_batches()) for h in hosts]
  xs, masks = [], []
  for b in range(3):
    for p in range(process_count):
      x, mask = per_host[p][b]
      assert x.shape == (128 // process_count, 8, 8, 1) and mask.dtype == bool
      xs.append(x)
      masks.append(mask)
  x, mask = np.concatenate(xs), np.concatenate(masks)
  assert mask.sum() == 360 and mask[:360].all()
  np.testing.assert_allclose(x[mask] * 16., images, atol=1e-5)
  np.testing.assert_allclose(x[~mask] * 16., np.broadcast_to(images[-1], (24, 8, 8, 1)), atol=1e-5)


def test_eval_dequantisation_noise_does_not_depend_on_batch_size():
  """Bits/dim data: each test example gets the same noise whatever the eval batch size."""
  ds = _digits('test', evaluation=True, uniform_dequantization=True)
  a = np.concatenate([x[m] for x, m in ds.epoch_batches(50)])
  b = np.concatenate([x[m] for x, m in ds.epoch_batches(128)])
  np.testing.assert_array_equal(a, b)
  images, _ = digits.load_split('test')
  np.testing.assert_array_equal(np.floor(a * 17.), images)


# ----------------------------------------------------------------------------- errors

def test_bad_configs_fail_naming_the_field_and_the_allowed_values():
  """Unknown dataset, wrong channels/size/types and indivisible batch sizes fail with a clear message."""
  with pytest.raises(ValueError, match=r"config.data.dataset='MNIST'.*allowed: DIGITS"):
    _digits(dataset='MNIST')
  with pytest.raises(ValueError, match=r"num_channels=3 but DIGITS has 1"):
    _digits(num_channels=3)
  with pytest.raises(ValueError, match=r"image_size=32"):
    _digits(image_size=32)
  with pytest.raises(ValueError, match=r"config.data.centered='yes' must be True or False"):
    _digits(centered='yes')
  with pytest.raises(ValueError, match=r"batch_size=63 must be divisible by the process count \(2\)"):
    _digits(batch_size=63, process_index=0, process_count=2)
  with pytest.raises(ValueError, match=r"process_index=2 must be in \[0, 2\)"):
    _digits(process_index=2, process_count=2)
  with pytest.raises(ValueError, match=r"split='valid'"):
    data.get_dataset(_config(), 'valid', process_index=0, process_count=1)
  config = _config('LSUN', num_channels=3, image_size=64)
  with pytest.raises(ValueError, match=r"config.data.category is missing"):
    data.get_dataset(config, 'train', process_index=0, process_count=1)
  config = _config('FFHQ', num_channels=3, image_size=64)
  config.data.tfrecords_path = '/nonexistent/ffhq.tfrecords'
  with pytest.raises(FileNotFoundError, match=r"tfrecords_path='/nonexistent/ffhq.tfrecords'"):
    data.get_dataset(config, 'train', process_index=0, process_count=1)


def test_unprepared_tfds_dataset_says_how_to_prepare_it(tmp_path):
  """Reading CIFAR-10 from an empty data_dir fails with the exact `python -m data.prepare` command."""
  config = _config('CIFAR10', num_channels=3, image_size=32)
  config.data.data_dir = str(tmp_path)
  with pytest.raises(FileNotFoundError) as err:
    data.get_dataset(config, 'train', process_index=0, process_count=1)
  assert f"python -m data.prepare --dataset CIFAR10 --data_dir {tmp_path}" in str(err.value)


def test_array_source_and_dataset_reject_empty_or_malformed_input():
  """A source must be (n, H, W, C); seeds must be non-negative integers."""
  with pytest.raises(ValueError, match=r"\(n, H, W, C\)"):
    sources.ArraySource(np.zeros((3, 8, 8), np.uint8))
  src = sources.ArraySource(np.zeros((3, 8, 8, 1), np.uint8))
  with pytest.raises(ValueError, match=r"seed=-1"):
    pipeline.ImageDataset(src, split='train', num_levels=17, batch_size=2, seed=-1,
                          random_flip=False, uniform_dequantization=False, centered=False)
