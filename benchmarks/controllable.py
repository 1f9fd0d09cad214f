"""Cost of controllable generation: inpainter and class-conditional PC steps over the plain PC step.

Prints JSON lines for a digits config's score network (default
configs/digits/ddpmpp_vp.py, the README's main job: a small DDPM++) and its
noise-conditional classifier (`config.classifier`), untrained (the cost does
not depend on the weights), float32, `--batch` digits of 8x8x1, N = `--N`
time steps:

  - kind=pc: time per step of `get_pc_sampler` (one jitted sample / N);
  - kind=inpaint: time per step of `get_pc_inpainter` (half of each digit
    known) and `ratio` = that / the pc step with the same predictor and
    corrector. Goal: <= 1.1 (replacement adds a normal draw and a select per
    update, against a network evaluation);
  - kind=conditional: time per step of `get_pc_conditional_sampler` (the
    classifier's gradient at every score evaluation) and `ratio` over the pc
    step. Goal: <= 1.6; it is about 1 + (classifier forward + backward) /
    score forward, so it depends on the classifier's size against the score
    network's, which kind=cost reports (`grad_over_score`: one jitted
    classifier gradient over one jitted score evaluation, both in a loop).

Timings are the median over `--repeats` runs after a warm-up (compile) run;
the pc, inpaint and conditional samplers are timed in turn within each repeat,
`ratio` is the median of the repeats' ratios and `ratio_min` the ratio of the
fastest runs (both robust to a shared machine's changing load).

  python benchmarks/controllable.py [--batch 16] [--N 20] [--repeats 3] \\
      [--config configs/digits/ddpmpp_vp.py] [--config.model.nf=16 ...]
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

import samplers  # noqa: E402
from benchmarks._common import median_ms, score_network  # noqa: E402
from models import classifier as classifier_lib  # noqa: E402

FLAGS = flags.FLAGS
_DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               'configs', 'digits', 'ddpmpp_vp.py')
config_flags.DEFINE_config_file('config', _DEFAULT_CONFIG, 'a digits config (score network and '
                                'classifier)', lock_config=False)
flags.DEFINE_integer('batch', 16, 'samples per batch')
flags.DEFINE_integer('N', 20, 'time steps (replaces config.model.num_scales)')
flags.DEFINE_integer('repeats', 3, 'timed runs per row (median)')

PAIRS = (('reverse_diffusion', 'none'), ('reverse_diffusion', 'langevin'))


def interleaved_ms(runs, repeats):
  """{name: [ms of each of `repeats` calls]} for runs {name: (fn, args)}, called in turn.

  Each repeat times every run once, back to back, so that the ratios of one
  repeat share the machine's load (other processes on a shared CPU move it
  by tens of per cent from one minute to the next).
  """
  for fn, args in runs.values():
    jax.block_until_ready(fn(*args))  # compile and warm up
  times = {name: [] for name in runs}
  for _ in range(repeats):
    for name, (fn, args) in runs.items():
      t0 = time.perf_counter()
      jax.block_until_ready(fn(*args))
      times[name].append(1e3 * (time.perf_counter() - t0))
  return times


def loop_ms(fn, x, n, repeats):
  """ms per call of fn(x, t) -> like x, in a jitted loop of n calls that feed each other."""
  @jax.jit
  def loop(x):
    return jax.lax.fori_loop(0, n, lambda i, x: x + 1e-3 * fn(x, jnp.full(x.shape[:1], 0.5)), x)
  return median_ms(loop, x, repeats=repeats) / n


def main(_):
  config = FLAGS.config
  sde, shape, score_fn, variables = score_network(config, FLAGS.batch, FLAGS.N)
  classifier = classifier_lib.get_classifier(config)
  cvars = jax.jit(lambda r: classifier_lib.init_classifier(r, config)[1])(jax.random.PRNGKey(1))
  logit_fn = classifier_lib.get_logit_fn(sde, classifier)
  rng = jax.random.PRNGKey(2)
  data = jax.random.uniform(jax.random.PRNGKey(3), shape, minval=-1., maxval=1.)
  mask = np.zeros(shape[1:], np.float32)
  mask[: shape[1] // 2] = 1.                            # the top half known
  labels = jnp.arange(shape[0]) % config.classifier.num_classes
  common = dict(config=os.path.relpath(config_flags.get_config_filename(FLAGS['config'])),
                model=config.model.name, nf=config.model.nf, batch=FLAGS.batch, N=FLAGS.N,
                device=jax.devices()[0].device_kind)

  score_ms = loop_ms(lambda x, t: score_fn(variables, x, t), data, FLAGS.N, FLAGS.repeats)

  def class_grad(x, t):
    return jax.grad(lambda x: jnp.sum(jnp.take_along_axis(
        jax.nn.log_softmax(logit_fn(cvars, x, t)), labels[:, None], 1)))(x)
  grad_ms = loop_ms(class_grad, data, FLAGS.N, FLAGS.repeats)
  print(json.dumps(dict(kind='cost', **common, score_ms=score_ms, classifier_grad_ms=grad_ms,
                        grad_over_score=grad_ms / score_ms)), flush=True)

  for predictor, corrector in PAIRS:
    pair = dict(predictor=predictor, corrector=corrector)
    runs = {
        'pc': (samplers.get_pc_sampler(sde, score_fn, shape, predictor, corrector),
               (rng, variables)),
        'inpaint': (samplers.get_pc_inpainter(sde, score_fn, shape, predictor, corrector),
                    (rng, variables, data, mask)),
        'conditional': (samplers.get_pc_conditional_sampler(sde, score_fn, logit_fn, shape,
                                                            predictor, corrector),
                        (rng, variables, cvars, labels)),
    }
    step_ms = interleaved_ms(runs, FLAGS.repeats)
    step_ms = {k: np.asarray(v) / FLAGS.N for k, v in step_ms.items()}
    print(json.dumps(dict(kind='pc', **common, **pair, step_ms=float(np.median(step_ms['pc'])))),
          flush=True)
    for kind, goal in (('inpaint', 1.1), ('conditional', 1.6)):
      ratios = step_ms[kind] / step_ms['pc']
      print(json.dumps(dict(kind=kind, **common, **pair, step_ms=float(np.median(step_ms[kind])),
                            ratio=float(np.median(ratios)),
                            ratio_min=float(step_ms[kind].min() / step_ms['pc'].min()),
                            goal=goal)), flush=True)


if __name__ == '__main__':
  from utils import malloc_tunables
  malloc_tunables.reexec_with_tunables()  # what main.py runs with (utils/malloc_tunables.py)
  app.run(main)
