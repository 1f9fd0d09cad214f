"""Defaults shared by the 1024x1024 experiments, FFHQ and CelebA-HQ
(the values of the original score_sde's `ffhq_ncsnpp_continuous.py` and
`celebahq_ncsnpp_continuous.py`, which spell them out in full).

The 256x256 defaults (`configs/default_lsun_configs.py`: 2.4M steps, a
preemption checkpoint every 5000 steps, sampling during evaluation, no
dropout, 2000 noise scales) with these differences: batch 8 and one step per
jitted call (a 1024x1024 NCSN++ step does not fit more on one accelerator),
SNR 0.15, checkpoints 1-96 evaluated in batches of 1024, and sigma_max 1348
(the largest pairwise distance of the 1024x1024 images, Technique 1 of Song &
Ermon 2020).
"""
from configs import default_lsun_configs


def get_default_configs():
  config = default_lsun_configs.get_default_configs()
  config.training.batch_size = 8
  config.training.n_jitted_steps = 1
  config.sampling.snr = 0.15
  config.eval.begin_ckpt = 1
  config.eval.batch_size = 1024
  config.data.dataset = 'FFHQ'
  config.data.image_size = 1024
  config.model.sigma_max = 1348.
  return config
