"""`main.py` modes that read a trained model: sample, likelihood, eval.

Each restores the newest checkpoint of the workdir (its EMA parameters) and
writes what it computes next to it: `samples/`, `likelihood.json`, `eval/`.
Before computing, each checks that the workdir exists (creating nothing in a
missing one), that the parameters are finite and that it can write its
outputs; results are printed before they are written, and samples or
likelihoods that come out non-finite are an error, never a file.
"""
import hashlib
import json
import math
import os
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

import data
import experiment
import likelihood as likelihood_lib
import samplers
from experiment import checkpoints as ckpt_lib, run_config
from utils import atomic, plots, preemption

LIKELIHOOD_EPS = 1e-5   # the original's lower time for likelihoods
KID_SUBSET_SIZE = 1000  # the KID paper's subset size (fewer when either set is smaller)


class OutputError(OSError):
  """An output path cannot be written (checked before anything is computed)."""


def check_writable(directory):
  """Creates `directory` (its parent must exist) and checks a file can be written there."""
  parent = os.path.dirname(os.path.abspath(directory))
  if not os.path.isdir(parent):
    raise OutputError(f"{parent} does not exist; nothing was computed")
  try:
    os.makedirs(directory, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, prefix='.write_test'):
      pass
  except OSError as e:
    raise OutputError(f"cannot write to {directory} ({e.strerror or e}): fix its permissions "
                      "or free some space; nothing was computed") from None


def check_finite_params(params, step):
  """FloatingPointError naming the arrays when the EMA parameters hold NaN or inf."""
  names = [jax.tree_util.keystr(path) for path, x in jax.tree_util.tree_flatten_with_path(
      jax.device_get(params))[0] if not np.all(np.isfinite(x))]
  if names:
    raise FloatingPointError(
        f"the EMA parameters of the checkpoint at step {step} are not finite ({len(names)} "
        f"arrays hold NaN/inf, e.g. {names[0]}): that training run diverged (see its "
        "optim.lr, model.ema_rate); nothing was computed")


def check_finite(x, what, fields):
  """FloatingPointError when `x` holds NaN or inf; `fields` names the settings to look at."""
  x = np.asarray(x)
  bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
  if bad:
    raise FloatingPointError(f"{what}: {bad} of {x.size} values are NaN or inf ({fields}); "
                             "nothing was written")


def restore(config, workdir):
  """(experiment, state) of the newest checkpoint, with finite EMA parameters; else an error.

  The config must be the one the workdir was trained with (`experiment.run_config`)."""
  with ckpt_lib.Checkpoints(workdir, async_save=False, read_only=True) as ckpts:
    if ckpts.latest() is None:
      raise FileNotFoundError(
          f"no checkpoint under {os.path.abspath(workdir)} (checkpoints/ or checkpoints-meta/): "
          "train first with --mode train")
    run_config.check(config, workdir)
    exp = experiment.Experiment(config)
    state = ckpts.restore(exp.abstract_state(),
                          fallback=bool(config.training.get('restore_fallback', False)))
  check_finite_params(state.ema_params, int(jax.device_get(state.step)))
  return exp, state


def _sampling_fields(config):
  s = config.sampling
  return ', '.join(f'sampling.{k}={s.get(k)!r}' for k in ('method', 'predictor', 'corrector',
                                                           'snr') if s.get(k) is not None)


def sample(config, workdir):
  """Draws `eval.num_samples` samples in rounds of `eval.batch_size`; writes .npz and .png."""
  exp, state = restore(config, workdir)
  step = int(jax.device_get(state.step))
  check_writable(os.path.join(workdir, 'samples'))
  batch = min(config.eval.batch_size, config.eval.num_samples)
  sampler = samplers.get_sampler(config, exp.sde, exp.score_fn, (batch,) + exp.shape)
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 0x5A4)
  rounds = math.ceil(config.eval.num_samples / batch)
  out, nfes = [], []
  for r in tqdm.trange(rounds, desc='sample', disable=jax.process_index() != 0):
    x, nfe = sampler(jax.random.fold_in(key, r), state.ema_params)
    out.append(np.asarray(jax.device_get(x)))
    check_finite(out[-1], f'samples of round {r}', _sampling_fields(config))
    nfes.append(int(nfe))
  x = np.concatenate(out)[:config.eval.num_samples]
  prefix = os.path.join(workdir, 'samples', f'ckpt_{step}')
  result = {'step': step, 'num_samples': len(x), 'nfe_per_round': float(np.mean(nfes)),
            'npz': prefix + '.npz', 'png': prefix + '.png'}
  print(json.dumps(result), flush=True)
  plots.save_samples(prefix, x, exp.inverse_scaler)
  return x


