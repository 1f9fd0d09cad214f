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
from configs import blocks
from configs.ve import cifar10_ncsnpp_continuous


def get_config():
  config = cifar10_ncsnpp_continuous.get_config()
  # WRN-28-10, as the original's create_classifier.
  blocks.classifier(config, blocks_per_group=4, channel_multiplier=10, embedding_size=128,
                    n_iters=200000, batch_size=128, snapshot_freq=10000, lr=2e-4, ema_rate=0.9999)
  # Unconditional CIFAR-10 samples: no useful baseline.
  blocks.controllable(config, baseline=False)
  return config
