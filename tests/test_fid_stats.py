"""FID reference statistics (`evaluation.fid_stats`): the data protocol, the file, the multi-host merge.

The Inception network has random weights (`inception.init_params`) saved to a
temporary .npz and read back through `config.eval.inception_weights`, as a
user's converted weights would be. Only a few digits go through it (about
0.5 s per image at 299 x 299 on this CPU): `max_images` limits the split.
"""
import json
import os

import ml_collections
import numpy as np
import pytest

from data import digits
from evaluation import fid_stats, inception, metrics


@pytest.fixture(scope='module')
def params():
  return inception.init_params(0)


@pytest.fixture(scope='module')
def weights_path(params, tmp_path_factory):
  path = tmp_path_factory.mktemp('inception') / 'inception_random.npz'
  inception.save_params(params, path)
  return str(path)


def _config(weights='', stats_path='', centered=True):
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data = ml_collections.ConfigDict(dict(
      dataset='DIGITS', image_size=8, num_channels=1, centered=centered,
      # Training settings that the statistics must ignore: no flips, no noise.
      random_flip=True, uniform_dequantization=True))
  config.training = ml_collections.ConfigDict(dict(batch_size=16))
  config.eval = ml_collections.ConfigDict(dict(
      batch_size=16, inception_weights=weights, stats_path=stats_path))
  return config


def _expected_uint8(n):
  """The first n training digits as the FID protocol wants them: levels k -> round(255 k / 16)."""
  levels = digits.load_split('train')[0][:n].astype(np.float64)
  return np.rint(levels * 255. / (digits.NUM_LEVELS - 1)).astype(np.uint8)


@pytest.mark.parametrize('centered', [True, False])
def test_images_to_uint8_recovers_the_stored_levels(centered):
  """The whole train split read as `fid_stats` reads it (no dequantisation, no flip), mapped
  back with the inverse scaler and rounded, is exactly round(255 k / 16) of the stored levels."""
  import data  # pylint: disable=import-outside-toplevel
  config = _config(centered=centered)
  ds = data.get_dataset(config, 'train', evaluation=True, uniform_dequantization=False,
                        batch_size=500, process_index=0, process_count=1)
  images = np.concatenate([fid_stats.images_to_uint8(x, config)[m]
                           for x, m in ds.epoch_batches()])
  np.testing.assert_array_equal(images, _expected_uint8(digits.load_split('train')[0].shape[0]))


def test_run_matches_direct_features_and_file_round_trips(tmp_path, params, weights_path,
                                                          capsys):
  """`run` (the --mode fid_stats entry) over the first 6 training digits, in batches of 4 (the
  second padded), gives the mean and covariance of the pool3 features computed directly on
  the same uint8 images (`feature_statistics`); the .npz it writes reads back to the same
  numbers; it prints one JSON line naming the file; no temporary file is left behind. The
  file also keeps the pool3 rows themselves (KID's reference set): all six here, the first
  five (across the batch boundary) with kid_features=5."""
  out = tmp_path / 'stats' / 'digits_stats.npz'
  config = _config(weights_path, str(out))
  result = fid_stats.run(config, str(tmp_path / 'workdir'), batch_size=4, max_images=6)
  printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
  assert printed == result
  assert result['num_images'] == 6 and result['stats_path'] == str(out)
  assert os.listdir(out.parent) == [out.name]

  images = _expected_uint8(6)
  # The same batch shapes as `run` used (4, then 2 padded to 4): one compilation.
  first, _ = inception.inception_features(params, images[:4])
  second, _ = inception.inception_features(params, np.concatenate([images[4:], images[4:]]))
  features = np.concatenate([np.asarray(first), np.asarray(second)[:2]])
  mu, sigma = metrics.feature_statistics(features)

  stats = fid_stats.load_stats(out)
  assert stats['num_images'] == 6
  assert stats['mu'].shape == (inception.FEATURE_DIM,)
  assert stats['sigma'].shape == (inception.FEATURE_DIM,) * 2
  scale = np.abs(sigma).max()
  assert scale > 0.
  np.testing.assert_allclose(stats['mu'], mu, rtol=0., atol=1e-9 * np.abs(mu).max())
  np.testing.assert_allclose(stats['sigma'], sigma, rtol=0., atol=1e-9 * scale)
  assert result['kid_features'] == 6 and stats['features'].dtype == np.float32
  np.testing.assert_array_equal(stats['features'], features)

  five = fid_stats.compute_dataset_stats(config, tmp_path / 'five.npz', batch_size=4,
                                         max_images=6, params=params, kid_features=5)
  np.testing.assert_array_equal(five['features'], features[:5])
  np.testing.assert_array_equal(fid_stats.load_stats(tmp_path / 'five.npz')['features'],
                                features[:5])
  with pytest.raises(ValueError, match='kid_features'):
    fid_stats.compute_dataset_stats(config, tmp_path / 'x.npz', params=params, kid_features=-1)


