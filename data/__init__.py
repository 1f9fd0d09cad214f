"""Image datasets for training and evaluation, and the one data convention.

The convention (what every other module assumes about images)
-------------------------------------------------------------
A dataset has L integer levels per pixel, k in {0, ..., L-1}: L = 256 for the
8-bit datasets, L = 17 for the built-in digits (`num_levels(config)`).

- Without dequantisation (`data.uniform_dequantization = False`), the value in
  [0, 1] is v = k / (L - 1): the original score_sde's
  `tf.image.convert_image_dtype` (k / 255).
- With `data.uniform_dequantization = True`, v = (k + u) / L with
  u ~ U[0, 1) per pixel, in [0, 1): the original's (x * 255 + u) / 256.
- Model space is x = 2v - 1 in [-1, 1] when `data.centered`, else x = v.
  `get_data_scaler(config)` maps v to x, `get_data_inverse_scaler(config)` x
  back to v (for display).

`likelihood.bits_per_dim(logp, event_shape, num_levels, centered)` assumes
the dequantised form v = (k + u) / L: the discrete probability of k is the
density of v integrated over a cube of side 1/L. So bits/dim must be computed
on data read with uniform dequantisation (`get_dataset(config, 'test',
evaluation=True, uniform_dequantization=True)`), whatever the model was
trained on. Datasets that the original resizes to non-native sizes (CelebA,
LSUN at 128) have non-integer "levels" after the antialiased resize, exactly
as in the original; their bits/dim are then as approximate as the original's.

Datasets (`config.data.dataset`)
--------------------------------
- 'DIGITS': scikit-learn's 8x8 digits, built in (`data.digits`), 1 channel,
  17 levels; image_size 8.
- 'DIGITS_RGB': the same digits tinted by their class (`data.digits_rgb`), 3
  channels, 49 levels; a colorization toy with a known answer.
- 'CIFAR10', 'SVHN' (cropped), 'CELEBA' (centre crop 140, resize to
  image_size), 'LSUN' (`data.category`, e.g. 'bedroom'): TFDS datasets read
  through `tfds.data_source` (array_record random access, decoded with PIL),
  with no TensorFlow in the reading process. Prepare each once with
  `python -m data.prepare --dataset CIFAR10 [--data_dir DIR]` (that step needs
  tensorflow, tensorflow-datasets and the network). `data.data_dir` (the image
  configs set '') is the TFDS data directory; '' or absent: TFDS's default
  (~/tensorflow_datasets or $TFDS_DATA_DIR).
- 'FFHQ', 'CelebAHQ': the original tfrecords file at `data.tfrecords_path`
  (one file per resolution), read directly by `data.tfrecord` without
  TensorFlow and without a conversion step. Train and test are both the whole
  file, as in the original.

The API
-------
    ds = data.get_dataset(config, 'train')            # or 'test'
    x = ds.batch(step)          # float32 (B / process_count, H, W, C), model space
    for step, x in ds.iterate(start_step):  ...       # the same batches, prefetched
    for x, mask in data.get_dataset(config, 'test', evaluation=True).epoch_batches():
      ...                       # one ordered pass; mask is False on the padding
    ds.num_examples, ds.num_levels, ds.image_shape, ds.batch_size, ds.local_batch_size

`batch(step)` is a pure function of (config.seed, split, step, process index):
resuming at step N gives exactly the batches of an uninterrupted run. Each
host reads its own B / process_count slice of global batch `step`. For
`training.n_jitted_steps = k`, stack `batch(s), ..., batch(s + k - 1)`. See
`data.pipeline` for the details. Random flips apply to training reads only
(`evaluation=False` and `data.random_flip`), as in the original.

The 2-D toy distributions live in `data.toy` and have their own API.
`get_train_source(config, split)` gives either kind by `config.data.dataset`
(`is_toy`), and `get_inverse_scaler(config)` its display map (None for toy
points, shown as they are): the one place that tells toy data from images.
"""
from data.pipeline import ImageDataset
from data import transforms
from data.transforms import levels_to_model_space
from utils import checks, config_checks

IMAGE_DATASETS = config_checks.IMAGE_DATASETS
_NUM_CHANNELS = {'DIGITS': 1}

__all__ = ['IMAGE_DATASETS', 'ImageDataset', 'get_data_inverse_scaler', 'get_data_scaler',
           'get_dataset', 'levels_to_model_space', 'num_levels']


def _field(config, name, kind, default=None, required=True):
  data = config.data
  if name not in data:
    if required:
      raise ValueError(f"config.data.{name} is missing")
    return default
  value = data[name]
  if value is None and not required:
    return default
  if kind is bool:
    checks.require_bool(f'config.data.{name}', value)
  if kind is int:
    checks.require_positive_int(f'config.data.{name}', value)
  if kind is str and not isinstance(value, str):
    raise ValueError(f"config.data.{name}={value!r} must be a string")
  return value


def _dataset_name(config):
  name = _field(config, 'dataset', str)
  if name not in IMAGE_DATASETS:
    raise ValueError(f"config.data.dataset={name!r} is not an image dataset; allowed: "
                     f"{', '.join(IMAGE_DATASETS)}")
  return name


def num_levels(config) -> int:
  """Integer levels per pixel of `config.data.dataset`: 17 for DIGITS, 49 for DIGITS_RGB,
  else 256."""
  from data import digits, digits_rgb  # pylint: disable=import-outside-toplevel
  name = _dataset_name(config)
  return {'DIGITS': digits.NUM_LEVELS, 'DIGITS_RGB': digits_rgb.NUM_LEVELS}.get(name, 256)


