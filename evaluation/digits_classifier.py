"""The project's own offline sample-quality metric for the built-in 8x8 digits.

FID's Inception network is meaningless on 8x8 greyscale digits, so the digits
get their own feature extractor: a small classifier (an MLP) trained on
the digits' train split (`data.digits.load_split('train')`), whose 64-d
penultimate layer (after ReLU) plays the role of Inception's pool3. The
**digits Frechet distance** is the Frechet distance between the Gaussians
fitted to these features of two image sets. It is not FID and its values are
not comparable with FIDs; they are comparable between runs of this project,
because the classifier's weights are fixed: they ship with the repository as
`evaluation/digits_classifier.npz`, written by

  python -m evaluation.digits_classifier --out evaluation/digits_classifier.npz

which retrains deterministically (AdamW, fixed seed, a few seconds on a CPU)
and prints the test accuracy (97.8% for the shipped weights). The shipped file
was written with jax's default float32 mode; with `jax_enable_x64` on, the
optimizer's arithmetic rounds differently and retraining gives slightly
different weights of the same quality.

Image convention: integer arrays are grey levels 0..16 (the dataset's own
values); floating arrays are model-space images in [0, 1], i.e. level / 16
(`data.transforms.levels_to_model_space` with `centered=False`; map centred
[-1, 1] samples back with (x + 1) / 2 first). Floats are clipped to [0, 1],
as they would be when written as an image. Shapes (n, 8, 8, 1) or (n, 8, 8).
"""
from __future__ import annotations

import argparse
import functools
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from evaluation import metrics
from utils import params_npz

NUM_LEVELS = 17   # grey levels 0..16 of the digits
NUM_CLASSES = 10
FEATURE_DIM = 64
DEFAULT_WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'digits_classifier.npz')
# Training recipe of the shipped weights (changing it changes the metric's values).
TRAIN_EPOCHS = 40
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 1e-4
SEED = 0


class DigitsClassifier(nn.Module):
  """MLP 64 -> 256 -> 64 [features] -> 10 [logits], ReLU.

  An MLP rather than a conv net: on 8x8 images it classifies as well and
  trains in about a second on a CPU, where XLA's small-conv gradients are slow.
  """

  @nn.compact
  def __call__(self, x):
    x = x.reshape((x.shape[0], -1))
    x = nn.relu(nn.Dense(256, name='hidden')(x))
    features = nn.relu(nn.Dense(FEATURE_DIM, name='features')(x))
    logits = nn.Dense(NUM_CLASSES, name='logits')(features)
    return features, logits


def to_classifier_input(images) -> np.ndarray:
  """Digits images in either convention (module docstring) as float32 (n, 8, 8, 1) in [0, 1]."""
  images = np.asarray(images)
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or images.shape[1:] != (8, 8, 1):
    raise ValueError(f"digits images must have shape (n, 8, 8, 1) or (n, 8, 8), got {images.shape}")
  if images.shape[0] == 0:
    raise ValueError("digits images must not be empty")
  if np.issubdtype(images.dtype, np.integer):
    if images.min() < 0 or images.max() > NUM_LEVELS - 1:
      raise ValueError(f"integer digits images are grey levels in 0..{NUM_LEVELS - 1}, got values "
                       f"in [{images.min()}, {images.max()}]; pass floats in [0, 1] for "
                       f"model-space images")
    return images.astype(np.float32) / np.float32(NUM_LEVELS - 1)
  if np.issubdtype(images.dtype, np.floating):
    if not np.all(np.isfinite(images)):
      raise ValueError("digits images contain NaN or infinite values")
    return np.clip(images, 0., 1.).astype(np.float32)
  raise ValueError(f"digits images must be integer grey levels or floats in [0, 1], got dtype "
                   f"{images.dtype}")


@jax.jit
def _apply(params, x):
  return DigitsClassifier().apply({'params': params}, x)


