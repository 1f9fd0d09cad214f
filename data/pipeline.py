"""Deterministic, resumable, multi-host batches of images in model space.

`ImageDataset.batch(step)` is a pure function of (seed, split, step, process
index): the iterator's whole state is the step counter, so a run resumed at
step N sees exactly the batches an uninterrupted run sees, whatever it read
before. How:

- The global stream concatenates epochs; epoch e is a permutation of the
  split drawn from `default_rng([seed, PERM, split, e])`. Global batch `step`
  is stream positions [step * B, (step + 1) * B) (batches run across epoch
  ends; nothing is dropped).
- Process p of P reads positions [step * B + p * B/P, step * B + (p+1) * B/P):
  its per-host batch of B/P examples; the hosts' batches concatenated in
  process order are the global batch.
- The random flip and the dequantisation noise of an example come from
  `default_rng([seed, TRAIN_NOISE, split, step, position])`, so they depend on
  its place in the global batch only, never on the number of hosts.

`epoch_batches` is one ordered pass over the split for evaluation: the last
batch is padded to full size (copies of the last example) with a boolean
`mask` marking real examples, so every batch has one shape (one compilation)
and every host the same number of batches. Its dequantisation noise is keyed
by example index, so evaluation numbers do not depend on the batch size.
"""
import collections
import concurrent.futures
import threading

import numpy as np

from data import transforms
from utils import checks

# Domain-separation constants for the seeds of the different random streams.
_PERMUTATION, _TRAIN_NOISE, _EVAL_NOISE = 0, 1, 2
SPLIT_IDS = {'train': 0, 'test': 1}


