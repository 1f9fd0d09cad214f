"""Cost of the probability-flow ODE log-likelihood: wall time, NFE and solver overhead.

Prints JSON lines. For two score functions on a batch of 64 in d = 64 (the
exact score of an 8-component Gaussian mixture, and a pure-jnp MLP with
random weights: 3 hidden layers of 256 units, sinusoidal time input, added
to the exact score -x of N(0, I) data so that the ODE is as smooth as a
trained model's rather than as stiff as a random noise predictor divided by
s(t)):

  - kind=likelihood: per-example wall time and NFE of `get_likelihood_fn`
    (Rademacher, rtol = atol = 1e-5, dopri5), compiled, VP SDE;
  - kind=overhead: time of one ODE-function evaluation (drift and Hutchinson
    divergence from one JVP, jitted) over the time of one bare `jax.jvp` of
    the score function (value and tangent, jitted, same batch). Goal:
    <= 1.2.

Usage: python benchmarks/likelihood.py [--repeats=200] [--batch=64] [--dim=64] [--solve_repeats=5]
Timings are the minimum over repeats (the least disturbed run) and the
median, in milliseconds.

With --config, the score network of an image config instead (the issue's row:
the reduced DDPM++ at batch 4, rtol = atol = 1e-5, Rademacher):

  python benchmarks/likelihood.py --config configs/vp/cifar10_ddpmpp_continuous.py \
      --config.model.nf=32 --config.model.ch_mult='(1,2,2)' --config.model.num_res_blocks=1 \
      --batch 4 --train_steps 0,150 --solve_repeats 1

For each count in --train_steps (cumulative, from the same initialisation) the
network is trained that many Adam steps of the config's loss (batch
--train_batch, learning-rate warmup --train_warmup steps instead of the
config's) on scikit-learn's digits resized to the config's image shape, a real
image signal that ships with the code. The raw weights are measured: an EMA at
the configs' rate 0.9999 barely leaves the initialisation in a few hundred
steps. Then the log-likelihood of a batch of held-out digits is solved
`--solve_repeats` times after a first (compiling) call. One JSON line per
count: wall seconds per example, NFE, seconds per NFE, one jitted forward pass
of the score function at the same batch and one jitted JVP (value and
tangent, the least an ODE evaluation can cost), and seconds per NFE divided by
each (the cost of an ODE evaluation, drift and Hutchinson divergence by one
JVP, plus the solver). Also the bits/dim (256 levels) for information.
"""
import json
import os
import sys
import time

from absl import app, flags
from ml_collections import config_flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from utils import xla_flags  # noqa: E402

xla_flags.configure()   # on CPU with the pinned jaxlib: XLA's own convolutions (faster)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import likelihood  # noqa: E402
import sde_lib  # noqa: E402
from data import transforms  # noqa: E402
from likelihood import divergence  # noqa: E402
from models import analytic  # noqa: E402

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'image config: benchmark its score network',
                                lock_config=False)
flags.DEFINE_integer('repeats', 200, 'timed ODE-function evaluations (toy rows)')
flags.DEFINE_integer('batch', None, 'batch size (default 64 for the toy rows, 4 with --config)')
flags.DEFINE_integer('dim', 64, 'dimension of the toy rows')
flags.DEFINE_integer('solve_repeats', None, 'timed solves (default 5 toy, 2 with --config)')
flags.DEFINE_list('train_steps', ['0', '150'], 'with --config: cumulative training steps')
flags.DEFINE_float('tol', 1e-5, 'rtol = atol of the ODE solve')
flags.DEFINE_integer('train_batch', 16, 'with --config: batch size of the brief training')
flags.DEFINE_integer('train_warmup', 10, 'with --config: learning-rate warmup steps of the brief '
                     "training (replaces config.optim.warmup, 5000 in the CIFAR-10 configs)")
flags.DEFINE_integer('max_steps', 4096, "with --config: the solver's step budget")


def mlp_init(rng, dim, width=256, depth=3, time_features=32, out_scale=0.1):
  """Random weights of an MLP (hidden activations O(1), outputs O(out_scale))."""
  sizes = [dim + time_features] + [width] * depth + [dim]
  params = []
  for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
    rng, k = jax.random.split(rng)
    scale = (out_scale if i == depth else 1.) / np.sqrt(fan_in)
    params.append((scale * jax.random.normal(k, (fan_in, fan_out)), jnp.zeros(fan_out)))
  return params


