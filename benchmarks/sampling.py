"""Cost of the samplers: PC step over score evaluation, corrector overhead, ODE wall time and NFE.

Prints JSON lines, float32, VP SDE (N = 1000), for three score functions on a
batch of `--batch` examples: the exact score of a 3-component Gaussian mixture
in d = 2, of an 8-component one in d = 64, and a pure-jnp MLP in d = 64
(3 hidden layers of 256 units with a sinusoidal time input, added to -x so
that it is a smooth score), a stand-in of a small network's cost.

  - kind=score: one score evaluation, jitted, in a loop of N evaluations
    (`loop_ms`, what a sampler pays per evaluation) and as one call
    (`call_ms`, dispatch included); `noise_ms`: one standard normal draw of
    the batch's shape (threefry, in a loop of N), which every stochastic
    step pays on top of its score evaluations;
  - kind=pc: time per PC time step (one jitted sample / N) and
    `ratio` = step / score loop_ms. Goal for reverse_diffusion + none: <= 1.1.
    `rest_ms` = step - evaluations * loop_ms - draws * noise_ms is what the
    sampler adds beyond scores and noise. For reverse_diffusion + langevin,
    `corrector_overhead` = its step time over that of reverse_diffusion +
    none (2 score evaluations and 2 draws against 1 and 1);
  - kind=ode: wall time of the probability-flow ODE sampler (dopri5) and its
    NFE at rtol = atol = 1e-5 and 1e-3, and `ratio` = time per NFE / score
    loop_ms.

Timings are the median over `--repeats` runs after a warm-up (compile) run.

Usage: python benchmarks/sampling.py [--batch 256] [--repeats 5] [--N 1000]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import samplers  # noqa: E402
import sde_lib  # noqa: E402
from benchmarks._common import median_ms  # noqa: E402
from models import analytic  # noqa: E402


def gmm_params(dim, components, seed=0):
  r = np.random.default_rng(seed)
  covs = []
  for _ in range(components):
    q, _ = np.linalg.qr(r.normal(size=(dim, dim)))
    covs.append(q @ np.diag(np.exp(r.uniform(np.log(0.05), 0., size=dim))) @ q.T)
  means = r.normal(size=(components, dim)).astype(np.float32)
  return analytic.gmm(np.ones(components, np.float32), means, np.asarray(covs, np.float32))


def mlp_params(rng, dim, width=256, depth=3, time_features=32):
  sizes = [dim + time_features] + [width] * depth + [dim]
  params = []
  for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
    rng, k = jax.random.split(rng)
    scale = (0.1 if i == depth else 1.) / np.sqrt(fan_in)
    params.append((scale * jax.random.normal(k, (fan_in, fan_out)), jnp.zeros(fan_out)))
  return params


def mlp_score_fn(time_features=32):
  """-x + MLP(x, sin/cos(t * freqs)): a network's cost, a smooth score."""
  freqs = jnp.exp(jnp.linspace(0., np.log(1000.), time_features // 2))

  def score_fn(params, x, t):
    emb = t[:, None] * freqs[None]
    h = jnp.concatenate([x, jnp.sin(emb), jnp.cos(emb)], axis=1)
    for w, b in params[:-1]:
      h = jax.nn.silu(h @ w + b)
    w, b = params[-1]
    return -x + h @ w + b
  return score_fn


def score_times(score_fn, params, shape, n, repeats):
  """(ms per evaluation inside a loop of n, ms per jitted call)."""
  x = jax.random.normal(jax.random.PRNGKey(1), shape)
  ts = jnp.linspace(1., 1e-3, n)

  @jax.jit
  def loop(params, x):
    # Each evaluation feeds the next, so none can be hoisted or skipped.
    body = lambda i, x: x + 1e-3 * score_fn(params, x, jnp.full(shape[:1], ts[i]))
    return jax.lax.fori_loop(0, n, body, x)

  call = jax.jit(lambda params, x: score_fn(params, x, jnp.full(shape[:1], 0.5)))
  return (median_ms(loop, params, x, repeats=repeats) / n,
          median_ms(call, params, x, repeats=repeats))


def noise_ms(shape, n, repeats):
  """ms per normal draw of `shape`, in a loop of n draws."""
  @jax.jit
  def loop(rng, x):
    body = lambda i, x: x + jax.random.normal(jax.random.fold_in(rng, i), shape)
    return jax.lax.fori_loop(0, n, body, x)
  return median_ms(loop, jax.random.PRNGKey(2), jnp.zeros(shape), repeats=repeats) / n


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--batch', type=int, default=256)
  parser.add_argument('--repeats', type=int, default=5)
  parser.add_argument('--N', type=int, default=1000)
  args = parser.parse_args()
  sde = sde_lib.VPSDE(N=args.N)
  gmm_score = analytic.gmm_score_fn(sde)
  problems = {
      'gmm_d2_k3': (gmm_score, gmm_params(2, 3), 2),
      'gmm_d64_k8': (gmm_score, gmm_params(64, 8), 64),
      'mlp_d64': (mlp_score_fn(), mlp_params(jax.random.PRNGKey(0), 64), 64),
  }
  device = jax.devices()[0].device_kind
  rng = jax.random.PRNGKey(0)
  for name, (score_fn, params, dim) in problems.items():
    shape = (args.batch, dim)
    common = dict(problem=name, batch=args.batch, device=device)
    loop_ms, call_ms = score_times(score_fn, params, shape, args.N, args.repeats)
    draw_ms = noise_ms(shape, args.N, args.repeats)
    print(json.dumps(dict(kind='score', **common, loop_ms=loop_ms, call_ms=call_ms,
                          noise_ms=draw_ms)), flush=True)
    step_ms = {}
    for corrector in ('none', 'langevin'):
      sample = samplers.get_pc_sampler(sde, score_fn, shape, 'reverse_diffusion', corrector)
      step_ms[corrector] = median_ms(sample, rng, params, repeats=args.repeats) / args.N
      evals = 1 if corrector == 'none' else 2
      row = dict(kind='pc', **common, predictor='reverse_diffusion', corrector=corrector,
                 N=args.N, step_ms=step_ms[corrector], ratio=step_ms[corrector] / loop_ms,
                 ratio_vs_call=step_ms[corrector] / call_ms,
                 rest_ms=step_ms[corrector] - evals * (loop_ms + draw_ms))
      if corrector != 'none':
        row['corrector_overhead'] = step_ms[corrector] / step_ms['none']
      print(json.dumps(row), flush=True)
    for tol in (1e-5, 1e-3):
      sample = samplers.get_ode_sampler(sde, score_fn, shape, rtol=tol, atol=tol)
      wall_ms = median_ms(sample, rng, params, repeats=args.repeats)
      nfe = int(sample(rng, params)[1])
      print(json.dumps(dict(kind='ode', **common, solver='dopri5', rtol=tol, atol=tol,
                            wall_ms=wall_ms, nfe=nfe, ratio=wall_ms / nfe / loop_ms)), flush=True)


if __name__ == '__main__':
  from utils import malloc_tunables
  malloc_tunables.reexec_with_tunables()  # what main.py runs with (utils/malloc_tunables.py)
  main()
