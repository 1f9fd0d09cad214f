"""The real TFDS CIFAR-10 builder and the original tfrecords format, offline, read without TensorFlow.

One subprocess (this file run as a script) does everything that needs
TensorFlow: it writes a small CIFAR-10 in the official binary layout, runs
`tfds.builder('cifar10').download_and_prepare()` on it with array_record
output (the download step answered by the local files), writes FFHQ-format
tfrecords with `tf.io.TFRecordWriter`, and runs the original score_sde's
TensorFlow crop/resize ops on random images. The tests then read all of it
back in this process through the TF-free readers of `data` and compare.
"""
import importlib.util
import os
import subprocess
import sys

import ml_collections
import numpy as np
import pytest

import data
from data import prepare, sources, tfrecord, transforms

# (file, split, number of records) of the small CIFAR-10 written here.
_CIFAR_FILES = [(f'data_batch_{i}.bin', 'train', 3) for i in range(1, 6)] + [
    ('test_batch.bin', 'test', 4)]
_CIFAR_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse',
                'ship', 'truck']
_FFHQ_SHAPE = (3, 16, 16)   # C, H, W as the original format stores it
_FFHQ_COUNT = 5


def _make_with_tensorflow(root):
  """Run in a subprocess: all TensorFlow work, results under `root`."""
  from unittest import mock  # pylint: disable=import-outside-toplevel

  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

  rng = np.random.default_rng(0)
  out = {}
  # 1. CIFAR-10 binary version: per record 1 label byte + 3072 pixel bytes (R, G, B planes).
  extracted = os.path.join(root, 'extracted')
  batches = os.path.join(extracted, 'cifar-10-batches-bin')
  os.makedirs(batches)
  for split in ('train', 'test'):
    out[f'{split}_labels'], out[f'{split}_images'] = [], []
  for fname, split, n in _CIFAR_FILES:
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    planes = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    with open(os.path.join(batches, fname), 'wb') as f:
      f.write(np.concatenate([labels[:, None], planes.reshape(n, -1)], 1).tobytes())
    out[f'{split}_labels'].append(labels)
    out[f'{split}_images'].append(planes.transpose(0, 2, 3, 1))
  with open(os.path.join(batches, 'batches.meta.txt'), 'w') as f:
    f.write('\n'.join(_CIFAR_NAMES) + '\n\n')
  for key in list(out):
    out[key] = np.concatenate(out[key])

  urls = []

  def download_and_extract(self, url):  # the only network step of the builder
    del self
    urls.append(url)
    return extracted

  builder = tfds.builder('cifar10', data_dir=os.path.join(root, 'tfds'),
                         file_format='array_record')
  with mock.patch.object(tfds.download.DownloadManager, 'download_and_extract',
                         download_and_extract):
    builder.download_and_prepare()
  assert urls == ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'], urls

  # 2. FFHQ / CelebA-HQ tfrecords as the original reads them: shape [C, H, W], raw data.
  ffhq = rng.integers(0, 256, (_FFHQ_COUNT,) + _FFHQ_SHAPE, dtype=np.uint8)
  with tf.io.TFRecordWriter(os.path.join(root, 'ffhq-r04.tfrecords')) as writer:
    for img in ffhq:
      feature = {
          'shape': tf.train.Feature(int64_list=tf.train.Int64List(value=list(img.shape))),
          'data': tf.train.Feature(bytes_list=tf.train.BytesList(value=[img.tobytes()])),
      }
      writer.write(tf.train.Example(
          features=tf.train.Features(feature=feature)).SerializeToString())
  out['ffhq'] = ffhq.transpose(0, 2, 3, 1)

  # 3. The original's TensorFlow preprocessing, in level space (x 255).
  def to_float(img):
    return tf.image.convert_image_dtype(tf.constant(img), tf.float32)

  def resize_small(img, res):
    h, w = img.shape[0], img.shape[1]
    ratio = res / min(h, w)
    return tf.image.resize(img, [int(round(h * ratio)), int(round(w * ratio))], antialias=True)

  def central_crop(img, size):
    return tf.image.crop_to_bounding_box(
        img, (img.shape[0] - size) // 2, (img.shape[1] - size) // 2, size, size)

  celeba = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
  out['celeba_in'] = celeba
  out['celeba_tf'] = resize_small(central_crop(to_float(celeba), 140), 64).numpy() * 255.
  lsun = rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)
  out['lsun_in'] = lsun
  out['lsun128_tf'] = central_crop(resize_small(to_float(lsun), 128), 128).numpy() * 255.
  # crop_resize before its uint8 cast: square centre crop, bicubic antialiased resize.
  crop = lsun[:, 25:175]
  out['lsun_cubic_tf'] = tf.image.resize(crop, (64, 64), antialias=True,
                                         method=tf.image.ResizeMethod.BICUBIC).numpy()
  out['cifar16_tf'] = tf.image.resize(to_float(out['train_images'][0]), [16, 16],
                                      antialias=True).numpy() * 255.
  np.savez(os.path.join(root, 'expected.npz'), **out)