@pytest.mark.slow
def test_eval_kid_uses_the_stored_reference_features(tmp_path, params, weights_path):
  """eval's sample metrics for an Inception dataset: FID against the file's moments and KID
  against its stored rows equal the direct computations on the same pool3 features; a file
  without rows gives no KID (rather than a made-up one)."""
  from evaluation import runs  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(0)
  reference = rng.normal(size=(6, inception.FEATURE_DIM)).astype(np.float32)
  mu, sigma = metrics.feature_statistics(reference.astype(np.float64))
  with_rows, without = tmp_path / 'rows.npz', tmp_path / 'moments.npz'
  np.savez(with_rows, mu=mu, sigma=sigma, num_images=6, features=reference)
  np.savez(without, mu=mu, sigma=sigma, num_images=6)
  config = _config(weights_path, str(with_rows), centered=True)
  config.data.dataset = 'CIFAR10'
  x = rng.uniform(-1., 1., size=(4, 8, 8, 1)).astype(np.float32)   # model space, centred
  pool, logits = inception.inception_features(params, fid_stats.images_to_uint8(x, config))
  pool = np.asarray(pool, np.float64)
  got = runs._sample_metrics(config, x)  # pylint: disable=protected-access
  s_mu, s_sigma = metrics.feature_statistics(pool)
  assert np.isclose(got['fid'], metrics.frechet_distance(s_mu, s_sigma, mu, sigma), rtol=1e-6)
  assert np.isclose(got['is'], metrics.inception_score(np.asarray(logits), splits=1)[0],
                    rtol=1e-6)
  assert np.isclose(got['kid'], metrics.kernel_inception_distance(reference, pool,
                                                                  subset_size=4)[0], rtol=1e-6)
  no_rows = runs.inception_metrics(pool, np.asarray(logits), fid_stats.load_stats(without))
  assert 'kid' not in no_rows and no_rows['fid'] == pytest.approx(got['fid'], rel=1e-12)


def test_missing_weights_raise_the_loading_error():
  """An empty `config.eval.inception_weights` fails before any data is read, with the error that
  names the field and says how to obtain the weights."""
  with pytest.raises(FileNotFoundError, match=r'config\.eval\.inception_weights'):
    fid_stats.compute_dataset_stats(_config(''))


def test_bad_arguments_are_named(params):
  """max_images below 2 and a non-positive batch_size fail with messages naming them."""
  with pytest.raises(ValueError, match='max_images=1'):
    fid_stats.compute_dataset_stats(_config(), params=params, max_images=1)
  with pytest.raises(ValueError, match='batch_size=0'):
    fid_stats.compute_dataset_stats(_config(), params=params, batch_size=0)


