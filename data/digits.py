"""The built-in image dataset: scikit-learn's 8x8 handwritten digits.

1797 greyscale images with integer grey levels 0..16 (`NUM_LEVELS = 17`),
shipped inside scikit-learn, so the whole pipeline (training, sampling,
bits/dim) runs on a laptop CPU with no download. The train/test split is a
fixed permutation (numpy `default_rng(0)`) that never changes: 1437 train,
360 test; results on it are comparable across runs and versions.
"""
import functools

import numpy as np

NUM_LEVELS = 17          # grey levels 0..16
IMAGE_SHAPE = (8, 8, 1)
NUM_EXAMPLES = 1797
NUM_TEST = 360
SPLITS = ('train', 'test')


@functools.lru_cache(maxsize=1)
def _load_all():
  from sklearn.datasets import load_digits  # pylint: disable=import-outside-toplevel
  digits = load_digits()
  images = digits.images
  if images.shape != (NUM_EXAMPLES, 8, 8):
    raise RuntimeError(f"scikit-learn's digits have shape {images.shape}, expected "
                       f"({NUM_EXAMPLES}, 8, 8); this split would not be the documented one")
  levels = np.rint(images).astype(np.uint8)[..., None]
  labels = digits.target.astype(np.int64)
  # The permutation is the split's definition: never change the seed or sizes.
  perm = np.random.default_rng(0).permutation(NUM_EXAMPLES)
  return levels, labels, perm[NUM_TEST:], perm[:NUM_TEST]


def split_indices(split: str) -> np.ndarray:
  """Indices into `sklearn.datasets.load_digits()` of the examples of `split`."""
  if split not in SPLITS:
    raise ValueError(f"split={split!r} is not a digits split; allowed: {', '.join(SPLITS)}")
  _, _, train, test = _load_all()
  return (train if split == 'train' else test).copy()


def load_split(split: str):
  """One split of the digits: `(images, labels)`.

  Args:
    split: 'train' (1437 examples) or 'test' (360 examples).

  Returns:
    images: uint8 array (n, 8, 8, 1) of grey levels in 0..16.
    labels: int64 array (n,) of the digit classes 0..9.
  """
  levels, labels, _, _ = _load_all()
  idx = split_indices(split)
  return levels[idx], labels[idx]