class ImageDataset:
  """One split of an image dataset, served as float32 batches in model space.

  Attributes:
    num_examples: examples in the split.
    num_levels: integer levels L per pixel (256 for 8-bit images, 17 for digits).
    image_shape: (H, W, C) of one example in model space.
    batch_size: the global batch size B (all hosts together).
    local_batch_size: B / process_count, the size of what `batch` returns.
  """

  def __init__(self, source, *, split: str, num_levels: int, batch_size: int, seed: int,
               random_flip: bool, uniform_dequantization: bool, centered: bool,
               process_index: int = 0, process_count: int = 1):
    if split not in SPLIT_IDS:
      raise ValueError(f"split={split!r} is not a split; allowed: {', '.join(SPLIT_IDS)}")
    checks.require_int('seed', seed, 0)
    checks.require_positive_int('process_count', process_count)
    if not isinstance(process_index, (int, np.integer)) or not 0 <= process_index < process_count:
      raise ValueError(f"process_index={process_index!r} must be in [0, {process_count})")
    _check_batch_size(batch_size, process_count)
    if len(source) == 0:
      raise ValueError(f"the {split} split has no examples")
    self.source = source
    self.split = split
    self.num_examples = len(source)
    self.num_levels = int(num_levels)
    self.image_shape = tuple(source.image_shape)
    self.batch_size = int(batch_size)
    self.process_index, self.process_count = int(process_index), int(process_count)
    self.local_batch_size = self.batch_size // self.process_count
    self.seed = int(seed)
    self.random_flip = bool(random_flip)
    self.uniform_dequantization = bool(uniform_dequantization)
    self.centered = bool(centered)
    self._split_id = SPLIT_IDS[split]
    self._perms = collections.OrderedDict()
    self._perms_lock = threading.Lock()  # `iterate` calls batch() from a prefetch thread

  def __repr__(self):
    return (f"ImageDataset(split={self.split!r}, num_examples={self.num_examples}, "
            f"image_shape={self.image_shape}, num_levels={self.num_levels}, "
            f"batch_size={self.batch_size}, process={self.process_index}/{self.process_count})")

  def permutation(self, epoch: int) -> np.ndarray:
    """The order of the split's examples in training epoch `epoch`."""
    with self._perms_lock:
      perm = self._perms.get(epoch)
    if perm is None:
      rng = np.random.default_rng([self.seed, _PERMUTATION, self._split_id, int(epoch)])
      perm = rng.permutation(self.num_examples)
      with self._perms_lock:
        self._perms[epoch] = perm
        while len(self._perms) > 4:  # the epochs in use: a few, near the current step
          self._perms.popitem(last=False)
    return perm

  def positions(self, step: int) -> np.ndarray:
    """Global stream positions this process reads at `step`."""
    if step < 0:
      raise ValueError(f"step={step} must be non-negative")
    start = int(step) * self.batch_size + self.process_index * self.local_batch_size
    return start + np.arange(self.local_batch_size, dtype=np.int64)

  def example_indices(self, step: int) -> np.ndarray:
    """Indices into the split of this process's examples at `step`."""
    pos = self.positions(step)
    epochs, within = np.divmod(pos, self.num_examples)
    out = np.empty_like(pos)
    for e in np.unique(epochs):
      sel = epochs == e
      out[sel] = self.permutation(int(e))[within[sel]]
    return out

  def _to_model_space(self, levels, keys, flip):
    """Flips (if `flip`) and dequantises each example with its own generator, then scales."""
    noise = np.empty_like(levels) if self.uniform_dequantization else None
    if noise is None and not flip:
      keys = ()  # nothing random to draw
    for j, key in enumerate(keys):
      rng = np.random.default_rng(key)
      # The flip bit is drawn first and always, so the noise stream does not
      # depend on whether flipping is on.
      if rng.random() < 0.5 and flip:
        levels[j] = levels[j, :, ::-1]
      if noise is not None:
        noise[j] = rng.random(levels.shape[1:], dtype=np.float32)
    return transforms.levels_to_model_space(levels, self.num_levels, self.centered, noise)

  def batch(self, step: int) -> np.ndarray:
    """This process's part of global batch `step`: float32 (local_batch_size, H, W, C)."""
    pos = self.positions(step)
    levels = self.source.levels(self.example_indices(step))
    keys = [[self.seed, _TRAIN_NOISE, self._split_id, int(step), int(p)] for p in pos]
    return self._to_model_space(levels, keys, self.random_flip)

  def iterate(self, start_step: int = 0, prefetch: int = 2):
    """Yields (step, batch(step)) for step = start_step, start_step + 1, ...

    Batches are prepared `prefetch` steps ahead in a background thread; they are
    the same arrays `batch(step)` returns.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
      ahead = collections.deque(
          pool.submit(self.batch, s) for s in range(start_step, start_step + max(prefetch, 1)))
      step = start_step
      while True:
        ahead.append(pool.submit(self.batch, step + len(ahead)))
        yield step, ahead.popleft().result()
        step += 1

  def num_epoch_batches(self, batch_size=None) -> int:
    """How many batches `epoch_batches(batch_size)` yields."""
    b = self.batch_size if batch_size is None else batch_size
    _check_batch_size(b, self.process_count)
    return -(-self.num_examples // b)

  def epoch_batches(self, batch_size=None):
    """One ordered pass over the split: yields (x, mask) per global batch.

    Args:
      batch_size: the global batch size (default: the dataset's), divisible by
        the process count.

    Yields:
      x: float32 (batch_size / process_count, H, W, C) in model space, never
        flipped; dequantised when the dataset is.
      mask: bool (batch_size / process_count,), False on the padding of the last
        batch (which repeats the split's last example).
    """
    b = self.batch_size if batch_size is None else int(batch_size)
    local = b // self.process_count
    for i in range(self.num_epoch_batches(b)):
      pos = i * b + self.process_index * local + np.arange(local, dtype=np.int64)
      mask = pos < self.num_examples
      idx = np.minimum(pos, self.num_examples - 1)
      levels = self.source.levels(idx)
      keys = [[self.seed, _EVAL_NOISE, self._split_id, int(k)] for k in idx]
      yield self._to_model_space(levels, keys, flip=False), mask


def _check_batch_size(batch_size, process_count):
  checks.require_positive_int('batch_size', batch_size)
  if batch_size % process_count:
    raise ValueError(f"batch_size={batch_size} must be divisible by the process count "
                     f"({process_count}): each host reads batch_size / process_count examples")