def test_stats_path_default_and_override(tmp_path):
  """Without `eval.stats_path` the file is assets/stats/{dataset}_{size}_stats.npz under the
  repository root (LSUN adds its category); with it, that path."""
  config = _config()
  assert fid_stats.stats_path(config) == os.path.join(
      fid_stats.REPO_ROOT, 'assets', 'stats', 'digits_8_stats.npz')
  config.data.dataset, config.data.image_size = 'LSUN', 256
  config.data.category = 'bedroom'
  assert fid_stats.stats_path(config).endswith(os.path.join('stats', 'lsun_bedroom_256_stats.npz'))
  config.eval.stats_path = str(tmp_path / 'x.npz')
  assert fid_stats.stats_path(config) == str(tmp_path / 'x.npz')


def test_load_stats_missing_file_says_how_to_make_it(tmp_path):
  """A missing statistics file names the path and the --mode fid_stats command."""
  with pytest.raises(FileNotFoundError, match='--mode fid_stats'):
    fid_stats.load_stats(tmp_path / 'none.npz')


def test_merge_of_host_parts_equals_statistics_of_all():
  """Features split over four 'hosts' (sizes 7, 0, 1, 12): each host's RunningStatistics
  turned into (count, mean, scatter), merged, gives feature_statistics of all the rows, in
  any host order; a lone row's host contributes that row."""
  rng = np.random.default_rng(0)
  d = 5
  features = rng.normal(3., 2., (20, d)) @ rng.normal(size=(d, d))
  parts = np.split(features, [7, 7, 8])
  moments = []
  for part in parts:
    running = metrics.RunningStatistics(d)
    if len(part):
      running.update(part[:3]).update(part[3:])
    moments.append(running.moments())
  mu, sigma = metrics.feature_statistics(features)
  for order in ([0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]):
    counts, means, scatters = zip(*[moments[i] for i in order])
    count, mean, scatter = fid_stats.merge_moments(counts, means, scatters)
    assert count == 20
    np.testing.assert_allclose(mean, mu, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scatter / (count - 1), sigma, rtol=1e-12, atol=1e-12)


def test_merge_checks_shapes_and_counts():
  """Mismatched shapes and negative counts are rejected with messages naming the argument."""
  with pytest.raises(ValueError, match='means must have shape'):
    fid_stats.merge_moments([1, 2], np.zeros((3, 2)), np.zeros((2, 2, 2)))
  with pytest.raises(ValueError, match='scatters must have shape'):
    fid_stats.merge_moments([1, 2], np.zeros((2, 2)), np.zeros((2, 3, 3)))
  with pytest.raises(ValueError, match='counts must be non-negative'):
    fid_stats.merge_moments([1, -2], np.zeros((2, 2)), np.zeros((2, 2, 2)))


def test_gather_on_one_host_is_the_identity():
  """On a single process the gathered moments are this host's own."""
  mean, scatter = np.arange(3.), np.eye(3)
  count, m, s = fid_stats.gather_moments(4, mean, scatter)
  assert count == 4
  np.testing.assert_array_equal(m, mean)
  np.testing.assert_array_equal(s, scatter)


def test_gather_across_hosts_is_bit_exact_and_merges(monkeypatch):
  """With two (simulated) hosts holding the same moments, the gather sends float64 arrays
  through the 32-bit collective without rounding and merges them: count doubles, mean is
  unchanged bit for bit, scatter doubles."""
  import jax  # pylint: disable=import-outside-toplevel
  from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel

  def fake_allgather(x):
    assert x.dtype == np.uint32  # what would travel between hosts
    return np.stack([x, x])

  monkeypatch.setattr(jax, 'process_count', lambda: 2)
  monkeypatch.setattr(multihost_utils, 'process_allgather', fake_allgather)
  rng = np.random.default_rng(1)
  mean = rng.normal(size=4) * np.pi  # values with all 52 mantissa bits in use
  a = rng.normal(size=(4, 4))
  scatter = a @ a.T
  count, m, s = fid_stats.gather_moments(3, mean, scatter)
  assert count == 6
  np.testing.assert_array_equal(m, mean)
  np.testing.assert_array_equal(s, 2. * scatter)
