"""DDPM on CIFAR-10 without the time-step input (the network never sees the noise level).

An ablation the original ships (NCSNv2's technique 3 asks whether the noise
conditioning can be dropped): same U-Net as configs/vp/ddpm/cifar10.py with
`model.conditional = False`, discrete DDPM objective.

Run: python main.py --config configs/vp/ddpm/cifar10_unconditional.py --workdir runs/vp_ddpm_cifar10_unconditional --mode train
Target: no row of arXiv 2011.13456; compare its FID with Table 3, row "DDPM" (FID 3.17).
"""
from configs.default_cifar10_configs import get_default_configs


def get_config():
  config = get_default_configs()
  training = config.training
  training.sde = 'vpsde'
  training.continuous = False
  training.reduce_mean = True

  sampling = config.sampling
  sampling.method = 'pc'
  sampling.predictor = 'ancestral_sampling'
  sampling.corrector = 'none'

  data = config.data
  data.centered = True

  model = config.model
  del model.embedding_type          # no label embedding at all
  model.name = 'ddpm'
  model.scale_by_sigma = False
  model.ema_rate = 0.9999
  model.normalization = 'GroupNorm'
  model.nonlinearity = 'swish'
  model.nf = 128
  model.ch_mult = (1, 2, 2, 2)
  model.num_res_blocks = 2
  model.attn_resolutions = (16,)
  model.resamp_with_conv = True
  model.conditional = False
  return config
