"""`main.py` modes that read a trained model: sample, likelihood, eval.

Each restores the newest checkpoint of the workdir (its EMA parameters) and
writes what it computes next to it: `samples/`, `likelihood.json`.
"""
import json
import math
import os
import sys

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
KID_SUBSET_SIZE = 1000  # the KID paper's subset size (fewer when either set is smaller)


def restore(config, workdir):
  """(trainer, state) of the newest checkpoint; an error if there is none."""
  trainer = loop.Trainer(config)
  with ckpt_lib.Checkpoints(workdir, async_save=False) as ckpts:
    if ckpts.latest() is None:
      raise FileNotFoundError(
          f"no checkpoint under {os.path.abspath(workdir)} (checkpoints/ or checkpoints-meta/): "
          "train first with --mode train")
    return trainer, ckpts.restore(trainer.abstract_state())


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


def _write_json_atomic(path, obj):
  tmp = path + '.tmp'
  with open(tmp, 'w') as f:
    json.dump(obj, f, indent=1)
  os.replace(tmp, path)


def _save_npz_atomic(path, **arrays):
  tmp = path + '.tmp.npz'
  np.savez(tmp, **arrays)
  os.replace(tmp, path)


def _eval_checkpoints(config, workdir):
  """Snapshot indices k in [eval.begin_ckpt, eval.end_ckpt] (step = k * snapshot_freq) that
  exist, as the original numbers them; the newest snapshot when none of those exists."""
  with ckpt_lib.Checkpoints(workdir, async_save=False) as ckpts:
    steps = set(ckpts.managers['snapshot'].all_steps())
  if not steps:
    raise FileNotFoundError(f"no snapshot under {os.path.abspath(workdir)}/checkpoints: train first")
  freq = config.training.snapshot_freq
  wanted = range(config.eval.begin_ckpt, config.eval.end_ckpt + 1)
  found = [(k, k * freq) for k in wanted if k * freq in steps]
  missing = [k for k in wanted if k * freq not in steps]
  if missing:
    tqdm.tqdm.write(f'eval: snapshots {missing} (steps k * {freq}) do not exist; skipped')
  if not found:
    step = max(steps)
    found = [(step // freq, step)]
    tqdm.tqdm.write(f'eval: evaluating the newest snapshot instead, step {step}')
  return found


def _eval_loss(config, eval_step, state):
  """Mean denoising loss of the EMA parameters over the evaluation split."""
  import data
  ds = data.get_dataset(config, 'test', evaluation=True)
  total, count = 0., 0
  for i, (x, mask) in enumerate(tqdm.tqdm(ds.epoch_batches(), total=ds.num_epoch_batches(),
                                          desc='eval loss', leave=False)):
    x = x[mask]  # the padding must not count; the loss is a mean over the batch
    total += float(eval_step(state, jnp.asarray(x), i)) * len(x)
    count += len(x)
  return total / count


def _eval_bpd(config, loglik, state, out_dir):
  """bits/dim of eval.bpd_dataset, averaged over eval.bpd_num_repeats dequantisations.

  Each (repeat, batch) result is saved as it is computed, so an interrupted
  eval redoes none of them.
  """
  import data
  levels, centered = data.num_levels(config), config.data.centered
  bpds = []
  for r in range(config.eval.bpd_num_repeats):
    ds = data.get_dataset(config, config.eval.bpd_dataset, evaluation=True,
                          uniform_dequantization=True, seed=config.seed + r)
    for i, (x, mask) in enumerate(tqdm.tqdm(ds.epoch_batches(), total=ds.num_epoch_batches(),
                                            desc=f'bpd repeat {r}', leave=False)):
      path = os.path.join(out_dir, f'bpd_{r}_{i}.npz')
      if not os.path.exists(path):
        rng = jax.random.fold_in(jax.random.PRNGKey(config.seed + r), i)
        logp, _, nfe = loglik(rng, state.ema_params, jnp.asarray(x))
        bpd = likelihood_lib.bits_per_dim(logp, x.shape[1:], num_levels=levels, centered=centered)
        _save_npz_atomic(path, bpd=np.asarray(bpd)[mask], nfe=int(nfe))
      bpds.append(np.load(path)['bpd'])
  return float(np.mean(np.concatenate(bpds)))


def _eval_samples(config, sampler, state, out_dir, step):
  """eval.num_samples samples in rounds of eval.batch_size, each round saved when done."""
  batch = min(config.eval.batch_size, config.eval.num_samples)
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), step)
  rounds = math.ceil(config.eval.num_samples / batch)
  for r in tqdm.trange(rounds, desc='eval samples', leave=False):
    path = os.path.join(out_dir, f'samples_{r}.npz')
    if os.path.exists(path):
      continue
    x, nfe = sampler(jax.random.fold_in(key, r), state.ema_params)
    _save_npz_atomic(path, samples=np.asarray(jax.device_get(x)), nfe=int(nfe))
  files = [np.load(os.path.join(out_dir, f'samples_{r}.npz')) for r in range(rounds)]
  x = np.concatenate([f['samples'] for f in files])[:config.eval.num_samples]
  return x, float(np.mean([int(f['nfe']) for f in files]))


