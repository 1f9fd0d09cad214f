"""The one atomic writer (`utils.atomic`), the one npz parameter serialiser (`utils.params_npz`)
and the one moment merge (`evaluation.metrics.merge_pair` / `merge_moments`)."""
import json
import os
import stat

import numpy as np
import pytest

from evaluation import digits_classifier, metrics
from utils import atomic, params_npz


# ------------------------------------------------------------------ atomic writes


def test_writers_write_exactly_the_content_and_leave_no_temporary_file(tmp_path):
  """write_bytes / write_text / write_json / save_npz: the file holds what was given, under
  exactly the given name (no '.npz' appended), missing directories are created, nothing
  else is left in the directory, and the mode is 0o666 minus the umask, as `open` gives."""
  out = tmp_path / 'a' / 'b'
  atomic.write_bytes(out / 'raw', b'\x00\x01')
  atomic.write_text(out / 'text', 'caf\u00e9\n')
  atomic.write_json(out / 'obj.json', {'x': [1, 2.5], 'y': None})
  atomic.save_npz(out / 'arrays', a=np.arange(3.), b=np.int64(7))
  assert sorted(os.listdir(out)) == ['arrays', 'obj.json', 'raw', 'text']
  assert (out / 'raw').read_bytes() == b'\x00\x01'
  assert (out / 'text').read_text(encoding='utf-8') == 'caf\u00e9\n'
  assert json.loads((out / 'obj.json').read_text()) == {'x': [1, 2.5], 'y': None}
  with np.load(out / 'arrays') as f:
    np.testing.assert_array_equal(f['a'], np.arange(3.))
    assert int(f['b']) == 7
  umask = os.umask(0)
  os.umask(umask)
  assert stat.S_IMODE(os.stat(out / 'raw').st_mode) == 0o666 & ~umask


@pytest.mark.parametrize('error', [ValueError, KeyboardInterrupt])
def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, error):
  """When the content function raises (an error, or an interrupt) after writing part of the
  file, the target keeps its old content and no temporary file remains."""
  path = tmp_path / 'record.json'
  atomic.write_json(path, {'old': 1})

  def half_then_fail(f):
    f.write('{"new": ')
    raise error('stop')

  with pytest.raises(error):
    atomic.write_with(path, half_then_fail, binary=False)
  assert os.listdir(tmp_path) == ['record.json']
  assert json.loads(path.read_text()) == {'old': 1}
  # An object json cannot serialise: the same, with json's own TypeError.
  with pytest.raises(TypeError):
    atomic.write_json(path, {'new': object()})
  assert os.listdir(tmp_path) == ['record.json']
  assert json.loads(path.read_text()) == {'old': 1}


# ------------------------------------------------------------------ npz parameters


def test_flatten_and_unflatten_are_inverse():
  """Nested dicts <-> '/'-joined keys, both ways, leaves untouched."""
  tree = {'a': {'b': {'kernel': 1, 'bias': 2}, 'c': 3}, 'd': 4}
  flat = params_npz.flatten(tree)
  assert flat == {'a/b/kernel': 1, 'a/b/bias': 2, 'a/c': 3, 'd': 4}
  assert params_npz.unflatten(flat) == tree


def test_load_checks_names_and_shapes_against_the_expected_tree(tmp_path):
  """A saved tree loads back as float32 with the same values; a file with a missing key, an
  extra key or a wrong shape is a ValueError naming the parameter and the tree."""
  rng = np.random.default_rng(0)
  tree = {'Dense_0': {'kernel': rng.normal(size=(3, 2)), 'bias': np.zeros(2)},
          'Dense_1': {'kernel': rng.normal(size=(2, 1))}}
  path = tmp_path / 'p.npz'
  params_npz.save(path, tree)
  back = params_npz.load(path, tree, 'test parameters')
  for (k, a), (k2, b) in zip(sorted(params_npz.flatten(tree).items()),
                             sorted(params_npz.flatten(back).items())):
    assert k == k2 and b.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(b), a.astype(np.float32))

  missing = {'Dense_0': tree['Dense_0']}
  params_npz.save(path, missing)
  with pytest.raises(ValueError, match=r"not test parameters: missing \['Dense_1/kernel'\]"):
    params_npz.load(path, tree, 'test parameters')
  params_npz.save(path, {**tree, 'extra': {'w': np.ones(1)}})
  with pytest.raises(ValueError, match=r"unexpected \['extra/w'\]"):
    params_npz.load(path, tree, 'test parameters')
  params_npz.save(path, {**tree, 'Dense_1': {'kernel': np.ones((2, 2))}})
  with pytest.raises(ValueError, match=r"Dense_1/kernel has shape \(2, 2\), expected \(2, 1\)"):
    params_npz.load(path, tree, 'test parameters')


