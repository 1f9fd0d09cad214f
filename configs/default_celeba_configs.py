"""Defaults shared by the CelebA 64x64 experiments (the original score_sde's values).

The CIFAR-10 defaults (`configs/default_cifar10_configs.py`) with these
differences: sigma_max 90 (the largest pairwise distance of CelebA 64x64
images, Technique 1 of Song & Ermon 2020), SNR 0.17, sampling during
evaluation on, checkpoints 1-26 evaluated.
"""
from configs import default_cifar10_configs


def get_default_configs():
  config = default_cifar10_configs.get_default_configs()
  config.sampling.snr = 0.17
  config.eval.begin_ckpt = 1
  config.eval.enable_sampling = True
  config.data.dataset = 'CELEBA'
  config.data.image_size = 64
  config.model.sigma_max = 90.
  return config
