"""Command line: train, evaluate, sample from, or compute likelihoods of a score-based model.

  python main.py --config configs/toy/gmm_vp.py --workdir runs/gmm_vp --mode train
  python main.py --config configs/toy/gmm_vp.py --workdir runs/gmm_vp --mode likelihood

Any config field can be overridden: --config.training.n_iters=2000.
On several hosts, pass --multihost on every host (jax.distributed.initialize).
"""
from absl import app, flags, logging
from ml_collections import config_flags

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Experiment config file.', lock_config=True)
flags.DEFINE_string('workdir', None, 'Directory for checkpoints, logs and samples.')
flags.DEFINE_enum('mode', 'train', ['train', 'eval', 'sample', 'likelihood', 'fid_stats'],
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
  elif FLAGS.mode == 'fid_stats':
    from evaluation import fid_stats
    fid_stats.run(FLAGS.config, FLAGS.workdir)
  else:
    from evaluation import runs
    {'eval': runs.evaluate, 'sample': runs.sample,
     'likelihood': runs.likelihood}[FLAGS.mode](FLAGS.config, FLAGS.workdir)


if __name__ == '__main__':
  app.run(main)