@pytest.fixture(scope='module')
def made(tmp_path_factory):
  if importlib.util.find_spec('tensorflow') is None:
    pytest.skip('needs TensorFlow to write the dataset files (an optional extra: '
                'pip install -r requirements-extras.txt)')
  root = str(tmp_path_factory.mktemp('tf_made'))
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', CUDA_VISIBLE_DEVICES='',
             PYTHONPATH=os.pathsep.join([repo, os.environ.get('PYTHONPATH', '')]))
  proc = subprocess.run([sys.executable, os.path.abspath(__file__), root], env=env,
                        capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
  return root, dict(np.load(os.path.join(root, 'expected.npz')))


def _cifar_config(data_dir):
  config = ml_collections.ConfigDict()
  config.data = ml_collections.ConfigDict(dict(
      dataset='CIFAR10', image_size=32, num_channels=3, random_flip=False, centered=False,
      uniform_dequantization=False, data_dir=data_dir))
  config.training = ml_collections.ConfigDict(dict(batch_size=4))
  config.eval = ml_collections.ConfigDict(dict(batch_size=4))
  config.seed = 0
  return config


@pytest.mark.parametrize('split', ['train', 'test'])
def test_cifar10_builder_output_read_back_exactly(made, split):
  """Every (image, label) the real builder wrote from the binary files reads back identically."""
  root, expected = made
  images, labels = expected[f'{split}_images'], expected[f'{split}_labels']
  src = sources.TfdsSource('CIFAR10', split, 32, 3, data_dir=os.path.join(root, 'tfds'),
                           num_threads=2)
  assert len(src) == len(images)
  got, got_labels = src.examples(range(len(src)))
  assert got.dtype == np.float32 and got.shape == images.shape
  written = {img.tobytes(): int(lab) for img, lab in zip(images, labels)}
  seen = set()
  for img, lab in zip(got, got_labels):
    key = img.astype(np.uint8).tobytes()
    assert np.array_equal(img, img.astype(np.uint8))   # integer levels, unchanged
    assert key in written and written[key] == lab
    seen.add(key)
  assert seen == set(written)


def test_cifar10_model_space_through_get_dataset(made):
  """get_dataset's ordered pass over the prepared test split gives k/255 of the written pixels."""
  root, expected = made
  ds = data.get_dataset(_cifar_config(os.path.join(root, 'tfds')), 'test', evaluation=True,
                        process_index=0, process_count=1)
  assert (ds.num_examples, ds.num_levels, ds.image_shape) == (4, 256, (32, 32, 3))
  (x, mask), = list(ds.epoch_batches())
  assert mask.all() and x.dtype == np.float32
  got = sorted(np.rint(x * 255.).astype(np.uint8).tobytes() for x in x)
  assert got == sorted(img.tobytes() for img in expected['test_images'])
  np.testing.assert_allclose(x * 255., np.rint(x * 255.), atol=1e-4)


def test_reading_prepared_cifar10_does_not_import_tensorflow(made):
  """A fresh process reads batches of the prepared dataset without ever importing TensorFlow."""
  root, _ = made
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  script = (
      "import sys, ml_collections as mc\n"
      "import data\n"
      "c = mc.ConfigDict()\n"
      f"c.data = mc.ConfigDict(dict(dataset='CIFAR10', image_size=32, num_channels=3, "
      f"random_flip=True, centered=True, uniform_dequantization=True, "
      f"data_dir={os.path.join(root, 'tfds')!r}))\n"
      "c.training = mc.ConfigDict(dict(batch_size=8)); c.seed = 1\n"
      "ds = data.get_dataset(c, 'train', process_index=0, process_count=1)\n"
      "x = ds.batch(3)\n"
      "assert x.shape == (8, 32, 32, 3) and -1 <= x.min() and x.max() < 1, (x.shape, x.min())\n"
      "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
      "print('ok')\n")
  proc = subprocess.run([sys.executable, '-c', script], cwd=repo, capture_output=True,
                        text=True, timeout=120, check=False)
  assert proc.returncode == 0 and 'ok' in proc.stdout, proc.stderr[-3000:]


def test_tfrecord_reader_reads_tensorflow_written_examples(made):
  """data.tfrecord parses TF-written tf.train.Examples: every image equals what was written."""
  root, expected = made
  records = tfrecord.TFRecordFile(os.path.join(root, 'ffhq-r04.tfrecords'))
  assert len(records) == _FFHQ_COUNT
  example = tfrecord.parse_example(records[2])
  assert example['shape'] == list(_FFHQ_SHAPE)
  for i in range(_FFHQ_COUNT):
    np.testing.assert_array_equal(tfrecord.decode_image(records[i]), expected['ffhq'][i])
  records.close()


def test_ffhq_dataset_from_tfrecords_and_prepare_check(made, capsys):
  """get_dataset('FFHQ') serves the tfrecords' images; a wrong image_size fails naming the field."""
  root, expected = made
  path = os.path.join(root, 'ffhq-r04.tfrecords')
  config = _cifar_config(None)
  config.data.dataset = 'FFHQ'
  config.data.image_size = 16
  config.data.tfrecords_path = path
  ds = data.get_dataset(config, 'test', evaluation=True, batch_size=4, process_index=0,
                        process_count=1)
  batches = list(ds.epoch_batches())
  x = np.concatenate([b for b, _ in batches])
  mask = np.concatenate([m for _, m in batches])
  assert mask.tolist() == [True] * _FFHQ_COUNT + [False] * 3
  np.testing.assert_allclose(x[mask] * 255., expected['ffhq'], atol=1e-4)
  config.data.image_size = 32
  with pytest.raises(ValueError, match='image_size=32'):
    data.get_dataset(config, 'train', process_index=0, process_count=1)
  assert prepare.main(['--dataset', 'FFHQ', '--tfrecords_path', path]) == 0
  assert '5 records of shape (16, 16, 3)' in capsys.readouterr().out


def test_numpy_crops_and_resizes_match_the_original_tensorflow_ops(made):
  """CelebA (crop 140, resize 64), LSUN-128 and LSUN bicubic paths equal TF's to float32 rounding."""
  _, e = made
  np.testing.assert_allclose(transforms.preprocess('CELEBA', e['celeba_in'], 64),
                             e['celeba_tf'], atol=1e-2)
  np.testing.assert_allclose(transforms.preprocess('LSUN', e['lsun_in'], 128),
                             e['lsun128_tf'], atol=1e-2)
  crop = e['lsun_in'][:, 25:175].astype(np.float32)
  np.testing.assert_allclose(transforms.resize(crop, (64, 64), 'cubic'), e['lsun_cubic_tf'],
                             atol=1e-2)
  expected_uint8 = np.trunc(np.clip(e['lsun_cubic_tf'], 0, 255))
  assert np.mean(transforms.preprocess('LSUN', e['lsun_in'], 64) == expected_uint8) > 0.999
  np.testing.assert_allclose(transforms.preprocess('CIFAR10', e['train_images'][0], 16),
                             e['cifar16_tf'], atol=1e-2)


if __name__ == '__main__':
  _make_with_tensorflow(sys.argv[1])
