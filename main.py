"""Command line: train, evaluate, sample from, or compute likelihoods of a score-based model.

  python main.py --config configs/toy/gmm_vp.py --workdir runs/gmm_vp --mode train
  python main.py --config configs/toy/gmm_vp.py --workdir runs/gmm_vp --mode likelihood

Any config field can be overridden: --config.training.n_iters=2000.
On several hosts, pass --multihost on every host (jax.distributed.initialize).

Exit status: 0 done; 1 an error (bad config value, a workdir trained with another
config, unwritable output, unreadable or unwritable checkpoint, NaN: one line
naming the cause, printed last); 75
(EX_TEMPFAIL) stopped by SIGTERM / SIGINT after writing a checkpoint of the
step in flight (`--mode train`) or keeping the finished work (`--mode eval`):
run the same command again to resume.
"""
import sys

if __name__ == '__main__':
  # First thing: glibc's malloc on huge pages, which glibc reads at process start (~20% of a
  # CPU training step; utils/malloc_tunables.py). Re-executes this command once.
  from utils import malloc_tunables
  malloc_tunables.reexec_with_tunables()

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Experiment config file.', lock_config=True)
flags.DEFINE_string('workdir', None, 'Directory for checkpoints, logs and samples.')
flags.DEFINE_enum('mode', 'train', ['train', 'eval', 'sample', 'likelihood', 'fid_stats',
                                    'train_classifier', 'inpaint', 'colorize', 'conditional',
                                    'controllable'],
                  'What to run.')
flags.DEFINE_bool('multihost', False, 'Call jax.distributed.initialize() (multi-host runs).')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  del argv
  from utils import xla_flags
  xla_flags.configure()
  import jax
  if FLAGS.multihost:
    jax.distributed.initialize()
  from utils import config_checks
  config_checks.validate(FLAGS.config)
  logging.set_verbosity(logging.WARNING)   # orbax is chatty at INFO
  if FLAGS.mode == 'train':
    from training import loop
    loop.run(FLAGS.config, FLAGS.workdir)
    if FLAGS.config.training.get('eval_at_end', False):
      # One command leaves a checkpoint, samples and test-set metrics (the digits configs).
      from evaluation import runs
      runs.evaluate(FLAGS.config, FLAGS.workdir)
  elif FLAGS.mode == 'train_classifier':
    from training import classifier
    classifier.run(FLAGS.config, FLAGS.workdir)
  elif FLAGS.mode in ('inpaint', 'colorize', 'conditional'):
    from evaluation import controllable
    controllable.run(FLAGS.mode, FLAGS.config, FLAGS.workdir)
  elif FLAGS.mode == 'controllable':
    # One command: train (or resume, or find finished) the classifier, then every mode
    # the model allows (colorize needs RGB).
    from training import classifier
    from evaluation import controllable
    classifier.run(FLAGS.config, FLAGS.workdir)
    for mode in controllable.modes_for(FLAGS.config):
      controllable.run(mode, FLAGS.config, FLAGS.workdir)
  elif FLAGS.mode == 'fid_stats':
    from evaluation import fid_stats
    fid_stats.run(FLAGS.config, FLAGS.workdir)
  else:
    from evaluation import runs
    {'eval': runs.evaluate, 'sample': runs.sample,
     'likelihood': runs.likelihood}[FLAGS.mode](FLAGS.config, FLAGS.workdir)


def _expected_failure(e):
  """(exit status, line) for the project's own failures, whose messages say everything;
  None for anything else (a bug: the full traceback is printed)."""
  preemption = sys.modules.get('utils.preemption')
  if preemption is not None and isinstance(e, preemption.Preempted):
    return preemption.EXIT_CODE, str(e)
  for module, name in (('experiment.checkpoints', 'CheckpointError'),
                       ('experiment.run_config', 'ConfigMismatchError'),
                       ('utils.config_checks', 'ConfigError'), ('builtins', 'FloatingPointError'),
                       ('evaluation.runs', 'OutputError')):
    cls = getattr(sys.modules.get(module), name, None)
    if cls is not None and isinstance(e, cls):
      return 1, f'{name}: {e}'
  return None


def _main_reporting_failures(argv):
  try:
    main(argv)
  except Exception as e:  # pylint: disable=broad-except
    known = _expected_failure(e)
    if known is None:
      raise
    sys.stderr.flush()
    print(known[1], file=sys.stderr, flush=True)
    sys.exit(known[0])


if __name__ == '__main__':
  app.run(_main_reporting_failures)
