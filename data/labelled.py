"""Images with their class labels, for training and using classifiers.

    ds = data.labelled.get_labelled_dataset(config, 'train')
    x, y = ds.batch(step)    # x as `data.get_dataset(...).batch(step)`, y int32 (B,) class labels

The images are exactly those of `data.get_dataset` (same order, flips and
dequantisation, the same pure function of (seed, step)); the labels are
looked up for the same example indices, so resuming stays exact.
"""
import numpy as np

LABELLED_DATASETS = ('DIGITS', 'DIGITS_RGB', 'CIFAR10', 'SVHN')


def _label_lookup(config, split, ds):
  name = config.data.dataset
  if name in ('DIGITS', 'DIGITS_RGB'):   # the same split and labels
    from data import digits  # pylint: disable=import-outside-toplevel
    labels = digits.load_split(split)[1]
    return lambda idx: labels[np.asarray(idx, np.int64)]
  if name in LABELLED_DATASETS:
    return ds.source.labels
  raise ValueError(f"config.data.dataset={name!r} has no class labels; a classifier needs one "
                   f"of: {', '.join(LABELLED_DATASETS)}")


class LabelledDataset:
  """`batch(step) -> (images, labels)` over an `ImageDataset`."""

  def __init__(self, config, split, **kwargs):
    import data  # pylint: disable=import-outside-toplevel
    self.images = data.get_dataset(config, split, **kwargs)
    self._labels = _label_lookup(config, split, self.images)

  def batch(self, step):
    x = self.images.batch(step)
    y = np.asarray(self._labels(self.images.example_indices(step)), np.int32)
    return x, y


def get_labelled_dataset(config, split='train', **kwargs):
  """`LabelledDataset` of `config.data.dataset` (kwargs as `data.get_dataset`)."""
  return LabelledDataset(config, split, **kwargs)
