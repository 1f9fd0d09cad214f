"""DDPM++ on CIFAR-10, DDPM (discrete VP, 1000 steps).

Run: python main.py --config configs/vp/cifar10_ddpmpp.py --workdir runs/cifar10_ddpmpp --mode train
Target: no row of arXiv 2011.13456 (its Table 1 DDPM models use the DDPM architecture:
configs/vp/ddpm/cifar10.py); the discrete-objective counterpart of vp/cifar10_ddpmpp_continuous.py.
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
  model.name = 'ncsnpp'
  model.scale_by_sigma = False
  model.ema_rate = 0.9999
  model.nonlinearity = 'swish'
  model.nf = 128
  model.ch_mult = (1, 2, 2, 2)
  model.num_res_blocks = 4
  model.attn_resolutions = (16,)
  model.resamp_with_conv = True
  model.conditional = True
  model.fir = False
  model.fir_kernel = (1, 3, 3, 1)
  model.skip_rescale = True
  model.resblock_type = 'biggan'
  model.progressive = 'none'
  model.progressive_input = 'none'
  model.progressive_combine = 'sum'
  model.init_scale = 0.0
  model.embedding_type = 'positional'
  return config