def mlp_score_fn(time_features=32):
  """score(params, x, t) = -x + MLP(x, emb(t)): a perturbed N(0, I) score of a network's cost."""
  freqs = jnp.exp(jnp.linspace(0., np.log(1000.), time_features // 2))

  def score_fn(params, x, t):
    emb = t[:, None] * freqs[None].astype(x.dtype)
    h = jnp.concatenate([x, jnp.sin(emb), jnp.cos(emb)], axis=1)
    for w, b in params[:-1]:
      h = jax.nn.silu(h @ w.astype(x.dtype) + b.astype(x.dtype))
    w, b = params[-1]
    return -x + h @ w.astype(x.dtype) + b.astype(x.dtype)
  return score_fn


def gmm_problem(rng, dim, components=8):
  r = np.random.default_rng(0)
  means = 2. * r.normal(size=(components, dim))
  covs = []
  for _ in range(components):
    q, _ = np.linalg.qr(r.normal(size=(dim, dim)))
    covs.append(q @ np.diag(np.exp(r.uniform(np.log(0.05), 0., size=dim))) @ q.T)
  return analytic.gmm(np.ones(components), np.asarray(means, np.float32),
                      np.asarray(covs, np.float32))


def timed(fn, *args, repeats):
  jax.block_until_ready(fn(*args))  # compile
  return timed_calls(fn, *args, repeats=repeats)


def timed_calls(fn, *args, repeats):
  """Milliseconds of `repeats` calls of an already compiled `fn`."""
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return np.array(times) * 1e3


def resized_digits(config, split, n, seed):
  """n digits of `split` (dequantised, in the config's data scaling) resized to its shape."""
  from data import digits  # pylint: disable=import-outside-toplevel
  levels, _ = digits.load_split(split)
  rng = np.random.default_rng(seed)
  idx = rng.choice(len(levels), n, replace=len(levels) < n)
  v = (levels[idx].astype(np.float32) + rng.uniform(size=(n,) + levels.shape[1:])) / 17.
  size, ch = config.data.image_size, config.data.num_channels
  v = jnp.asarray(v, jnp.float32).reshape(n, 8, 8, 1)
  v = jax.image.resize(v, (n, size, size, 1), 'linear')
  v = jnp.repeat(v, ch, axis=-1)
  return transforms.to_model_space(v, config.data.centered)


def network_rows(config, batch, solve_repeats, train_steps, tol, train_batch, max_steps,
                 train_warmup):
  """The --config rows: likelihood cost of the config's network, untrained and trained."""
  config.optim.warmup = train_warmup
  # pylint: disable=import-outside-toplevel
  import models
  from experiment import state as state_lib
  from training import losses, step as step_lib

  sde = sde_lib.get_sde(config)
  optimizer = state_lib.get_optimizer(config)
  model = models.get_model(config)
  # Initialised under jit, so params and ema_params are distinct buffers (both donated).
  state = jax.jit(lambda r: state_lib.init_train_state(r, config, optimizer)[1])(
      jax.random.PRNGKey(config.seed))
  loss_fn = losses.get_loss_fn(config, sde, model, train=True)
  train_step = jax.jit(step_lib.make_train_step(loss_fn, optimizer, config.model.ema_rate,
                                                config.seed), donate_argnums=0)
  score_fn = models.get_score_fn(sde, model, continuous=config.training.continuous)
  eps = 1e-5
  loglik = likelihood.get_likelihood_fn(sde, score_fn, estimator='rademacher', rtol=tol,
                                        atol=tol, eps=eps, max_steps=max_steps)
  forward = jax.jit(lambda p, x, t: score_fn(p, x, t))
  forward_jvp = jax.jit(lambda p, x, t, v: jax.jvp(lambda y: score_fn(p, y, t), (x,), (v,)))
  x = resized_digits(config, 'test', batch, seed=1)
  t = jnp.full((batch,), 0.5, jnp.float32)
  pool = resized_digits(config, 'train', 4096, seed=2)
  common = dict(config=config_flags.get_config_filename(FLAGS['config']),
                model={k: (list(v) if isinstance(v, tuple) else v) for k, v in
                       config.model.items() if k in ('name', 'nf', 'ch_mult', 'num_res_blocks')},
                device=jax.devices()[0].device_kind, backend=jax.default_backend(),
                batch=batch, estimator='rademacher', rtol=tol, atol=tol, solver='dopri5',
                train_batch=train_batch)
  done, losses_seen = 0, []
  for target in sorted(int(s) for s in train_steps):
    start = time.perf_counter()
    while done < target:
      idx = (np.arange(train_batch) + done * train_batch) % len(pool)
      state, loss = train_step(state, pool[idx])
      losses_seen.append(loss)
      done += 1
    train_s = time.perf_counter() - start
    # The raw weights: an EMA at the configs' rate 0.9999 is still almost the
    # initialisation after a few hundred steps.
    params = state.params
    forward_ms = timed(forward, params, x, t, repeats=20)
    jvp_ms = timed(forward_jvp, params, x, t, x, repeats=20)
    start = time.perf_counter()
    logp, _, nfe = jax.block_until_ready(loglik(jax.random.PRNGKey(3), params, x))
    first_s = time.perf_counter() - start  # compile and one solve
    solve_ms = timed_calls(loglik, jax.random.PRNGKey(3), params, x, repeats=solve_repeats)
    bpd = likelihood.bits_per_dim(logp, x.shape[1:], num_levels=256,
                                  centered=config.data.centered)
    wall = float(solve_ms.min()) / 1e3
    s_per_nfe = wall / int(nfe)
    row = dict(kind='network_likelihood', train_steps=done, train_s=round(train_s, 2),
               last_losses=[round(float(l), 4) for l in losses_seen[-5:]],
               first_call_s=round(first_s, 2), per_example_s=wall / batch, batch_wall_s=wall, nfe=int(nfe),
               s_per_nfe=s_per_nfe, forward_s=float(forward_ms.min()) / 1e3,
               nfe_cost_in_forwards=s_per_nfe / (float(forward_ms.min()) / 1e3),
               jvp_s=float(jvp_ms.min()) / 1e3,
               nfe_cost_in_jvps=s_per_nfe / (float(jvp_ms.min()) / 1e3),
               bpd_256=float(jnp.mean(bpd)), **common)
    print(json.dumps(row), flush=True)


def main(argv):
  del argv
  args = FLAGS
  if args.config is not None:
    network_rows(args.config, args.batch or 4, args.solve_repeats or 2, args.train_steps,
                 args.tol, args.train_batch, args.max_steps, args.train_warmup)
    return
  args.batch = args.batch or 64
  args.solve_repeats = args.solve_repeats or 5

  sde = sde_lib.VPSDE(beta_min=0.1, beta_max=20., N=1000)
  rng = jax.random.PRNGKey(0)
  gmm = gmm_problem(rng, args.dim)
  problems = {
      'gmm_oracle': (analytic.gmm_score_fn(sde), gmm,
                     analytic.gmm_sample(rng, gmm, args.batch).astype(jnp.float32)),
      'mlp_3x256': (mlp_score_fn(), mlp_init(rng, args.dim),
                    jax.random.normal(rng, (args.batch, args.dim), jnp.float32)),
  }
  common = dict(device=jax.devices()[0].device_kind, backend=jax.default_backend(),
                jax=jax.__version__, batch=args.batch, dim=args.dim, dtype='float32')

  for name, (score_fn, params, x) in problems.items():
    loglik = likelihood.get_likelihood_fn(sde, score_fn, estimator='rademacher',
                                          rtol=1e-5, atol=1e-5, eps=1e-5, solver='dopri5')
    ms = timed(loglik, jax.random.PRNGKey(1), params, x, repeats=args.solve_repeats)
    logp, _, nfe = loglik(jax.random.PRNGKey(1), params, x)
    print(json.dumps(dict(kind='likelihood', score=name, estimator='rademacher', rtol=1e-5,
                          atol=1e-5, solver='dopri5', nfe=int(nfe), batch_wall_ms=float(ms.min()),
                          per_example_ms=float(ms.min()) / args.batch,
                          mean_logp=float(jnp.mean(logp)), **common)), flush=True)

    t = jnp.full((args.batch,), 0.5, jnp.float32)
    probe = jax.random.rademacher(jax.random.PRNGKey(2), x.shape, jnp.float32)

    @jax.jit
    def ode_function(params, x, t, probe):
      rsde = sde.reverse(lambda y, s: score_fn(params, y, s), probability_flow=True)
      return divergence.value_and_divergence(lambda y: rsde.sde(y, t)[0], x, 'rademacher', probe)

    @jax.jit
    def bare_jvp(params, x, t, probe):
      return jax.jvp(lambda y: score_fn(params, y, t), (x,), (probe,))

    # Interleave the two so load changes on a shared machine hit both alike.
    ode_ms, jvp_ms = [], []
    for _ in range(4):
      ode_ms.append(timed(ode_function, params, x, t, probe, repeats=args.repeats // 4))
      jvp_ms.append(timed(bare_jvp, params, x, t, probe, repeats=args.repeats // 4))
    ode_ms, jvp_ms = np.concatenate(ode_ms), np.concatenate(jvp_ms)
    print(json.dumps(dict(kind='overhead', score=name, ode_function_ms=float(ode_ms.min()),
                          bare_jvp_ms=float(jvp_ms.min()),
                          ratio_min=float(ode_ms.min() / jvp_ms.min()),
                          ratio_median=float(np.median(ode_ms) / np.median(jvp_ms)),
                          goal=1.2, **common)), flush=True)


if __name__ == '__main__':
  from utils import malloc_tunables
  malloc_tunables.reexec_with_tunables()  # what main.py runs with (utils/malloc_tunables.py)
  app.run(main)