def _loglik_fn(config, exp):
  e = config.eval
  return likelihood_lib.get_likelihood_fn(
      exp.sde, exp.score_fn, estimator=e.likelihood_estimator,
      rtol=e.rtol, atol=e.atol, eps=LIKELIHOOD_EPS)


def likelihood(config, workdir):
  """Mean negative log-likelihood (nats) of held-out data; bits/dim for images.

  For toy data the held-out set is `data.num_test` fresh points; where the
  true density is known its NLL on the same points is reported beside ours.
  """
  if not data.is_toy(config):
    raise NotImplementedError('image likelihoods are computed by --mode eval')
  exp, state = restore(config, workdir)
  step = int(jax.device_get(state.step))
  check_writable(workdir)
  source = exp.train_source()
  x = source.test_set(config.data.num_test)
  check_finite(x, 'held-out data', f'data.dataset={config.data.dataset!r}')
  loglik = _loglik_fn(config, exp)
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 0x5A5)
  bs = config.eval.batch_size
  logps, nfes = [], []
  for i in tqdm.trange(0, len(x), bs, desc='likelihood', disable=jax.process_index() != 0):
    logp, _, nfe = loglik(jax.random.fold_in(key, i), state.ema_params, jnp.asarray(x[i:i + bs]))
    logps.append(np.asarray(logp))
    check_finite(logps[-1], f'log-likelihoods of points {i}..{i + len(logps[-1]) - 1}',
                 f'eval.rtol={config.eval.rtol}, eval.atol={config.eval.atol}')
    nfes.append(int(nfe))
  logp = np.concatenate(logps)
  result = {'step': step, 'num_points': len(x), 'nll': float(-logp.mean()),
            'nll_stderr': float(logp.std(ddof=1) / np.sqrt(len(logp))),
            'nfe': float(np.mean(nfes))}
  if source.log_prob is not None:
    result['true_nll'] = float(-np.mean(source.log_prob(x.astype(np.float64))))
  print(json.dumps(result), flush=True)
  _write_json_atomic(os.path.join(workdir, 'likelihood.json'), result)
  return result


# The JSON records' writer, a module attribute so a test can make writing fail.
_write_json_atomic = atomic.write_json


