"""`main.py` modes that read a trained model: sample, likelihood, eval.

Each restores the newest checkpoint of the workdir (its EMA parameters) and
writes what it computes next to it: `samples/`, `likelihood.json`.
"""
import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

import likelihood as likelihood_lib
import models
import samplers
from training import checkpoints as ckpt_lib
from training import loop
from utils import plots

LIKELIHOOD_EPS = 1e-5   # the original's lower time for likelihoods


def restore(config, workdir):
  """(trainer, state) of the newest checkpoint; an error if there is none."""
  trainer = loop.Trainer(config)
  ckpts = ckpt_lib.Checkpoints(workdir, async_save=False)
  try:
    if ckpts.latest() is None:
      raise FileNotFoundError(
          f"no checkpoint under {os.path.abspath(workdir)} (checkpoints/ or checkpoints-meta/): "
          "train first with --mode train")
    return trainer, ckpts.restore(trainer.abstract_state())
  finally:
    ckpts.close()


def _score_fn(config, trainer):
  return models.get_score_fn(trainer.sde, trainer.model, continuous=config.training.continuous)


def sample(config, workdir):
  """Draws `eval.num_samples` samples in rounds of `eval.batch_size`; writes .npz and .png."""
  trainer, state = restore(config, workdir)
  step = int(jax.device_get(state.step))
  batch = min(config.eval.batch_size, config.eval.num_samples)
  shape = (batch,) + models.input_shape(config)
  sampler = samplers.get_sampler(config, trainer.sde, _score_fn(config, trainer), shape)
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 0x5A4)
  rounds = math.ceil(config.eval.num_samples / batch)
  out, nfes = [], []
  for r in tqdm.trange(rounds, desc='sample', disable=jax.process_index() != 0):
    x, nfe = sampler(jax.random.fold_in(key, r), state.ema_params)
    out.append(np.asarray(jax.device_get(x)))
    nfes.append(int(nfe))
  x = np.concatenate(out)[:config.eval.num_samples]
  prefix = os.path.join(workdir, 'samples', f'ckpt_{step}')
  plots.save_samples(prefix, x, loop.inverse_scaler(config))
  result = {'step': step, 'num_samples': len(x), 'nfe_per_round': float(np.mean(nfes)),
            'npz': prefix + '.npz', 'png': prefix + '.png'}
  print(json.dumps(result))
  return x


def _loglik_fn(config, trainer):
  e = config.eval
  return likelihood_lib.get_likelihood_fn(
      trainer.sde, _score_fn(config, trainer), estimator=e.likelihood_estimator,
      rtol=e.rtol, atol=e.atol, eps=LIKELIHOOD_EPS)


def likelihood(config, workdir):
  """Mean negative log-likelihood (nats) of held-out data; bits/dim for images.

  For toy data the held-out set is `data.num_test` fresh points; where the
  true density is known its NLL on the same points is reported beside ours.
  """
  if not loop.is_toy(config):
    raise NotImplementedError('image likelihoods are computed by --mode eval')
  trainer, state = restore(config, workdir)
  step = int(jax.device_get(state.step))
  source = loop.get_train_source(config)
  x = source.test_set(config.data.num_test)
  loglik = _loglik_fn(config, trainer)
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 0x5A5)
  bs = config.eval.batch_size
  logps, nfes = [], []
  for i in tqdm.trange(0, len(x), bs, desc='likelihood', disable=jax.process_index() != 0):
    logp, _, nfe = loglik(jax.random.fold_in(key, i), state.ema_params, jnp.asarray(x[i:i + bs]))
    logps.append(np.asarray(logp))
    nfes.append(int(nfe))
  logp = np.concatenate(logps)
  result = {'step': step, 'num_points': len(x), 'nll': float(-logp.mean()),
            'nll_stderr': float(logp.std(ddof=1) / np.sqrt(len(logp))),
            'nfe': float(np.mean(nfes))}
  if source.log_prob is not None:
    result['true_nll'] = float(-np.mean(source.log_prob(x.astype(np.float64))))
  with open(os.path.join(workdir, 'likelihood.json'), 'w') as f:
    json.dump(result, f)
  print(json.dumps(result))
  return result


def evaluate(config, workdir):
  raise NotImplementedError('--mode eval arrives with the image pipeline')
