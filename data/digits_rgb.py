"""A 3-channel toy with a known colour: the built-in digits tinted by their class.

`config.data.dataset = 'DIGITS_RGB'` (configs/digits/ddpmpp_vp_rgb.py). Each
8x8 digit of `data.digits` (grey level k in 0..16) is multiplied by the tint of
its class, one of the ten compositions of 3 into three non-negative integer
parts (`TINTS`: red, green, blue, the six two-colour mixes, and white):

    level[..., c] = k * TINTS[label][c]      in 0..48, so NUM_LEVELS = 49

The known answer. Every tint's components sum to 3, so the channel sum of a
pixel is 3k and its channel mean is exactly the grey digit's level k: in [0, 1]
(v = level / 48), the channel mean of a tinted digit is (k / 16) / 3, the
grey digit scaled by 1/3. The colour given the grey image is then a function
of the digit's class alone: a colorizer that recognises the digit recovers
the true image exactly. (A tint drawn independently of the digit would make
the grey image carry no information about it: every colorizer, the exact
posterior included, would find it at chance 1/10, so the toy could not tell
a working colorizer from a random tint.)

`tint_index(images)` reads the tint back from a coloured image (the nearest
tint to its channel sums' proportions), which scores a colorization by the
fraction of recovered tints equal to the true one.

The split is that of `data.digits` (1437 train, 360 test, same order), so the
labels are `data.digits.load_split(split)[1]`.
"""
import numpy as np

from data import digits

NUM_LEVELS = 49          # 16 grey levels x tint components up to 3, plus 0
IMAGE_SHAPE = (8, 8, 3)
# All (r, g, b) with r + g + b = 3: the tint of class c is TINTS[c].
TINTS = np.array([(3, 0, 0), (0, 3, 0), (0, 0, 3), (2, 1, 0), (2, 0, 1),
                  (1, 2, 0), (0, 2, 1), (1, 0, 2), (0, 1, 2), (1, 1, 1)], np.uint8)
TINT_SUM = 3
# Channel mean of a tinted digit in [0, 1] = GREY_SCALE * (the grey digit in [0, 1]):
# k / 48 = (k / 16) / 3.
GREY_SCALE = (digits.NUM_LEVELS - 1) / (NUM_LEVELS - 1)


def load_split(split: str):
  """One split of the tinted digits: `(images, labels)`.

  Returns:
    images: uint8 (n, 8, 8, 3) levels in 0..48, the grey digit k times TINTS[label].
    labels: int64 (n,) digit classes 0..9 (also the tint indices).
  """
  grey, labels = digits.load_split(split)
  images = grey.astype(np.uint8) * TINTS[labels][:, None, None, :]
  return images.astype(np.uint8), labels


def tint_index(images) -> np.ndarray:
  """The index into TINTS nearest to each image's colour: (n, H, W, 3) in [0, 1] -> (n,).

  The colour is the image's channel sums, normalised to sum TINT_SUM; an
  all-black image gets the white tint's index (its colour is undefined).
  """
  images = np.asarray(images, np.float64)
  if images.ndim != 4 or images.shape[-1] != 3:
    raise ValueError(f"images must be (n, H, W, 3), got shape {images.shape}")
  sums = np.clip(images, 0., None).sum(axis=(1, 2))
  total = sums.sum(-1, keepdims=True)
  colour = np.where(total > 0, TINT_SUM * sums / np.where(total > 0, total, 1.), 1.)
  dist = np.square(colour[:, None, :] - TINTS[None].astype(np.float64)).sum(-1)
  return np.argmin(dist, axis=1)