def _eval_checkpoints(config, workdir):
  """Snapshot indices k in [eval.begin_ckpt, eval.end_ckpt] (step = k * snapshot_freq) that
  exist, as the original numbers them; the newest snapshot when none of those exists."""
  with ckpt_lib.Checkpoints(workdir, async_save=False, read_only=True) as ckpts:
    steps = {step for step, kind in ckpts.all() if kind == 'snapshot'}
  if not steps:
    raise FileNotFoundError(f"no snapshot under {os.path.abspath(workdir)}/checkpoints: train first")
  freq = config.training.snapshot_freq
  wanted = experiment.eval_snapshots(config)
  found = [(k, step) for k, step in wanted if step in steps]
  missing = [k for k, step in wanted if step not in steps]
  if missing:
    tqdm.tqdm.write(f'eval: snapshots {missing} (steps k * {freq}) do not exist; skipped')
  if not found:
    step = max(steps)
    found = [(step // freq, step)]
    tqdm.tqdm.write(f'eval: evaluating the newest snapshot instead, step {step}')
  return found


def _eval_loss(config, eval_step, state):
  """Mean denoising loss of the EMA parameters over the evaluation split."""
  ds = data.get_dataset(config, 'test', evaluation=True)
  total, count = 0., 0
  for i, (x, mask) in enumerate(tqdm.tqdm(ds.epoch_batches(), total=ds.num_epoch_batches(),
                                          desc='eval loss', leave=False)):
    x = x[mask]  # the padding must not count; the loss is a mean over the batch
    total += float(eval_step(state, jnp.asarray(x), i)) * len(x)
    count += len(x)
  return total / count


def _eval_bpd(config, loglik, state, out_dir, watch):
  """bits/dim of eval.bpd_dataset, averaged over eval.bpd_num_repeats dequantisations.

  Each (repeat, batch) result is saved as it is computed, so an interrupted
  eval redoes none of them.
  """
  levels, centered = data.num_levels(config), config.data.centered
  bpds = []
  for r in range(config.eval.bpd_num_repeats):
    ds = data.get_dataset(config, config.eval.bpd_dataset, evaluation=True,
                          uniform_dequantization=True, seed=config.seed + r)
    for i, (x, mask) in enumerate(tqdm.tqdm(ds.epoch_batches(), total=ds.num_epoch_batches(),
                                            desc=f'bpd repeat {r}', leave=False)):
      path = os.path.join(out_dir, f'bpd_{r}_{i}.npz')
      if not os.path.exists(path):
        check_finite(x[mask], f'{config.eval.bpd_dataset} batch {i}', 'the data')
        rng = jax.random.fold_in(jax.random.PRNGKey(config.seed + r), i)
        logp, _, nfe = loglik(rng, state.ema_params, jnp.asarray(x))
        bpd = likelihood_lib.bits_per_dim(logp, x.shape[1:], num_levels=levels, centered=centered)
        check_finite(np.asarray(bpd)[mask], f'bits/dim of batch {i}',
                     f'eval.rtol={config.eval.rtol}, eval.atol={config.eval.atol}')
        atomic.save_npz(path, bpd=np.asarray(bpd)[mask], nfe=int(nfe))
        _stop_if_asked(watch, out_dir)
      bpds.append(np.load(path)['bpd'])
  return float(np.mean(np.concatenate(bpds)))


def _work_dir(out_dir, kind, settings):
  """The folder of `kind`'s saved rounds under `out_dir`, one per `settings` (a dict), so
  that an eval resumed with other settings (another sampler, other tolerances) recomputes
  instead of reusing rounds computed for the old ones. The settings are written inside."""
  text = json.dumps(settings, sort_keys=True)
  path = os.path.join(out_dir, f'{kind}-{hashlib.sha1(text.encode()).hexdigest()[:10]}')
  if not os.path.exists(os.path.join(path, 'settings.json')):
    atomic.write_text(os.path.join(path, 'settings.json'), text)
  return path


def _stop_if_asked(watch, out_dir):
  if watch.reached():
    raise preemption.Preempted(
        f'{watch.signal_name}: eval stopped; the finished work is kept under {out_dir}. '
        'Run the same command to resume')


def _eval_samples(config, sampler, state, out_dir, step, watch):
  """eval.num_samples samples in rounds of eval.batch_size, each round saved when done."""
  batch = min(config.eval.batch_size, config.eval.num_samples)
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), step)
  rounds = math.ceil(config.eval.num_samples / batch)
  for r in tqdm.trange(rounds, desc='eval samples', leave=False):
    path = os.path.join(out_dir, f'samples_{r}.npz')
    if os.path.exists(path):
      continue
    x, nfe = sampler(jax.random.fold_in(key, r), state.ema_params)
    x = np.asarray(jax.device_get(x))
    check_finite(x, f'samples of round {r}', _sampling_fields(config))
    atomic.save_npz(path, samples=x, nfe=int(nfe))
    _stop_if_asked(watch, out_dir)
  files = [np.load(os.path.join(out_dir, f'samples_{r}.npz')) for r in range(rounds)]
  x = np.concatenate([f['samples'] for f in files])[:config.eval.num_samples]
  return x, float(np.mean([int(f['nfe']) for f in files]))