def test_shipped_digits_classifier_file_loads_and_saves_to_the_same_arrays(tmp_path):
  """The stored evaluation/digits_classifier.npz keeps its format: `load_params` gives exactly
  its arrays (same keys, float32, bit for bit), and `save_params` of them writes a file with
  the same keys, dtypes and values."""
  with np.load(digits_classifier.DEFAULT_WEIGHTS) as f:
    stored = {k: f[k] for k in f.files}
  params = digits_classifier.load_params(digits_classifier.DEFAULT_WEIGHTS)
  flat = params_npz.flatten(params)
  assert sorted(flat) == sorted(stored)
  for key, value in stored.items():
    assert value.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(flat[key]), value)
  path = tmp_path / 'copy.npz'
  digits_classifier.save_params(params, path)
  with np.load(path) as f:
    assert sorted(f.files) == sorted(stored)
    for key, value in stored.items():
      assert f[key].dtype == value.dtype
      np.testing.assert_array_equal(f[key], value)


def test_digits_classifier_rejects_a_foreign_file(tmp_path):
  """A file that is not the classifier's: ValueError naming the file and the missing keys."""
  path = tmp_path / 'foreign.npz'
  params_npz.save(path, {'Conv_0': {'kernel': np.ones((3, 3, 1, 4))}})
  with pytest.raises(ValueError, match=r"DigitsClassifier parameters \(.*foreign.npz'\): "
                     r"missing \["):
    digits_classifier.load_params(str(path))


# ------------------------------------------------------------------ the moment merge


def test_merge_is_exact_on_integer_data_and_skips_empty_parts():
  """Parts of integer features (sizes 3, 0, 1, 4; every sum exact in float64): merged with
  `merge_moments`, and streamed through `RunningStatistics`, both give the union's mean and
  scatter as computed directly, to 1e-12; an empty part changes nothing, bit for bit."""
  rng = np.random.default_rng(3)
  x = rng.integers(-5, 6, size=(8, 3)).astype(np.float64)
  parts = [x[:3], x[3:3], x[3:4], x[4:]]
  moments = [metrics.RunningStatistics(3).update(p).moments() for p in parts]
  count, mean, scatter = metrics.merge_moments(*(np.asarray([m[i] for m in moments])
                                                 for i in range(3)))
  mu, sigma = metrics.feature_statistics(x)
  assert count == 8
  np.testing.assert_allclose(mean, mu, rtol=0, atol=1e-12)
  np.testing.assert_allclose(scatter, sigma * 7, rtol=0, atol=1e-12)
  running = metrics.RunningStatistics(3)
  for p in parts:
    running.update(p)
  np.testing.assert_allclose(running.statistics()[1], sigma, rtol=0, atol=1e-12)
  a = moments[0]
  same = metrics.merge_pair(a, (0, np.full(3, np.nan), np.full((3, 3), np.nan)))
  assert same[0] == a[0]
  np.testing.assert_array_equal(same[1], a[1])
  np.testing.assert_array_equal(same[2], a[2])


@pytest.mark.parametrize('shape', [(5, 2), (4, 8, 8, 1)])
def test_plots_write_npz_and_png_through_the_writer(tmp_path, shape):
  """`plots.save_samples` (2-D points: a scatter plot; images: a grid) writes prefix.npz with
  the samples as given and a PNG that decodes, and leaves no temporary file."""
  from PIL import Image  # pylint: disable=import-outside-toplevel

  from utils import plots  # pylint: disable=import-outside-toplevel
  samples = np.random.default_rng(0).uniform(size=shape).astype(np.float32)
  prefix = str(tmp_path / 'out' / 'ckpt_1')
  plots.save_samples(prefix, samples)
  assert sorted(os.listdir(tmp_path / 'out')) == ['ckpt_1.npz', 'ckpt_1.png']
  with np.load(prefix + '.npz') as f:
    np.testing.assert_array_equal(f['samples'], samples)
  with Image.open(prefix + '.png') as img:
    assert img.format == 'PNG' and img.width > 0
