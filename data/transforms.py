"""Image transforms in numpy: the original score_sde's crops and resizes, without TensorFlow.

The original preprocesses with `tf.image.resize(..., antialias=True)`; its
antialiased resize is a separable filter: output pixel i samples the input at
s_i = (i + 1/2) * in/out - 1/2 with the kernel (triangle for bilinear, Keys
cubic with a = -1/2 for bicubic) stretched by max(in/out, 1) when shrinking,
and the weights of each output pixel normalised to sum to one. `resize` builds
those weight matrices once per (size, method) and applies them as two matrix
products, so the host pipeline needs numpy only. Tests check it against
`jax.image.resize` and against TensorFlow itself.

Images here are float32 in *level space*: values in [0, L-1] for a dataset of
L integer levels (an unresized image is exactly its integer levels).

The data scaling v in [0, 1] <-> model space (`data.centered`) is
`utils.scaling`'s, re-exported here as `to_model_space` / `from_model_space`.
"""
import functools

import numpy as np

from utils.scaling import from_model_space, to_model_space  # noqa: F401 (re-exported)

RESIZE_METHODS = ('linear', 'cubic')


def _triangle(x):
  return np.maximum(0., 1. - np.abs(x))


def _keys_cubic(x, a=-0.5):
  x = np.abs(x)
  inner = ((a + 2.) * x - (a + 3.)) * x * x + 1.
  outer = ((a * x - 5. * a) * x + 8. * a) * x - 4. * a
  return np.where(x <= 1., inner, np.where(x < 2., outer, 0.))


_KERNELS = {'linear': _triangle, 'cubic': _keys_cubic}


@functools.lru_cache(maxsize=64)
def resize_weights(in_size: int, out_size: int, method: str = 'linear',
                   antialias: bool = True) -> np.ndarray:
  """The (out_size, in_size) float32 matrix of a 1-D antialiased resize."""
  if method not in _KERNELS:
    raise ValueError(f"method={method!r} is not a resize method; allowed: "
                     f"{', '.join(RESIZE_METHODS)}")
  if in_size < 1 or out_size < 1:
    raise ValueError(f"sizes must be positive, got in_size={in_size}, out_size={out_size}")
  ratio = in_size / out_size
  stretch = max(ratio, 1.) if antialias else 1.
  sample = (np.arange(out_size) + 0.5) * ratio - 0.5
  w = _KERNELS[method]((np.arange(in_size)[None, :] - sample[:, None]) / stretch)
  total = w.sum(axis=1, keepdims=True)
  # A row whose weights nearly cancel has no meaningful value (cannot happen for
  # these kernels and a pure resize, but a zero row beats a division blow-up).
  w = np.where(np.abs(total) > 1e-4, w / np.where(total == 0., 1., total), 0.)
  return w.astype(np.float32)


def resize(image: np.ndarray, size, method: str = 'linear', antialias: bool = True) -> np.ndarray:
  """Resizes an (H, W, C) image to `size = (h, w)` as `tf.image.resize(antialias=True)` does."""
  h, w = int(size[0]), int(size[1])
  image = np.asarray(image, np.float32)
  in_h, in_w = image.shape[:2]
  if (in_h, in_w) == (h, w) and method == 'linear':
    return image  # the triangle kernel at unit scale is the identity
  rows = resize_weights(in_h, h, method, antialias)
  cols = resize_weights(in_w, w, method, antialias)
  out = (rows @ image.reshape(in_h, -1)).reshape(h, in_w, -1)
  return np.matmul(cols, out)


def central_crop(image: np.ndarray, size: int) -> np.ndarray:
  """The centred size x size crop (as `tf.image.crop_to_bounding_box` with top-left floor offsets)."""
  h, w = image.shape[:2]
  if size > h or size > w:
    raise ValueError(f"cannot crop {size}x{size} from an image of shape {image.shape}")
  top, left = (h - size) // 2, (w - size) // 2
  return image[top:top + size, left:left + size]


def resize_small(image: np.ndarray, resolution: int) -> np.ndarray:
  """Bilinear antialiased resize so the shorter side is `resolution` (aspect kept)."""
  h, w = image.shape[:2]
  ratio = resolution / min(h, w)
  # np.round rounds half to even, as tf.round does.
  return resize(image, (int(np.round(h * ratio)), int(np.round(w * ratio))), 'linear')


def crop_resize(image: np.ndarray, resolution: int) -> np.ndarray:
  """Centre square crop, bicubic antialiased resize, then back to integer levels.

  The original casts the resized float image to uint8 (truncation); values the
  cubic kernel's overshoot puts outside [0, 255] are clipped here first.
  """
  h, w = image.shape[:2]
  crop = min(h, w)
  image = image[(h - crop) // 2:(h + crop) // 2, (w - crop) // 2:(w + crop) // 2]
  image = resize(image, (resolution, resolution), 'cubic')
  return np.trunc(np.clip(image, 0., 255.)).astype(np.float32)


def preprocess(dataset: str, image: np.ndarray, image_size: int) -> np.ndarray:
  """The original's per-dataset crop/resize, in level space (float32, 0..255).

  CIFAR10, SVHN: bilinear antialiased resize to image_size (the identity at
  32). CELEBA: centre crop 140, then the shorter side to image_size. LSUN:
  for 128, the shorter side to 128 then a centre crop; otherwise a centre
  square crop and a bicubic resize, truncated to integer levels. FFHQ and
  CelebAHQ are stored at their resolution and used as they are.
  """
  image = np.asarray(image, np.float32)
  if dataset in ('CIFAR10', 'SVHN'):
    return resize(image, (image_size, image_size), 'linear')
  if dataset == 'CELEBA':
    return resize_small(central_crop(image, 140), image_size)
  if dataset == 'LSUN':
    if image_size == 128:
      return central_crop(resize_small(image, image_size), image_size)
    return crop_resize(image, image_size)
  if dataset in ('FFHQ', 'CelebAHQ', 'DIGITS'):
    if image.shape[0] != image_size or image.shape[1] != image_size:
      raise ValueError(f"{dataset} images are {image.shape[0]}x{image.shape[1]} but "
                       f"config.data.image_size={image_size}; {dataset} is used at the "
                       "resolution it is stored at")
    return image
  raise ValueError(f"no preprocessing for dataset {dataset!r}")


def levels_to_model_space(levels, num_levels: int, centered: bool, noise=None):
  """Integer levels k in {0..L-1} (or level-space floats) to model space.

  Without `noise`: v = k / (L - 1), so 0 and L-1 map to exactly 0 and 1.
  With `noise` u in [0, 1) (uniform dequantisation): v = (k + u) / L, in
  [k/L, (k+1)/L) (floating-point rounding of k + u can reach the upper end
  when u is within an ulp of 1: about 1e-6 of float32 pixels, harmless).
  Then x = 2v - 1 when `centered`, else x = v.

  Integer input gives float32; floating input keeps its dtype.
  """
  levels = np.asarray(levels)
  dtype = levels.dtype if np.issubdtype(levels.dtype, np.floating) else np.float32
  k = levels.astype(dtype, copy=False)
  if noise is None:
    v = k / np.asarray(num_levels - 1, dtype)
  else:
    v = (k + np.asarray(noise, dtype)) / np.asarray(num_levels, dtype)
  return np.asarray(to_model_space(v, centered)).astype(dtype, copy=False)