def get_data_scaler(config):
  """v in [0, 1] -> model space: 2v - 1 when `config.data.centered`, else v. Keeps the dtype."""
  centered = _field(config, 'centered', bool)
  return lambda v: transforms.to_model_space(v, centered)


def get_data_inverse_scaler(config):
  """Model space -> [0, 1] (for display): the inverse of `get_data_scaler`. Keeps the dtype."""
  centered = _field(config, 'centered', bool)
  return lambda x: transforms.from_model_space(x, centered)


def is_toy(config) -> bool:
  """Whether `config.data.dataset` is a 2-D toy distribution (`data.toy`), not images."""
  from data import toy  # pylint: disable=import-outside-toplevel
  return config.data.dataset in toy.TOY_DATASETS


def get_train_source(config, split: str = 'train'):
  """The `batch(step)` source of this host's training-style batches of `split`:
  a `toy.ToyDataset` for toy data, else `get_dataset(config, split)` (random flips as
  in training; `split='test'` is the original's eval batches during training)."""
  if is_toy(config):
    from data import toy  # pylint: disable=import-outside-toplevel
    return toy.ToyDataset(config.data.dataset, config.seed, config.training.batch_size,
                          split=split)
  return get_dataset(config, split)


def get_inverse_scaler(config):
  """Model space -> [0, 1] for image data (`get_data_inverse_scaler`); None for toy data."""
  return None if is_toy(config) else get_data_inverse_scaler(config)


def get_dataset(config, split: str = 'train', *, evaluation: bool = False, batch_size=None,
                uniform_dequantization=None, seed=None, process_index=None,
                process_count=None, num_threads=None) -> ImageDataset:
  """One split of `config.data.dataset` as an `ImageDataset`.

  Args:
    config: the experiment config; reads `data.{dataset, image_size,
      num_channels, random_flip, centered, uniform_dequantization}`, and
      `data.category` (LSUN), `data.tfrecords_path` (FFHQ, CelebAHQ),
      `data.data_dir` (TFDS, optional), `training.batch_size` /
      `eval.batch_size`, `seed`.
    split: 'train' or 'test' ('test' is the dataset's evaluation split: test
      for CIFAR10/SVHN/DIGITS, validation for CELEBA/LSUN, all for FFHQ/CelebAHQ).
    evaluation: no random flips; the default batch size is `eval.batch_size`.
    batch_size: global batch size; default `training.batch_size`, or
      `eval.batch_size` when `evaluation`.
    uniform_dequantization: overrides `data.uniform_dequantization` (bits/dim
      evaluation needs True).
    seed: overrides `config.seed`.
    process_index, process_count: this host and the number of hosts; default
      `jax.process_index()`, `jax.process_count()`.
    num_threads: decoding threads for TFDS / tfrecord sources.
  """
  name = _dataset_name(config)
  image_size = _field(config, 'image_size', int)
  channels = _field(config, 'num_channels', int)
  expected_channels = _NUM_CHANNELS.get(name, 3)
  if channels != expected_channels:
    raise ValueError(f"config.data.num_channels={channels} but {name} has "
                     f"{expected_channels} channel(s)")
  random_flip = _field(config, 'random_flip', bool)
  centered = _field(config, 'centered', bool)
  if uniform_dequantization is None:
    uniform_dequantization = _field(config, 'uniform_dequantization', bool)
  if split not in ('train', 'test'):
    raise ValueError(f"split={split!r} is not a split; allowed: train, test")
  if batch_size is None:
    section = config.eval if evaluation else config.training
    batch_size = section.batch_size
  if seed is None:
    seed = config.seed
  if process_index is None or process_count is None:
    import jax  # pylint: disable=import-outside-toplevel
    process_index = jax.process_index() if process_index is None else process_index
    process_count = jax.process_count() if process_count is None else process_count
  source = _make_source(config, name, split, image_size, channels, num_threads)
  return ImageDataset(
      source, split=split, num_levels=num_levels(config), batch_size=batch_size, seed=seed,
      random_flip=random_flip and not evaluation,
      uniform_dequantization=uniform_dequantization, centered=centered,
      process_index=process_index, process_count=process_count)


def _make_source(config, name, split, image_size, channels, num_threads):
  # pylint: disable=import-outside-toplevel
  from data import sources, transforms
  if name == 'DIGITS':
    from data import digits
    images, _ = digits.load_split(split)
    transforms.preprocess(name, images[0], image_size)  # checks image_size
    return sources.ArraySource(images)
  if name == 'DIGITS_RGB':
    from data import digits_rgb
    images, _ = digits_rgb.load_split(split)
    transforms.preprocess('DIGITS', images[0], image_size)  # checks image_size
    return sources.ArraySource(images)
  if name in ('FFHQ', 'CelebAHQ'):
    path = _field(config, 'tfrecords_path', str)
    return sources.TFRecordSource(name, path, image_size, channels, num_threads)
  category = _field(config, 'category', str) if name == 'LSUN' else None
  data_dir = _field(config, 'data_dir', str, required=False) or None   # '' = TFDS's default
  return sources.TfdsSource(name, split, image_size, channels, data_dir=data_dir,
                            category=category, num_threads=num_threads)
