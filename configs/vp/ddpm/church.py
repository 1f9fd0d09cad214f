"""DDPM on LSUN church_outdoor 256x256: the 256-px DDPM U-Net (ch_mult 1,1,2,2,4,4) with the discrete DDPM objective.

Run: python main.py --config configs/vp/ddpm/church.py --workdir runs/vp_ddpm_church --mode train
Target: the LSUN church_outdoor 256x256 model of Ho et al. 2020 (DDPM), sampled with ancestral sampling; no table
of arXiv 2011.13456 reports it.
"""
from configs.default_lsun_configs import get_default_configs


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
  data.category = 'church_outdoor'
  data.centered = True

  model = config.model
  del model.embedding_type          # DDPM always embeds labels sinusoidally
  model.name = 'ddpm'
  model.scale_by_sigma = False
  model.num_scales = 1000
  model.ema_rate = 0.9999
  model.normalization = 'GroupNorm'
  model.nonlinearity = 'swish'
  model.nf = 128
  model.ch_mult = (1, 1, 2, 2, 4, 4)
  model.num_res_blocks = 2
  model.attn_resolutions = (16,)
  model.resamp_with_conv = True
  model.conditional = True

  optim = config.optim
  optim.lr = 2e-5
  return config
