"""Inpainting masks from a text spec (`config.controllable.mask`), and class-label specs.

Mask specs (MASK_SPECS; 1 = known pixel, 0 = to inpaint; a pixel is known or
unknown in all its channels):
  'center'            the central (H/2) x (W/2) square is unknown
  'left_half'         the left half is known, the right half unknown
  'random_pixels:P'   each pixel unknown with probability P in (0, 1), drawn per image
  a path ending .png  a greyscale image of the data's H x W: white (>= 128) = known

Label specs (LABEL_SPECS), for `num_classes` classes and n samples:
  'all'               each class in turn, n / num_classes of each, class-sorted
                      (10 x 10 for 100 samples: one class per grid row)
  'I,J,...'           these class indices, repeated to n
"""
import os

import numpy as np

MASK_SPECS = ('center', 'left_half', 'random_pixels:P', 'PATH.png')
LABEL_SPECS = ('all', 'comma-separated class indices')


def _bad_mask(spec, why, field):
  return ValueError(f"{field}={spec!r} {why}; allowed: {', '.join(MASK_SPECS)} (P in (0, 1))")


def check_mask_spec(spec, field='config.controllable.mask'):
  """Raises ValueError unless `spec` is a mask spec; returns (kind, argument)."""
  if not isinstance(spec, str):
    raise _bad_mask(spec, 'is not a string', field)
  if spec in ('center', 'left_half'):
    return spec, None
  if spec.startswith('random_pixels:'):
    try:
      p = float(spec.split(':', 1)[1])
    except ValueError:
      raise _bad_mask(spec, 'has no number after the colon', field) from None
    if not 0. < p < 1.:
      raise _bad_mask(spec, f'has P={p}, outside (0, 1)', field)
    return 'random_pixels', p
  if spec.lower().endswith('.png'):
    if not os.path.isfile(spec):
      raise _bad_mask(spec, 'is not an existing file', field)
    return 'png', spec
  raise _bad_mask(spec, 'is not a mask', field)


def make_mask(spec, shape, seed=0, field='config.controllable.mask'):
  """float32 mask of `shape` = (n, H, W, C) for `spec` (module docstring), 1 = known."""
  kind, arg = check_mask_spec(spec, field)
  n, h, w, c = shape
  if kind == 'center':
    m = np.ones((h, w), np.float32)
    m[h // 4:h // 4 + h // 2, w // 4:w // 4 + w // 2] = 0.
  elif kind == 'left_half':
    m = np.ones((h, w), np.float32)
    m[:, w // 2:] = 0.
  elif kind == 'random_pixels':
    rng = np.random.default_rng([int(seed), 0x3A5])
    m = (rng.random((n, h, w)) >= arg).astype(np.float32)
  else:
    from PIL import Image  # pylint: disable=import-outside-toplevel
    with Image.open(arg) as img:
      m = np.asarray(img.convert('L'))
    if m.shape != (h, w):
      raise ValueError(f"{field}={spec!r} is a {m.shape[0]}x{m.shape[1]} image (HxW); the data "
                       f"is {h}x{w}: the mask must have the data's height and width")
    m = (m >= 128).astype(np.float32)
  m = np.broadcast_to(m[..., None] if m.ndim == 3 else m[None, :, :, None], (n, h, w, 1))
  return np.ascontiguousarray(np.broadcast_to(m, (n, h, w, c)))


def parse_labels(spec, n, num_classes, field='config.controllable.labels'):
  """int32 (n,) class labels for `spec` (module docstring), each checked in [0, num_classes)."""
  allowed = (f"allowed: 'all' or comma-separated class indices in 0..{num_classes - 1}")
  if not isinstance(spec, str) or not spec.strip():
    raise ValueError(f"{field}={spec!r} is not a label spec; {allowed}")
  if spec.strip() == 'all':
    per = -(-n // num_classes)
    return np.repeat(np.arange(num_classes, dtype=np.int32), per)[:n]
  try:
    labels = np.asarray([int(v) for v in spec.split(',')], np.int32)
  except ValueError:
    raise ValueError(f"{field}={spec!r} is not a label spec; {allowed}") from None
  bad = labels[(labels < 0) | (labels >= num_classes)]
  if bad.size:
    raise ValueError(f"{field}={spec!r} holds class {int(bad[0])}, out of range; {allowed}")
  return np.resize(labels, n)
