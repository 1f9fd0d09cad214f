"""FIR resampling (NCSN++'s fir=True): shifted-slice sums against depthwise convolutions.

    python benchmarks/upfirdn2d.py [--batch 16] [--size 32] [--channels 64] [--repeats 20]

For upsample_2d and downsample_2d with the (1, 3, 3, 1) kernel, times the
value and gradient (jitted, of sum(out * probe)) of the implementation
`models.upfirdn2d` uses (`polyphase`: strided slices and a weighted sum) and
of the depthwise-convolution formulation (`conv`: lhs_dilation / window
strides, feature_group_count = C), and checks that they agree. One JSON line
per operation; milliseconds, minimum over repeats.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from utils import xla_flags  # noqa: E402

xla_flags.configure()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from models import upfirdn2d as fir  # noqa: E402


def resample(x, mode, factor, impl):
  k1 = fir.fir_kernel_1d((1, 3, 3, 1))
  p = k1.shape[0] - factor
  if mode == 'up':
    k1 = k1 * factor
    up, down, pad = factor, 1, ((p + 1) // 2 + factor - 1, p // 2)
  else:
    up, down, pad = 1, factor, ((p + 1) // 2, p // 2)
  f = fir._filter_axis_polyphase if impl == 'polyphase' else fir._filter_axis_conv  # pylint: disable=protected-access
  return f(f(x, k1, 1, up, down, pad), k1, 2, up, down, pad)


def timed(fn, *args, repeats):
  jax.block_until_ready(fn(*args))
  best = float('inf')
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    best = min(best, time.perf_counter() - t0)
  return best * 1e3


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--batch', type=int, default=16)
  parser.add_argument('--size', type=int, default=32)
  parser.add_argument('--channels', type=int, default=64)
  parser.add_argument('--repeats', type=int, default=20)
  args = parser.parse_args()
  x = jax.random.normal(jax.random.PRNGKey(0), (args.batch, args.size, args.size, args.channels))
  for mode in ('up', 'down'):
    out = {}
    for impl in ('polyphase', 'conv'):
      fwd = jax.jit(lambda x, impl=impl: resample(x, mode, 2, impl))
      probe = jnp.ones_like(fwd(x))
      grad = jax.jit(jax.value_and_grad(lambda x, impl=impl: jnp.sum(resample(x, mode, 2, impl)
                                                                     * probe)))
      out[impl] = (timed(fwd, x, repeats=args.repeats), timed(grad, x, repeats=args.repeats),
                   np.asarray(fwd(x)))
    err = float(np.max(np.abs(out['polyphase'][2] - out['conv'][2])))
    print(json.dumps(dict(
        op=f'{mode}sample_2d', shape=list(x.shape), device=jax.devices()[0].device_kind,
        polyphase_forward_ms=out['polyphase'][0], conv_forward_ms=out['conv'][0],
        polyphase_value_and_grad_ms=out['polyphase'][1], conv_value_and_grad_ms=out['conv'][1],
        speedup_value_and_grad=out['conv'][1] / out['polyphase'][1], max_abs_diff=err)))


if __name__ == '__main__':
  from utils import malloc_tunables
  malloc_tunables.reexec_with_tunables()  # what main.py runs with (utils/malloc_tunables.py)
  main()
