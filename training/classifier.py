"""`main.py --mode train_classifier`: a noise-conditional classifier p(y | x_t) for guidance.

Cross-entropy of the classifier on x_t = mean(t) x_0 + s(t) z, t ~ U[eps, T]
drawn with the SDE's marginals (`sde.marginal_prob`), the labels of x_0. It
runs in the score model's training loop (`training.loop.train`): the same
checkpoints (`experiment.checkpoints`), exact resume, NaN stop, logging, with
its own state and batches of (images, labels).

The run lives in `classifier.workdir` (default WORKDIR/classifier) and is
driven by the `config.classifier` block:
  n_iters, batch_size, snapshot_freq   the loop's training.* fields for this run
  lr, ema_rate                         optim.lr and the EMA rate of the parameters
other loop fields (log_freq, n_jitted_steps, snapshot_freq_for_preemption) and
the optimiser's other fields (warmup, grad_clip, schedule, ...) are the score
model's. The architecture fields are read by `models.classifier`.
"""
import jax
import jax.numpy as jnp
import ml_collections
import optax

import sde_lib
from models import classifier as classifier_lib
from training import loop

EPS = 1e-5   # lowest training time, as the score losses'


def training_config(config):
  """The config the training loop sees: training.* and optim.lr from `config.classifier`."""
  c = config.classifier
  out = ml_collections.ConfigDict(config.to_dict())
  t = out.training
  t.n_iters, t.batch_size, t.snapshot_freq = c.n_iters, c.batch_size, c.snapshot_freq
  t.snapshot_sampling = False
  out.optim.lr = c.lr
  out.model.ema_rate = c.ema_rate
  return out


def get_loss_fn(sde, model, eps=EPS):
  """`loss_fn(rng, params, (x0, labels)) -> mean cross-entropy` on x_t, t ~ U[eps, T]."""
  logit_fn = classifier_lib.get_logit_fn(sde, model)

  def loss_fn(rng, params, batch):
    x0, labels = batch
    t_rng, z_rng = jax.random.split(rng)
    t = jax.random.uniform(t_rng, x0.shape[:1], x0.dtype, eps, sde.T)
    mean, std = sde.marginal_prob(x0, t)
    x_t = mean + sde_lib.batch_mul(std, jax.random.normal(z_rng, x0.shape, x0.dtype))
    logits = logit_fn(params, x_t, t)
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))

  return loss_fn


class ClassifierTrainer(loop.Trainer):
  """The training loop's `Trainer` for the classifier of `config`, the training config
  (`training_config`): the classifier's loss and initial state on the same steps."""

  def __init__(self, config, mesh=None):
    super().__init__(
        config, mesh,
        loss_fn=get_loss_fn(sde_lib.get_sde(config), classifier_lib.get_classifier(config)),
        init_variables=lambda rng: classifier_lib.init_classifier(rng, config)[1],
        batch_field='classifier.batch_size')


def train(config, workdir, data_source=None, max_steps=None, trainer=None):
  """Trains (or resumes) the classifier of `config` in its workdir; returns the TrainState.

  `workdir` is the score model's; the classifier's is `classifier_workdir(config, workdir)`.
  A classifier directory holding another config's classifier is an error, not a resume.
  `trainer`: a `ClassifierTrainer(training_config(config))` to reuse (compiled once).
  """
  directory = classifier_lib.classifier_workdir(config, workdir)
  classifier_lib.check_identity(config, directory, required=False)
  tconfig = training_config(config)
  if data_source is None:
    from data import labelled  # pylint: disable=import-outside-toplevel
    data_source = labelled.get_labelled_dataset(tconfig, 'train')
  trainer = ClassifierTrainer(tconfig) if trainer is None else trainer
  if jax.process_index() == 0:
    classifier_lib.write_identity(config, directory)
  return loop.train(tconfig, directory, data_source, max_steps=max_steps, trainer=trainer,
                    check_config=False)   # check_identity above guards the classifier


def run(config, workdir):
  """`main.py --mode train_classifier`."""
  return train(config, workdir)

