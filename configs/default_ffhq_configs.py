"""Defaults shared by the 1024x1024 experiments, FFHQ and CelebA-HQ
(the values of the original score_sde's `ffhq_ncsnpp_continuous.py` and
`celebahq_ncsnpp_continuous.py`, which spell them out in full).

The CIFAR-10 defaults (`configs/default_cifar10_configs.py`) with these
differences: batch 8 and one step per jitted call (a 1024x1024 NCSN++ step
does not fit more on one accelerator) for 2.4M steps, a preemption
checkpoint every 5000 steps, SNR 0.15, sampling during evaluation on
(checkpoints 1-96), no dropout, and sigma_max 1348 (the largest pairwise
distance of the 1024x1024 images, Technique 1 of Song & Ermon 2020) with
2000 noise scales.
"""
from configs import default_cifar10_configs


def get_default_configs():
  config = default_cifar10_configs.get_default_configs()
  training = config.training
  training.batch_size = 8
  training.n_iters = 2400001
  training.snapshot_freq_for_preemption = 5000
  training.n_jitted_steps = 1
  config.sampling.snr = 0.15
  evaluate = config.eval
  evaluate.begin_ckpt = 1
  evaluate.end_ckpt = 96
  evaluate.enable_sampling = True
  config.data.dataset = 'FFHQ'
  config.data.image_size = 1024
  model = config.model
  model.sigma_max = 1348.
  model.num_scales = 2000
  model.dropout = 0.
  return config
