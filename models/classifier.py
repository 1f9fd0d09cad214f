"""Noise-conditional classifiers p(y | x_t) for class-conditional sampling (`config.classifier`).

    model = models.classifier.get_classifier(config)
    model, variables = models.classifier.init_classifier(rng, config)   # works under eval_shape
    logit_fn = models.classifier.get_logit_fn(sde, model)
    logits = logit_fn(variables, x, t)                       # (batch, classes)

`config.classifier` fields read here (the training fields are read by
`training.classifier`):
  name                 'wideresnet' (CLASSIFIER_NAMES): the original's noise-conditional WRN
  blocks_per_group     residual blocks per group (4 at CIFAR-10 size)
  channel_multiplier   widths 16k, 32k, 64k (10 at CIFAR-10 size)
  embedding_size       Fourier frequencies of log(sigma) (128 at CIFAR-10 size)
  num_classes          classes of the dataset (10 for CIFAR-10 and the digits)

The classifier sees x_t and the noise label of `models.scoring.classifier_noise_labels`.

Its checkpoints live in `classifier.workdir` (default WORKDIR/classifier), with
`classifier.json`: the config fields that make a classifier usable with a
score model (`identity`). `check_identity` compares them with a config, so a
classifier trained for another dataset, SDE or architecture is refused with
the differing fields named.
"""
import json
import os

import jax
import jax.numpy as jnp

from models import registry, scoring
from models.wideresnet_noise_conditional import WideResnet
from utils import atomic, checks, config_checks

CLASSIFIER_NAMES = config_checks.CLASSIFIER_NAMES
# The config fields that fix the classifier's architecture (and its checkpoints' shapes).
ARCHITECTURE_FIELDS = ('name', 'blocks_per_group', 'channel_multiplier', 'embedding_size',
                       'num_classes')


def _positive_int(config, field):
  return checks.require_positive_int(f'config.classifier.{field}', config.classifier[field])


def get_classifier(config):
  """The flax module `config.classifier` describes."""
  if 'classifier' not in config:
    raise ValueError("the config has no `classifier` block; the digits configs and "
                     "configs/classifier/cifar10_wideresnet.py have one")
  c = config.classifier
  if c.name not in CLASSIFIER_NAMES:
    raise ValueError(config_checks.not_allowed('config.classifier.name', c.name, CLASSIFIER_NAMES,
                                               'is not a classifier'))
  return WideResnet(blocks_per_group=_positive_int(config, 'blocks_per_group'),
                    channel_multiplier=_positive_int(config, 'channel_multiplier'),
                    num_classes=_positive_int(config, 'num_classes'),
                    embedding_size=_positive_int(config, 'embedding_size'))


def init_classifier(rng, config, batch_size: int = 1):
  """(module, variables) with variables = {'params': ...}; works under jax.eval_shape."""
  model = get_classifier(config)
  x = jnp.zeros((batch_size,) + registry.input_shape(config), jnp.float32)
  variables = model.init(rng, x, jnp.ones((batch_size,), jnp.float32), train=False)
  return model, dict(variables)


def get_logit_fn(sde, model):
  """`logit_fn(variables, x, t) -> logits (batch, classes)`, pure, in the dtype of x."""
  def logit_fn(variables, x, t):
    t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])
    logits = model.apply(variables, x, scoring.classifier_noise_labels(sde, t), train=False)
    return logits.astype(x.dtype)
  return logit_fn


IDENTITY_FILE = 'classifier.json'


def classifier_workdir(config, workdir):
  """Where the classifier's checkpoints live: `classifier.workdir`, or WORKDIR/classifier."""
  return config.classifier.get('workdir', '') or os.path.join(workdir, 'classifier')


def identity(config) -> dict:
  """The fields a classifier checkpoint must share with the config that uses it: its
  architecture, the data it saw (dataset, shape, centring) and the SDE's marginals."""
  sde_fields = (('model.sigma_min', 'model.sigma_max') if config.training.sde == 'vesde'
                else ('model.beta_min', 'model.beta_max'))
  fields = ['data.dataset', 'data.image_size', 'data.num_channels', 'data.centered',
            'training.sde', *sde_fields] + [f'classifier.{f}' for f in ARCHITECTURE_FIELDS]
  out = {}
  for path in fields:
    node = config
    for part in path.split('.'):
      node = node[part]
    out[path] = node
  return out


def write_identity(config, directory):
  atomic.write_json(os.path.join(directory, IDENTITY_FILE), identity(config))


def check_identity(config, directory, required=True):
  """Raises ValueError naming each field where the classifier in `directory` was trained
  with another value than `config` has. A directory without the file: an error when
  `required` (a checkpoint to use), else nothing (a fresh training run)."""
  path = os.path.join(directory, IDENTITY_FILE)
  if not os.path.exists(path):
    if required:
      raise FileNotFoundError(
          f"no trained classifier in {os.path.abspath(directory)} ({IDENTITY_FILE} missing): "
          "train one with --mode train_classifier, or set config.classifier.workdir")
    return
  with open(path) as f:
    stored = json.load(f)
  mine = json.loads(json.dumps(identity(config)))   # tuples -> lists, as stored
  diff = [f"{k}: checkpoint {stored.get(k)!r}, config {mine.get(k)!r}"
          for k in sorted(set(stored) | set(mine)) if stored.get(k) != mine.get(k)]
  if diff:
    raise ValueError(
        f"the classifier checkpoint in {os.path.abspath(directory)} was trained with another "
        f"config; differing fields: {'; '.join(diff)}. Use a classifier trained for this "
        "config (config.classifier.workdir) or train one with --mode train_classifier")


def count_params(variables) -> int:
  return sum(int(leaf.size) for leaf in jax.tree.leaves(variables))
