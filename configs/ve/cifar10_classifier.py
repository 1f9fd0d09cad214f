"""Controllable generation on CIFAR-10 (paper Section 5): NCSN++ cont. (VE) with the
original's full-size noise-conditional Wide-ResNet classifier (WRN-28-10, 38,913,242 parameters).

The score model is the one `configs/ve/cifar10_ncsnpp_continuous.py` trains (same fields);
this config adds the classifier and the controllable-generation fields:

  python main.py --config configs/ve/cifar10_classifier.py --workdir runs/ve_cifar10_ncsnpp_continuous --mode train_classifier
  python main.py --config configs/ve/cifar10_classifier.py --workdir runs/ve_cifar10_ncsnpp_continuous --mode conditional
  python main.py --config configs/ve/cifar10_classifier.py --workdir runs/ve_cifar10_ncsnpp_continuous --mode inpaint
  python main.py --config configs/ve/cifar10_classifier.py --workdir runs/ve_cifar10_ncsnpp_continuous --mode colorize

Target: Figure 4 (class-conditional CIFAR-10 samples) of arXiv 2011.13456. The
classifier's training recipe (iterations, batch, rate) is ours: the original
ships its classifier's weights, not how it was trained. Unmeasured here.
"""
import ml_collections

from configs.ve import cifar10_ncsnpp_continuous


def get_config():
  config = cifar10_ncsnpp_continuous.get_config()
  config.classifier = classifier = ml_collections.ConfigDict()
  classifier.name = 'wideresnet'
  classifier.blocks_per_group = 4     # WRN-28-10, as the original's create_classifier
  classifier.channel_multiplier = 10
  classifier.embedding_size = 128
  classifier.num_classes = 10
  classifier.n_iters = 200000
  classifier.batch_size = 128
  classifier.snapshot_freq = 10000
  classifier.lr = 2e-4
  classifier.ema_rate = 0.9999
  classifier.workdir = ''             # '' = WORKDIR/classifier

  config.controllable = controllable = ml_collections.ConfigDict()
  controllable.mask = 'left_half'
  controllable.labels = 'all'
  controllable.scale = 1.
  controllable.num_samples = 100
  controllable.images = ''
  controllable.baseline = False       # unconditional CIFAR-10 samples: no useful baseline
  return config
