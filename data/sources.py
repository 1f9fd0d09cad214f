"""Random-access image sources: an example index in, level-space images out.

A source holds one split and answers `levels(indices)` with a float32 array
(n, H, W, C) in level space ([0, L-1], the dataset's crop/resize applied), so
the iterator in `data.pipeline` can draw any examples in any order: that is
what makes batches a pure function of the step.

- `ArraySource`: images already in memory (the digits).
- `TfdsSource`: a TFDS dataset prepared in the array_record format, read
  through `tfds.data_source` random access and decoded with PIL: no
  TensorFlow in the reading process. Preparing it is `python -m data.prepare`.
- `TFRecordSource`: the original FFHQ / CelebA-HQ tfrecords, read by
  `data.tfrecord` (no TensorFlow, no conversion step).

Decoding and resizing run in a thread pool (PIL and numpy release the GIL).
"""
import concurrent.futures
import io
import os

import numpy as np

from data import tfrecord, transforms

# config.data.dataset -> (TFDS name, TFDS split for 'train', for 'test').
TFDS_DATASETS = {
    'CIFAR10': ('cifar10', 'train', 'test'),
    'SVHN': ('svhn_cropped', 'train', 'test'),
    'CELEBA': ('celeb_a', 'train', 'validation'),
    'LSUN': ('lsun/{category}', 'train', 'validation'),
}


def default_num_threads() -> int:
  return max(1, min(16, os.cpu_count() or 1))


class ArraySource:
  """An in-memory uint8 (n, H, W, C) array of integer levels."""

  def __init__(self, images: np.ndarray):
    images = np.asarray(images)
    if images.ndim != 4:
      raise ValueError(f"images must be (n, H, W, C), got shape {images.shape}")
    self._images = images
    self.image_shape = tuple(images.shape[1:])

  def __len__(self):
    return len(self._images)

  def levels(self, indices) -> np.ndarray:
    return self._images[np.asarray(indices, np.int64)].astype(np.float32)


class _ThreadedSource:
  """Shared part: fetch raw examples, decode + preprocess each in a thread pool."""

  def __init__(self, num_threads):
    num_threads = int(num_threads or default_num_threads())
    # Threads start on first use only.
    self._pool = (concurrent.futures.ThreadPoolExecutor(num_threads)
                  if num_threads > 1 else None)

  def _map(self, fn, items):
    if self._pool is None or len(items) <= 1:
      return [fn(item) for item in items]
    return list(self._pool.map(fn, items))


def tfds_prepare_command(dataset: str, data_dir, category=None) -> str:
  cmd = f"python -m data.prepare --dataset {dataset}"
  if category:
    cmd += f" --category {category}"
  if data_dir:
    cmd += f" --data_dir {data_dir}"
  return cmd


class TfdsSource(_ThreadedSource):
  """One split of a TFDS image dataset prepared as array_record, read without TensorFlow."""

  def __init__(self, dataset: str, split: str, image_size: int, num_channels: int,
               data_dir=None, category=None, num_threads=None):
    super().__init__(num_threads)
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
    name, train_split, test_split = TFDS_DATASETS[dataset]
    name = name.format(category=category)
    prepare = tfds_prepare_command(dataset, data_dir, category)
    try:
      builder = tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # e.g. an unknown LSUN category
      raise ValueError(f"cannot open TFDS dataset {name!r} for config.data.dataset={dataset!r}"
                       f"{f', config.data.category={category!r}' if category else ''}: {e}") from e
    if not builder.is_prepared():
      raise FileNotFoundError(
          f"TFDS dataset {name!r} is not prepared in data_dir={builder.data_dir!r}. Prepare it "
          f"once (needs tensorflow and network; see data/prepare.py):\n  {prepare}")
    formats = {f.value for f in builder.info.available_file_formats()}
    if 'array_record' not in formats:
      raise ValueError(
          f"TFDS dataset {name!r} in {builder.data_dir!r} is prepared as {sorted(formats)}, "
          "but reading without TensorFlow needs array_record. Delete that directory (or "
          f"choose another --data_dir) and run:\n  {prepare}")
    self.tfds_split = train_split if split == 'train' else test_split
    if self.tfds_split not in builder.info.splits:
      raise ValueError(f"TFDS dataset {name!r} has no split {self.tfds_split!r} (for "
                       f"split={split!r}); it has {sorted(builder.info.splits)}")
    self._source = builder.as_data_source(
        split=self.tfds_split, decoders={'image': tfds.decode.SkipDecoding()},
        file_format='array_record')
    self.dataset, self.image_size, self.num_channels = dataset, image_size, num_channels
    self.image_shape = (image_size, image_size, num_channels)

  def __len__(self):
    return len(self._source)

  def _decode(self, encoded: bytes) -> np.ndarray:
    from PIL import Image  # pylint: disable=import-outside-toplevel
    with Image.open(io.BytesIO(encoded)) as img:
      mode = 'RGB' if self.num_channels == 3 else 'L'
      if img.mode != mode:
        img = img.convert(mode)
      image = np.asarray(img, np.uint8)
    if image.ndim == 2:
      image = image[..., None]
    return transforms.preprocess(self.dataset, image, self.image_size)

  def examples(self, indices):
    """(levels float32 (n, H, W, C), labels int64 (n,) or None if the dataset has none)."""
    records = self._source.__getitems__([int(i) for i in indices])
    images = np.stack(self._map(self._decode, [r['image'] for r in records]))
    labels = (np.asarray([r['label'] for r in records], np.int64)
              if records and 'label' in records[0] else None)
    return images, labels

  def levels(self, indices) -> np.ndarray:
    return self.examples(indices)[0]

  def labels(self, indices) -> np.ndarray:
    """Class labels int64 (n,) of examples, without decoding their images."""
    records = self._source.__getitems__([int(i) for i in indices])
    if records and 'label' not in records[0]:
      raise ValueError(f"TFDS dataset {self.dataset!r} has no class labels")
    return np.asarray([r['label'] for r in records], np.int64)


class TFRecordSource(_ThreadedSource):
  """The original FFHQ / CelebA-HQ tfrecords (train = test = all records, as the original)."""

  def __init__(self, dataset: str, path: str, image_size: int, num_channels: int,
               num_threads=None):
    super().__init__(num_threads)
    self._file = tfrecord.TFRecordFile(path)
    if len(self._file) == 0:
      raise ValueError(f"config.data.tfrecords_path={path!r} holds no records")
    first = tfrecord.decode_image(self._file[0])
    if first.shape != (image_size, image_size, num_channels):
      raise ValueError(
          f"config.data.tfrecords_path={path!r} holds {first.shape} images but the config "
          f"asks for image_size={image_size}, num_channels={num_channels}; pick the "
          "tfrecords file of that resolution (the original has one per resolution)")
    self.dataset = dataset
    self.image_shape = first.shape

  def __len__(self):
    return len(self._file)

  def _load(self, i):
    return tfrecord.decode_image(self._file[i]).astype(np.float32)

  def levels(self, indices) -> np.ndarray:
    return np.stack(self._map(self._load, [int(i) for i in indices]))

