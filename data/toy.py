"""Two-dimensional toy distributions for end-to-end runs on a laptop CPU.

`gmm`: a 2-D Gaussian mixture whose exact density is known (via
`models.analytic`), so a trained model's likelihood can be compared with the
truth. `checkerboard`: uniform on the 8 dark squares of a 4x4 board on
[-2, 2]^2 (density 1/8 there). `moons`: scikit-learn's two moons, scaled.

Batches are a pure function of (seed, split, step): a run resumed at step N
draws exactly the batches an uninterrupted run draws.
"""
import numpy as np
from sklearn.datasets import make_moons

from utils import config_checks

TOY_DATASETS = config_checks.TOY_DATASETS
_SPLIT_IDS = {'train': 0, 'test': 1}

# The 2-D mixture: four anisotropic components.
GMM_WEIGHTS = np.array([0.3, 0.2, 0.3, 0.2])
GMM_MEANS = np.array([[-2., 0.], [2., 0.], [0., 2.5], [0., -2.5]])
GMM_COVS = np.array([[[0.5, 0.2], [0.2, 0.3]],
                     [[0.3, -0.1], [-0.1, 0.4]],
                     [[0.6, 0.], [0., 0.15]],
                     [[0.2, 0.], [0., 0.5]]])


def _gmm(rng, n):
  comp = rng.choice(len(GMM_WEIGHTS), size=n, p=GMM_WEIGHTS)
  chol = np.linalg.cholesky(GMM_COVS)
  z = rng.standard_normal((n, 2))
  return GMM_MEANS[comp] + np.einsum('nij,nj->ni', chol[comp], z)


def _checkerboard(rng, n):
  # Column c in 0..3, row r in 0..3, dark when (r + c) is even.
  col = rng.integers(0, 4, size=n)
  row = 2 * rng.integers(0, 2, size=n) + (col % 2)
  return np.stack([col, row], 1) - 2. + rng.random((n, 2))


def _moons(rng, n):
  x, _ = make_moons(n_samples=n, noise=0.05, random_state=int(rng.integers(2 ** 31)))
  return (x - np.array([0.5, 0.25])) * 2.


_SAMPLERS = {'gmm': _gmm, 'checkerboard': _checkerboard, 'moons': _moons}


def gmm_log_prob(x):
  """Exact log-density of the `gmm` toy distribution at points x (n, 2)."""
  diff = x[:, None, :] - GMM_MEANS[None]
  prec = np.linalg.inv(GMM_COVS)
  maha = np.einsum('nki,kij,nkj->nk', diff, prec, diff)
  _, logdet = np.linalg.slogdet(GMM_COVS)
  log_comp = np.log(GMM_WEIGHTS) - np.log(2 * np.pi) - 0.5 * logdet - 0.5 * maha
  m = log_comp.max(1, keepdims=True)
  return (m + np.log(np.exp(log_comp - m).sum(1, keepdims=True)))[:, 0]


def checkerboard_log_prob(x):
  """Exact log-density of `checkerboard`: log(1/8) on dark squares, -inf elsewhere."""
  inside = np.all(np.abs(x) < 2, axis=1)
  cell = np.floor(x + 2.).astype(int)
  dark = (cell.sum(1) % 2) == 0
  return np.where(inside & dark, -np.log(8.), -np.inf)


LOG_PROBS = {'gmm': gmm_log_prob, 'checkerboard': checkerboard_log_prob}


class ToyDataset:
  """Infinite samples of a toy distribution; `batch(step)` is deterministic."""

  def __init__(self, name, seed, batch_size, split='train'):
    if name not in TOY_DATASETS:
      raise ValueError(f"config.data.dataset={name!r} is not a toy dataset; "
                       f"allowed: {', '.join(TOY_DATASETS)}")
    self.name = name
    self.seed = int(seed)
    self.batch_size = int(batch_size)
    if split not in _SPLIT_IDS:
      raise ValueError(f"split={split!r}; allowed: {', '.join(_SPLIT_IDS)}")
    self.split = split   # whose stream `batch` draws from
    self.log_prob = LOG_PROBS.get(name)   # None when the density is unknown

  def sample(self, split, index, n):
    """n points, a pure function of (seed, split, index)."""
    rng = np.random.default_rng([self.seed, _SPLIT_IDS[split], int(index)])
    return _SAMPLERS[self.name](rng, n).astype(np.float32)

  def batch(self, step, process_index=None, process_count=None):
    """This host's share of the global batch of `step` (the whole batch on one host)."""
    import jax
    pi = jax.process_index() if process_index is None else process_index
    pc = jax.process_count() if process_count is None else process_count
    if self.batch_size % pc:
      raise ValueError(f"batch size {self.batch_size} is not divisible by {pc} processes")
    rng = np.random.default_rng([self.seed, _SPLIT_IDS[self.split], int(step), pi])
    return _SAMPLERS[self.name](rng, self.batch_size // pc).astype(np.float32)

  def test_set(self, n):
    """The held-out set: n points never drawn for training."""
    return self.sample('test', 0, n)
