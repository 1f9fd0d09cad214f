"""`Experiment`: the pieces of one config's run, built once, for training and evaluation alike."""
import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

import data
import models
import sde_lib
from experiment import state as state_lib
from experiment import losses


def make_mesh(devices=None):
  """A 1-D mesh over all devices (of all hosts) with the axis `data` (automatic sharding)."""
  devices = jax.devices() if devices is None else devices
  return jax.sharding.Mesh(np.asarray(devices), ('data',),
                           axis_types=(jax.sharding.AxisType.Auto,))


def make_eval_step(loss_fn, seed):
  """`eval_step(state, batch, index) -> loss` of the EMA parameters (no dropout); the key of
  batch `index` is a pure function of (seed, index)."""
  def eval_step(state, batch, index):
    rng = jax.random.fold_in(jax.random.PRNGKey(seed + 1), index)
    return loss_fn(rng, state.ema_params, batch)
  return eval_step


def eval_snapshots(config):
  """(k, step) of the snapshots the eval is asked for: k in [eval.begin_ckpt, eval.end_ckpt],
  step = k * training.snapshot_freq (the original's numbering)."""
  freq = config.training.snapshot_freq
  return [(k, k * freq) for k in range(config.eval.begin_ckpt, config.eval.end_ckpt + 1)]


def abstract(init_fn, seed, sharding):
  """`init_fn(rng)`'s output as jax.ShapeDtypeStructs placed on `sharding` (nothing computed)."""
  shapes = jax.eval_shape(init_fn, jax.random.PRNGKey(seed))
  return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding),
                      shapes)


class Experiment:
  """What a run of `config` is made of. Building it compiles and allocates nothing.

  Attributes: `config`, `sde`, `model`, `score_fn` (the network's, for sampling and
  likelihoods: `score_fn(variables, x, t)`), `optimizer`, `shape` (one example's),
  `mesh`, `replicated` (the state's sharding) and `batch_sharding` (stacked batches
  (steps, batch, ...) split over `data`).
  """

  def __init__(self, config, mesh=None):
    self.config = config
    self.sde = sde_lib.get_sde(config)
    self.model = models.get_model(config)
    self.score_fn = models.get_score_fn(self.sde, self.model,
                                        continuous=config.training.continuous)
    self.optimizer = state_lib.get_optimizer(config)
    self.shape = models.input_shape(config)
    self.mesh = make_mesh() if mesh is None else mesh
    self.replicated = NamedSharding(self.mesh, P())
    self.batch_sharding = NamedSharding(self.mesh, P(None, 'data'))

  def loss_fn(self, train):
    """The training objective of the config (`train=False`: no dropout, for eval losses)."""
    return losses.get_loss_fn(self.config, self.sde, self.model, train=train)

  def init_state(self, rng):
    """The TrainState at step 0 (pure: jit it, or trace it under `jax.eval_shape`)."""
    return state_lib.init_train_state(rng, self.config, self.optimizer)[1]

  def abstract_state(self):
    """The TrainState's shapes and dtypes, replicated over the mesh (what restores read into)."""
    return abstract(self.init_state, self.config.seed, self.replicated)

  def train_source(self, split='train'):
    """`batch(step)` source of this host's batches (toy or image: `data` decides)."""
    return data.get_train_source(self.config, split)

  @property
  def inverse_scaler(self):
    """Model space -> [0, 1] for images; None for toy points."""
    return data.get_inverse_scaler(self.config)
