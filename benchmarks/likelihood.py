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
    divergence from one VJP, jitted) over the time of one bare `jax.vjp` of
    the score function (forward and pullback, jitted, same batch). Goal:
    <= 1.2.

Usage: python benchmarks/likelihood.py [--repeats 200] [--batch 64] [--dim 64]
Timings are the minimum over repeats (the least disturbed run) and the
median, in milliseconds.
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

import likelihood  # noqa: E402
import sde_lib  # noqa: E402
from likelihood import divergence  # noqa: E402
from models import analytic  # noqa: E402


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
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return np.array(times) * 1e3


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--repeats', type=int, default=200)
  parser.add_argument('--batch', type=int, default=64)
  parser.add_argument('--dim', type=int, default=64)
  parser.add_argument('--solve-repeats', type=int, default=5)
  args = parser.parse_args()

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
    def bare_vjp(params, x, t, probe):
      out, pullback = jax.vjp(lambda y: score_fn(params, y, t), x)
      return out, pullback(probe)

    # Interleave the two so load changes on a shared machine hit both alike.
    ode_ms, vjp_ms = [], []
    for _ in range(4):
      ode_ms.append(timed(ode_function, params, x, t, probe, repeats=args.repeats // 4))
      vjp_ms.append(timed(bare_vjp, params, x, t, probe, repeats=args.repeats // 4))
    ode_ms, vjp_ms = np.concatenate(ode_ms), np.concatenate(vjp_ms)
    print(json.dumps(dict(kind='overhead', score=name, ode_function_ms=float(ode_ms.min()),
                          bare_vjp_ms=float(vjp_ms.min()),
                          ratio_min=float(ode_ms.min() / vjp_ms.min()),
                          ratio_median=float(np.median(ode_ms) / np.median(vjp_ms)),
                          goal=1.2, **common)), flush=True)


if __name__ == '__main__':
  main()
