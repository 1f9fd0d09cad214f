"""DDPM architecture on CIFAR-10 trained with the continuous VP SDE objective.

Run: python main.py --config configs/vp/ddpm/cifar10_continuous.py --workdir runs/vp_ddpm_cifar10_continuous --mode train
Target: arXiv 2011.13456 Table 2, row "DDPM cont. (VP)": 3.21 bits/dim, FID 3.69 (both with the
probability-flow ODE: --config.sampling.method=ode; bits/dim with --mode likelihood).
"""
from configs.default_cifar10_configs import get_default_configs


def get_config():
  config = get_default_configs()
  training = config.training
  training.sde = 'vpsde'
  training.continuous = True
  training.reduce_mean = True

  sampling = config.sampling
  sampling.method = 'pc'
  sampling.predictor = 'euler_maruyama'
  sampling.corrector = 'none'

  data = config.data
  data.centered = True

  model = config.model
  del model.embedding_type          # DDPM always embeds labels sinusoidally
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
  model.conditional = True
  return config