def _digits_baselines(config):
  """Exact bits/dim of a per-pixel categorical and a full-covariance Gaussian (fit on train)."""
  from data import digits
  from evaluation import baselines
  train, _ = digits.load_split('train')
  test, _ = digits.load_split(config.eval.bpd_dataset)
  levels = data.num_levels(config)
  return {'categorical': baselines.categorical_bpd(train, test, levels),
          'gaussian': baselines.gaussian_bpd(train, test, levels)}


def _sample_metrics(config, x):
  """Metrics of samples x (model space): the digits Frechet distance for the built-in
  digits, FID / IS / KID against the dataset statistics otherwise."""
  from evaluation import digits_classifier, fid_stats, inception
  images = np.asarray(data.get_data_inverse_scaler(config)(x))
  if config.data.dataset == 'DIGITS':
    from data import digits
    test, _ = digits.load_split('test')
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
  if data.is_toy(config):
    raise ValueError("--mode eval is for image datasets; for toy data use --mode likelihood "
                     "and --mode sample")
  e = config.eval
  records_path = os.path.join(workdir, 'eval', 'metrics.json')
  checkpoints = _eval_checkpoints(config, workdir)   # a missing workdir: an error, no folders
  check_writable(os.path.join(workdir, 'eval'))
  run_config.check(config, workdir)
  exp = experiment.Experiment(config)
  # Compiled once for all the checkpoints.
  if e.enable_loss:
    eval_step = jax.jit(experiment.make_eval_step(exp.loss_fn(train=False), config.seed))
  if e.enable_bpd:
    loglik = _loglik_fn(config, exp)
  if e.enable_sampling:
    shape = (min(e.batch_size, e.num_samples),) + exp.shape
    sampler = samplers.get_sampler(config, exp.sde, exp.score_fn, shape)
  with preemption.PreemptionWatch() as watch:
    for k, step in checkpoints:
      _evaluate_one(config, workdir, exp, k, step, records_path, watch,
                    eval_step if e.enable_loss else None, loglik if e.enable_bpd else None,
                    sampler if e.enable_sampling else None)


def _evaluate_one(config, workdir, exp, k, step, records_path, watch, eval_step, loglik,
                  sampler):
  """Evaluates snapshot k (at `step`) and adds its record to `records_path`."""
  e = config.eval
  out_dir = os.path.join(workdir, 'eval', f'ckpt_{k}')
  os.makedirs(out_dir, exist_ok=True)
  with ckpt_lib.Checkpoints(workdir, async_save=False, read_only=True) as ckpts:
    state = ckpts.restore(exp.abstract_state(), kind='snapshot', step=step)
  check_finite_params(state.ema_params, step)
  record = {'step': step, 'ckpt': k, 'sampling': run_config.as_dict(config)['sampling'],
            'command': 'python main.py ' + ' '.join(sys.argv[1:]) if sys.argv else ''}
  if e.enable_loss:
    record['loss'] = _eval_loss(config, eval_step, state)
  if e.enable_bpd:
    bpd_settings = {'dataset': e.bpd_dataset, 'estimator': e.likelihood_estimator,
                    'rtol': e.rtol, 'atol': e.atol, 'batch_size': e.batch_size}
    record['bpd'] = _eval_bpd(config, loglik, state, _work_dir(out_dir, 'bpd', bpd_settings),
                              watch)
    record['bpd_num_repeats'] = e.bpd_num_repeats
    if config.data.dataset == 'DIGITS':
      record['bpd_baselines'] = _digits_baselines(config)
  if e.enable_sampling:
    sample_settings = {'sampling': record['sampling'], 'batch_size': e.batch_size}
    x, nfe = _eval_samples(config, sampler, state,
                           _work_dir(out_dir, 'samples', sample_settings), step, watch)
    record.update(num_samples=len(x), nfe=nfe)
    record.update(_sample_metrics(config, x))
  print(json.dumps(record), flush=True)   # before any file: a failed write loses no figure
  if e.enable_sampling:
    plots.save_samples(os.path.join(out_dir, 'samples'), x, exp.inverse_scaler)
  if jax.process_index() == 0:
    records = json.load(open(records_path)) if os.path.exists(records_path) else []
    records = [r for r in records
               if not (r['ckpt'] == k and r.get('sampling') == record['sampling'])]
    _write_json_atomic(records_path, records + [record])