def train_classifier(epochs: int = TRAIN_EPOCHS, seed: int = SEED):
  """Trains the classifier on the digits' train split; deterministic for fixed arguments.

  AdamW on minibatches of `BATCH_SIZE`, a fresh permutation of the train split
  per epoch (drawn from `seed`), all inside one `lax.scan`. Returns
  (params, per-step losses).
  """
  from data.digits import load_split  # pylint: disable=import-outside-toplevel
  images, labels = load_split('train')
  x = jnp.asarray(to_classifier_input(images))
  y = jnp.asarray(labels, jnp.int32)
  n = x.shape[0]
  steps_per_epoch = n // BATCH_SIZE
  model = DigitsClassifier()
  init_key, order_key = jax.random.split(jax.random.PRNGKey(seed))
  params = model.init(init_key, x[:1])['params']
  optimizer = optax.adamw(LEARNING_RATE, weight_decay=WEIGHT_DECAY)

  def loss_fn(p, xb, yb):
    _, logits = model.apply({'params': p}, xb)
    return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

  @jax.jit
  def run(p):
    # (epochs * steps_per_epoch, BATCH_SIZE) example indices; the remainder of each
    # epoch's permutation is dropped.
    orders = jax.vmap(lambda k: jax.random.permutation(k, n))(jax.random.split(order_key, epochs))
    batches = orders[:, :steps_per_epoch * BATCH_SIZE].reshape(-1, BATCH_SIZE)

    def step(carry, idx):
      p, opt_state = carry
      loss, grads = jax.value_and_grad(loss_fn)(p, x[idx], y[idx])
      updates, opt_state = optimizer.update(grads, opt_state, p)
      return (optax.apply_updates(p, updates), opt_state), loss
    (p, _), losses = jax.lax.scan(step, (p, optimizer.init(p)), batches)
    return p, losses

  return run(params)


def save_params(params, path):
  """Writes the classifier's parameters as the .npz `load_params` reads (`utils.params_npz`)."""
  params_npz.save(path, params)


def load_params(path=DEFAULT_WEIGHTS):
  """The classifier's parameters from an .npz written by `save_params`."""
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f"digits classifier weights {path!r} do not exist; write them with "
        f"`python -m evaluation.digits_classifier --out {path}` (trains in seconds, deterministic)")
  expected = jax.eval_shape(DigitsClassifier().init, jax.random.PRNGKey(0),
                            jnp.zeros((1, 8, 8, 1), jnp.float32))['params']
  return params_npz.load(path, expected, f'DigitsClassifier parameters ({path!r})')


@functools.lru_cache(maxsize=1)
def _default_params():
  return load_params(DEFAULT_WEIGHTS)


def digits_features(images, params=None) -> np.ndarray:
  """Penultimate-layer features (n, 64), float32, of digits images (either convention)."""
  params = _default_params() if params is None else params
  features, _ = _apply(params, jnp.asarray(to_classifier_input(images)))
  return np.asarray(features)


def classify(images, params=None) -> np.ndarray:
  """Predicted digit classes (n,) of digits images (either convention)."""
  params = _default_params() if params is None else params
  _, logits = _apply(params, jnp.asarray(to_classifier_input(images)))
  return np.asarray(jnp.argmax(logits, axis=-1))


def digits_frechet_distance(images_a, images_b, params=None) -> float:
  """The digits Frechet distance between two sets of digits images (not an FID).

  Frechet distance between Gaussians fitted (mean, unbiased covariance) to the
  classifier's 64-d features of each set; each set needs at least 2 images,
  and a few hundred for a stable value (the estimate is biased upwards for
  small sets: compare values computed with equal set sizes). Images in either
  convention (module docstring). With `params=None` the shipped weights are used.
  """
  mu_a, sigma_a = metrics.feature_statistics(digits_features(images_a, params))
  mu_b, sigma_b = metrics.feature_statistics(digits_features(images_b, params))
  return metrics.frechet_distance(mu_a, sigma_a, mu_b, sigma_b)


def main(argv=None):
  parser = argparse.ArgumentParser(
      prog='python -m evaluation.digits_classifier',
      description='Train the digits feature classifier (deterministic) and write its weights.')
  parser.add_argument('--out', default=DEFAULT_WEIGHTS, help='output .npz path')
  args = parser.parse_args(argv)
  from data.digits import load_split  # pylint: disable=import-outside-toplevel
  params, losses = train_classifier()
  test_images, test_labels = load_split('test')
  accuracy = float(np.mean(classify(test_images, params) == test_labels))
  save_params(params, args.out)
  print(f"wrote {args.out}: final train loss {float(losses[-1]):.4f}, test accuracy {accuracy:.4f}")


if __name__ == '__main__':
  main()
