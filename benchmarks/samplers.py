"""Sample quality against NFE for every sampler: the paper's PC and ODE ones and the fast ones.

Two datasets, one JSON line per (sampler, NFE) point (printed, and written to
--out/samplers_DATASET.jsonl), and a PNG plot per dataset (quality against
NFE, log-scale axes) as --out/samplers_DATASET.png:

  gmm     a Gaussian mixture in d = 64 (8 components, random anisotropic
          covariances with eigenvalues in [0.05, 1]) with its exact score
          (`models.analytic`), VP SDE (beta in [0.1, 20]). Quality: the mean
          log-density gap (mean log p(samples) - E_p[log p], 0 for exact
          samples; nats), and the 2-Wasserstein distance between the Gaussian
          fitted to the samples and the mixture's own mean and covariance.
          `floor` rows give both for exact mixture samples of the same count
          (what a perfect sampler scores).
  digits  the README's main job's model (configs/digits/ddpmpp_vp.py, its
          newest checkpoint in --workdir, EMA weights). Quality: the digits
          Frechet distance of the samples to the 360 test digits
          (`evaluation.digits_classifier`, as `main.py --mode eval` computes
          it), plus the same distance for the 1437 training digits
          (`floor`) and for --num_samples of them (`floor_same_count`).

Samplers and what NFE means for each (exact; see the samplers' docstrings):
  pc               reverse diffusion + no corrector, N = NFE steps (the digits
                   config's own sampler; 'pc' at 1000 is the reference)
  pc_langevin      reverse diffusion + Langevin (snr 0.16), N = NFE / 2 (gmm only)
  ode              RK45 (dopri5), adaptive; one point per rtol = atol in
                   ODE_TOLERANCES at whatever NFE it takes (not on the NFE grid)
  ddim             num_steps = NFE
  dpm_solver_2/_3  singlestep DPM-Solver++ (data prediction, log-SNR grid),
                   num_steps = NFE - 1 (+1 final denoising)
  dpm_solver++_2m/_3m  multistep, num_steps = NFE - 1
  edm_heun         num_steps = (NFE + 1) // 2, i.e. NFE - 1 evaluations for even NFE
  ddim_eta1        DDIM with eta = 1, num_steps = NFE
  edm_heun_churn   EDM with churn (S_churn 40, S_min 0.05, S_max 50, S_noise 1.003: EDM's
                   ImageNet-64 settings), num_steps = (NFE + 1) // 2

Every sampler of a dataset starts from the same prior draws (the same rng).

Usage:
  python benchmarks/samplers.py --dataset gmm [--num_samples 2000]
  python benchmarks/samplers.py --dataset digits --workdir runs/digits [--num_samples 360]
      [--fast_nfes 5,10,20,35,50] [--ode_tols 1e-2,1e-3]   (fewer points on a slow CPU)
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import samplers  # noqa: E402
import sde_lib  # noqa: E402
from models import analytic  # noqa: E402

NFES = (5, 10, 20, 35, 50, 100, 1000)
ODE_TOLERANCES = (1e-1, 3e-2, 1e-2, 1e-3, 1e-5)


def _with_steps(sde, n):
  """A copy of `sde` with N = n (the PC samplers' number of steps)."""
  if isinstance(sde, sde_lib.VESDE):
    return sde_lib.VESDE(sde.sigma_min, sde.sigma_max, N=n)
  return type(sde)(sde.beta_0, sde.beta_1, N=n)


def fixed_budget_samplers(sde, score_fn, shape, with_langevin):
  """name -> build(nfe) -> sampler (or None where the NFE cannot be met)."""
  def dpm(order, method):
    return lambda nfe: (samplers.get_dpm_solver_sampler(
        sde, score_fn, shape, num_steps=nfe - 1, order=order, method=method)
        if nfe - 1 >= order else None)
  table = {
      'pc': lambda nfe: samplers.get_pc_sampler(
          _with_steps(sde, nfe), score_fn, shape, predictor='reverse_diffusion',
          corrector='none', eps=samplers.default_eps(sde)),
      'ddim': lambda nfe: samplers.get_ddim_sampler(sde, score_fn, shape, num_steps=nfe),
      'dpm_solver_2': dpm(2, 'singlestep'),
      'dpm_solver_3': dpm(3, 'singlestep'),
      'dpm_solver++_2m': dpm(2, 'multistep'),
      'dpm_solver++_3m': dpm(3, 'multistep'),
      'edm_heun': lambda nfe: samplers.get_edm_sampler(sde, score_fn, shape,
                                                       num_steps=(nfe + 1) // 2),
      # The stochastic variants: DDIM's eta = 1, EDM's churn with its ImageNet-64 settings.
      'ddim_eta1': lambda nfe: samplers.get_ddim_sampler(sde, score_fn, shape, num_steps=nfe,
                                                         eta=1.),
      'edm_heun_churn': lambda nfe: samplers.get_edm_sampler(
          sde, score_fn, shape, num_steps=(nfe + 1) // 2, s_churn=40., s_min=0.05, s_max=50.,
          s_noise=1.003),
  }
  if with_langevin:
    table['pc_langevin'] = lambda nfe: samplers.get_pc_sampler(
        _with_steps(sde, nfe // 2), score_fn, shape, predictor='reverse_diffusion',
        corrector='langevin', snr=0.16, eps=samplers.default_eps(sde))
  return table


def run_all(sde, score_fn, shape, params, metric, args, with_langevin, rng, emit):
  """Every sampler at every NFE (and the ODE at every tolerance); emit(record) per point.

  The PC samplers run at args.nfes, the fast ones at args.fast_nfes (default:
  the same), the ODE sampler at args.ode_tols.
  """
  for name, build in fixed_budget_samplers(sde, score_fn, shape, with_langevin).items():
    if args.samplers and name not in args.samplers:
      continue
    for target in (args.nfes if name.startswith('pc') else args.fast_nfes or args.nfes):
      sample = build(target)
      if sample is None:
        continue
      start = time.time()
      x, nfe = sample(rng, params)
      x = np.asarray(jax.device_get(x))
      emit(dict(sampler=name, nfe_target=target, nfe=int(nfe),
                seconds=round(time.time() - start, 2), **metric(x)))
  for tol in (args.ode_tols if not args.samplers or 'ode' in args.samplers else ()):
    sample = samplers.get_ode_sampler(sde, score_fn, shape, rtol=tol, atol=tol,
                                      denoise=True, eps=samplers.default_eps(sde))
    start = time.time()
    x, nfe = sample(rng, params)
    x = np.asarray(jax.device_get(x))
    emit(dict(sampler='ode', rtol=tol, nfe=int(nfe), seconds=round(time.time() - start, 2),
              **metric(x)))


# ------------------------------------------------------------------------ gmm


def gmm_params(dim=64, components=8, seed=0):
  r = np.random.default_rng(seed)
  covs = []
  for _ in range(components):
    q, _ = np.linalg.qr(r.normal(size=(dim, dim)))
    covs.append(q @ np.diag(np.exp(r.uniform(np.log(0.05), 0., size=dim))) @ q.T)
  return analytic.gmm(np.ones(components), r.normal(size=(components, dim)), np.asarray(covs))


def _psd_sqrt(a):
  lam, u = np.linalg.eigh(0.5 * (a + a.T))
  return (u * np.sqrt(np.maximum(lam, 0.))) @ u.T


def gaussian_w2(mean_a, cov_a, mean_b, cov_b):
  """2-Wasserstein distance between N(mean_a, cov_a) and N(mean_b, cov_b); nan if not finite."""
  if not (np.all(np.isfinite(mean_a)) and np.all(np.isfinite(cov_a))):
    return float('nan')
  root_b = _psd_sqrt(cov_b)
  w2 = (np.sum((mean_a - mean_b) ** 2)
        + np.trace(cov_a + cov_b - 2 * _psd_sqrt(root_b @ cov_a @ root_b)))
  return float(np.sqrt(max(w2, 0.)))


def gmm_metric(gmm):
  """metric(x) -> {logp_gap, w2} against the mixture `gmm` (float64 host arithmetic)."""
  w = np.exp(np.asarray(gmm['log_weights'], np.float64))
  mu = np.asarray(gmm['means'], np.float64)
  u, lam = np.asarray(gmm['cov_eigvecs'], np.float64), np.asarray(gmm['cov_eigvals'], np.float64)
  covs = np.einsum('kij,kj,klj->kil', u, lam, u)
  mean = w @ mu
  cov = np.einsum('k,kij->ij', w, covs + mu[:, :, None] * mu[:, None, :]) - np.outer(mean, mean)
  vp = sde_lib.VPSDE()
  exact = analytic.gmm_sample(jax.random.PRNGKey(12345), gmm, 100_000)
  true_logp = float(np.mean(np.asarray(analytic.gmm_log_prob(vp, gmm, exact, 0.))))

  def metric(x):
    x = np.asarray(x, np.float64)
    logp = np.asarray(analytic.gmm_log_prob(vp, gmm, jnp.asarray(x, gmm['means'].dtype), 0.))
    return dict(logp_gap=round(float(np.mean(logp)) - true_logp, 4),
                w2=round(gaussian_w2(x.mean(0), np.cov(x.T), mean, cov), 4),
                finite=bool(np.all(np.isfinite(x))))
  return metric


def run_gmm(args, emit):
  gmm = gmm_params()
  sde = sde_lib.VPSDE(beta_min=0.1, beta_max=20., N=1000)
  metric = gmm_metric(gmm)
  n = args.num_samples
  emit(dict(sampler='floor', nfe=0, **metric(np.asarray(
      analytic.gmm_sample(jax.random.PRNGKey(7), gmm, n)))))
  run_all(sde, analytic.gmm_score_fn(sde), (n, 64), gmm, metric, args, True,
          jax.random.PRNGKey(0), emit)


# --------------------------------------------------------------------- digits


def run_digits(args, emit):
  import data
  import models
  from configs.digits import ddpmpp_vp
  from data import digits
  from evaluation import digits_classifier, runs
  config = ddpmpp_vp.get_config()
  trainer, state = runs.restore(config, args.workdir)
  network_score = jax.jit(models.get_score_fn(trainer.sde, trainer.model,
                                              continuous=config.training.continuous))

  def score_fn(params, x, t):
    # The network is compiled once (per batch shape) and called from each sampler's loop
    # through a host callback: otherwise each of the ~45 sampler programs recompiles it
    # (about a minute each on this 2-core machine). The samples are the same.
    del params   # the callback's own: state.ema_params below
    return jax.pure_callback(
        lambda x, t: np.asarray(network_score(state.ema_params, x, t), x.dtype),
        jax.ShapeDtypeStruct(x.shape, x.dtype), x, t)

  test, _ = digits.load_split('test')
  train, _ = digits.load_split('train')
  scaler = data.get_data_inverse_scaler(config)   # [-1, 1] -> [0, 1], as eval does

  def metric(x):
    if not np.all(np.isfinite(x)):      # PC with a few steps of beta_max / N > 1 diverges
      return dict(digits_fd=float('nan'), finite=False)
    images = np.asarray(scaler(x))
    return dict(digits_fd=round(float(digits_classifier.digits_frechet_distance(images, test)), 3),
                finite=True)

  # Floors: all 1437 training digits, and as many of them as samples (the FD of a
  # small set is biased upwards by its size).
  subset = train[np.random.default_rng(0).permutation(len(train))[:args.num_samples]]
  for name, images in (('floor', train), ('floor_same_count', subset)):
    emit(dict(sampler=name, nfe=0, step=int(jax.device_get(state.step)), count=len(images),
              digits_fd=round(float(digits_classifier.digits_frechet_distance(images, test)), 3)))
  shape = (args.num_samples,) + models.input_shape(config)
  run_all(trainer.sde, score_fn, shape, state.ema_params, metric, args, False,
          jax.random.PRNGKey(config.seed), emit)


# ----------------------------------------------------------------------- plot


def plot(records, dataset, path):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  keys = ['logp_gap', 'w2'] if dataset == 'gmm' else ['digits_fd']
  fig, axes = plt.subplots(1, len(keys), figsize=(6 * len(keys), 4.5), dpi=100, squeeze=False)
  names = sorted({r['sampler'] for r in records} - {'floor', 'floor_same_count'})
  floor = [r for r in records if r['sampler'] == ('floor_same_count' if dataset == 'digits'
                                                   else 'floor')]
  for ax, key in zip(axes[0], keys):
    for name in names:
      pts = sorted((r['nfe'], abs(r[key]) if key == 'logp_gap' else r[key])
                   for r in records if r['sampler'] == name and np.isfinite(r[key]))
      if pts:
        ax.plot(*zip(*pts), marker='o', ms=3, label=name)
    if floor:
      value = abs(floor[0][key]) if key == 'logp_gap' else floor[0][key]
      ax.axhline(value, color='gray', ls='--', lw=1,
                 label='training digits (same count)' if dataset == 'digits' else 'exact samples')
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.set_xlabel('NFE (score evaluations)')
    ax.set_ylabel({'logp_gap': '|mean log-density gap| (nats)', 'w2': 'W2 of Gaussian fits',
                   'digits_fd': 'digits Frechet distance'}[key])
    ax.grid(True, which='both', alpha=0.3)
  axes[0][0].legend(fontsize=7)
  fig.suptitle({'gmm': 'Gaussian mixture, d = 64, exact score (VP)',
                'digits': 'digits, DDPM++ VP (configs/digits/ddpmpp_vp.py)'}[dataset])
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--dataset', choices=('gmm', 'digits'), required=True)
  parser.add_argument('--num_samples', type=int, default=None,
                      help='samples per point (default: 2000 gmm, 360 digits)')
  parser.add_argument('--nfes', type=lambda s: tuple(int(v) for v in s.split(',')),
                      default=NFES)
  parser.add_argument('--fast_nfes', type=lambda s: tuple(int(v) for v in s.split(',')),
                      default=None, help='NFEs of the fast samplers (default: --nfes)')
  parser.add_argument('--ode_tols', type=lambda s: tuple(float(v) for v in s.split(',')),
                      default=ODE_TOLERANCES, help='rtol = atol of the ODE sampler points')
  parser.add_argument('--samplers', type=lambda s: tuple(s.split(',')), default=(),
                      help='only these samplers (names as in the module docstring)')
  parser.add_argument('--workdir', default='runs/digits', help='digits: the trained workdir')
  parser.add_argument('--out', default='runs/benchmarks', help='folder for .jsonl and .png')
  parser.add_argument('--tag', default='', help='suffix of the output files')
  args = parser.parse_args()
  if args.num_samples is None:
    args.num_samples = 2000 if args.dataset == 'gmm' else 360
  os.makedirs(args.out, exist_ok=True)
  records = []
  stem = os.path.join(args.out, f'samplers_{args.dataset}{args.tag}')
  jsonl = open(stem + '.jsonl', 'w')

  def emit(record):
    record = dict(dataset=args.dataset, num_samples=args.num_samples, **record)
    records.append(record)
    line = json.dumps(record)
    print(line, flush=True)
    jsonl.write(line + '\n')
    jsonl.flush()

  start = time.time()
  (run_gmm if args.dataset == 'gmm' else run_digits)(args, emit)
  png = stem + '.png'
  plot(records, args.dataset, png)
  print(json.dumps(dict(dataset=args.dataset, png=png, total_seconds=round(time.time() - start))))


if __name__ == '__main__':
  from utils import malloc_tunables
  malloc_tunables.reexec_with_tunables()  # what main.py runs with (utils/malloc_tunables.py)
  main()