def _digits_baselines(config):
  """Exact bits/dim of a per-pixel categorical and a full-covariance Gaussian (fit on train)."""
  import data
  from evaluation import baselines
  train, _ = data.digits.load_split('train')
  test, _ = data.digits.load_split(config.eval.bpd_dataset)
  levels = data.num_levels(config)
  return {'categorical': baselines.categorical_bpd(train, test, levels),
          'gaussian': baselines.gaussian_bpd(train, test, levels)}


def _sample_metrics(config, x):
  """Metrics of samples x (model space): the digits Frechet distance for the built-in
  digits, FID / IS / KID against the dataset statistics otherwise."""
  import data
  from evaluation import digits_classifier, fid_stats, inception
  images = np.asarray(data.get_data_inverse_scaler(config)(x))
  if config.data.dataset == 'DIGITS':
    test, _ = data.digits.load_split('test')
    return {'digits_fd': digits_classifier.digits_frechet_distance(images, test)}
  params = inception.load_params(config.eval.inception_weights)
  stats = fid_stats.load_stats(fid_stats.stats_path(config))
  pools, logits = [], []
  u8 = fid_stats.images_to_uint8(x, config)
  for i in range(0, len(u8), 200):
    p, l = inception.inception_features(params, u8[i:i + 200])
    pools.append(np.asarray(p))
    logits.append(np.asarray(l))
  return inception_metrics(np.concatenate(pools), np.concatenate(logits), stats)


def inception_metrics(pool, logits, stats):
  """FID and IS of samples' pool3 features and logits; KID when `stats` (from
  `fid_stats.load_stats`) holds reference rows."""
  from evaluation import metrics as metrics_lib
  mu, sigma = metrics_lib.feature_statistics(pool)
  result = {'fid': metrics_lib.frechet_distance(mu, sigma, stats['mu'], stats['sigma']),
            'is': metrics_lib.inception_score(logits, splits=1)[0]}
  n = min(len(pool), len(stats.get('features', ())), KID_SUBSET_SIZE)
  if n >= 2:   # KID against the reference rows that `--mode fid_stats` keeps
    result['kid'] = metrics_lib.kernel_inception_distance(stats['features'], pool,
                                                          subset_size=n)[0]
  return result


def evaluate(config, workdir):
  """`main.py --mode eval`: loss, bits/dim and sample metrics of each snapshot.

  Reads eval.enable_loss, eval.enable_bpd (eval.bpd_dataset,
  eval.bpd_num_repeats, eval.likelihood_estimator/rtol/atol),
  eval.enable_sampling (eval.num_samples, eval.batch_size). Work is saved
  under WORKDIR/eval/ckpt_K/ as it is done, so an interrupted eval resumes
  where it stopped; results are appended to WORKDIR/eval/metrics.json (one
  record per checkpoint and sampler) and printed as JSON lines.
  """
  if loop.is_toy(config):
    raise ValueError("--mode eval is for image datasets; for toy data use --mode likelihood "
                     "and --mode sample")
  e = config.eval
  records_path = os.path.join(workdir, 'eval', 'metrics.json')
  trainer = loop.Trainer(config)
  # Compiled once for all the checkpoints.
  if e.enable_loss:
    from training import step as step_lib  # pylint: disable=import-outside-toplevel
    eval_step = jax.jit(step_lib.make_eval_step(trainer.eval_loss_fn, config.seed))
  if e.enable_bpd:
    loglik = _loglik_fn(config, trainer)
  if e.enable_sampling:
    shape = (min(e.batch_size, e.num_samples),) + models.input_shape(config)
    sampler = samplers.get_sampler(config, trainer.sde, _score_fn(config, trainer), shape)
  for k, step in _eval_checkpoints(config, workdir):
    out_dir = os.path.join(workdir, 'eval', f'ckpt_{k}')
    os.makedirs(out_dir, exist_ok=True)
    with ckpt_lib.Checkpoints(workdir, async_save=False) as ckpts:
      state = ckpts.restore(trainer.abstract_state(), kind='snapshot', step=step)
    s = config.sampling
    record = {'step': step, 'ckpt': k,
              'sampling': {key: s.get(key) for key in (
                  'method', 'predictor', 'corrector', 'snr', 'n_steps_each', 'probability_flow')},
              'command': 'python main.py ' + ' '.join(sys.argv[1:]) if sys.argv else ''}
    if e.enable_loss:
      record['loss'] = _eval_loss(config, eval_step, state)
    if e.enable_bpd:
      record['bpd'] = _eval_bpd(config, loglik, state, out_dir)
      record['bpd_num_repeats'] = e.bpd_num_repeats
      if config.data.dataset == 'DIGITS':
        record['bpd_baselines'] = _digits_baselines(config)
    if e.enable_sampling:
      x, nfe = _eval_samples(config, sampler, state, out_dir, step)
      record.update(num_samples=len(x), nfe=nfe)
      plots.save_samples(os.path.join(out_dir, 'samples'), x, loop.inverse_scaler(config))
      record.update(_sample_metrics(config, x))
    if jax.process_index() == 0:
      records = json.load(open(records_path)) if os.path.exists(records_path) else []
      records = [r for r in records
                 if not (r['ckpt'] == k and r.get('sampling') == record['sampling'])]
      _write_json_atomic(records_path, records + [record])
    print(json.dumps(record))
