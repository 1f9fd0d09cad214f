"""Defaults shared by the 256x256 experiments: LSUN, and CelebA-HQ / FFHQ at 256
(the original score_sde's values).

The CIFAR-10 defaults (`configs/default_cifar10_configs.py`) with these
differences: batch 64 for 2.4M steps, a preemption checkpoint every 5000
steps, SNR 0.075, sampling during evaluation on (checkpoints 50-96, batch
512), no dropout, and sigma_max 378 with 2000 noise scales (Technique 1 and
2 of Song & Ermon 2020 for 256x256 images). Experiment configs set
`data.category` (LSUN) or `data.dataset` and `data.tfrecords_path`
(CelebA-HQ, FFHQ).
"""
from configs import default_cifar10_configs


def get_default_configs():
  config = default_cifar10_configs.get_default_configs()
  training = config.training
  training.batch_size = 64
  training.n_iters = 2400001
  training.snapshot_freq_for_preemption = 5000
  config.sampling.snr = 0.075
  evaluate = config.eval
  evaluate.begin_ckpt = 50
  evaluate.end_ckpt = 96
  evaluate.batch_size = 512
  evaluate.enable_sampling = True
  config.data.dataset = 'LSUN'
  config.data.image_size = 256
  model = config.model
  model.sigma_max = 378.
  model.num_scales = 2000
  model.dropout = 0.
  return config
