"""NCSN++ on CIFAR-10, SMLD (discrete VE, 1000 noise scales).

Run: python main.py --config configs/ve/cifar10_ncsnpp.py --workdir runs/cifar10_ncsnpp --mode train
Target: no row of arXiv 2011.13456 (its Table 1 SMLD models use the DDPM architecture:
configs/ve/cifar10_ddpm.py); the discrete-objective counterpart of ve/cifar10_ncsnpp_continuous.py.
"""
from configs.default_cifar10_configs import get_default_configs


def get_config():
  config = get_default_configs()
  training = config.training
  training.sde = 'vesde'
  training.continuous = False

  sampling = config.sampling
  sampling.method = 'pc'
  sampling.predictor = 'reverse_diffusion'
  sampling.corrector = 'langevin'

  model = config.model
  model.name = 'ncsnpp'
  model.scale_by_sigma = True
  model.ema_rate = 0.999
  model.nonlinearity = 'swish'
  model.nf = 128
  model.ch_mult = (1, 2, 2, 2)
  model.num_res_blocks = 4
  model.attn_resolutions = (16,)
  model.resamp_with_conv = True
  model.conditional = True
  model.fir = True
  model.fir_kernel = (1, 3, 3, 1)
  model.skip_rescale = True
  model.resblock_type = 'biggan'
  model.progressive = 'none'
  model.progressive_input = 'residual'
  model.progressive_combine = 'sum'
  model.init_scale = 0.0
  model.embedding_type = 'positional'
  return config
