"""Pictures a person looks at: scatter plots of 2-D samples and grids of images, as PNG.

Every file is written atomically (`utils.atomic`): a killed process leaves no truncated PNG.
"""
import math
import os

import numpy as np
from PIL import Image

from utils import atomic


def save_scatter(path, points, reference=None, title=None):
  """Scatter plot of 2-D `points` (n, 2), optionally over `reference` points, as PNG."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
  if reference is not None:
    ax.scatter(reference[:, 0], reference[:, 1], s=1, c='lightgray', label='data')
  ax.scatter(points[:, 0], points[:, 1], s=1, c='tab:blue', label='samples')
  ax.set_aspect('equal')
  if title:
    ax.set_title(title)
  if reference is not None:
    ax.legend(loc='upper right', markerscale=8)
  fig.tight_layout()
  atomic.write_with(path, lambda f: fig.savefig(f, format='png'))
  plt.close(fig)


def image_grid(images, nrow=None, padding=1):
  """Tiles (n, H, W, C) images with values in [0, 1] into one uint8 (H', W', C) array."""
  images = np.clip(np.asarray(images, np.float32), 0., 1.)
  n, h, w, c = images.shape
  nrow = nrow or int(math.ceil(math.sqrt(n)))
  ncol = int(math.ceil(n / nrow))
  grid = np.ones((ncol * (h + padding) + padding, nrow * (w + padding) + padding, c), np.float32)
  for i in range(n):
    r, col = divmod(i, nrow)
    y, x = padding + r * (h + padding), padding + col * (w + padding)
    grid[y:y + h, x:x + w] = images[i]
  return np.round(grid * 255).astype(np.uint8)


def save_image_grid(path, images, nrow=None, scale=None):
  """Writes a grid of (n, H, W, C) images in [0, 1] as PNG, upscaled for small images."""
  grid = image_grid(images, nrow)
  img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
  scale = scale or max(1, 256 // max(1, images.shape[1] * int(math.ceil(math.sqrt(len(images))))))
  if scale > 1:
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
  atomic.write_with(path, lambda f: img.save(f, format='PNG'))


def save_samples(prefix, samples, inverse_scaler=None, grid_size=100):
  """Writes `prefix.npz` (all samples, as they are) and `prefix.png`.

  2-D vector samples give a scatter plot; images (n, H, W, C) a grid of the
  first `grid_size`, after `inverse_scaler` maps them from model space to [0, 1].
  """
  samples = np.asarray(samples)
  atomic.save_npz(prefix + '.npz', samples=samples)
  if samples.ndim == 2 and samples.shape[1] == 2:
    save_scatter(prefix + '.png', samples, title=os.path.basename(prefix))
  elif samples.ndim == 4:
    images = samples[:grid_size]
    images = images if inverse_scaler is None else np.asarray(inverse_scaler(images))
    save_image_grid(prefix + '.png', images)
