"""DDPM on CIFAR-10: the DDPM U-Net with the discrete DDPM objective (VP, 1000 steps).

Run: python main.py --config configs/vp/ddpm/cifar10.py --workdir runs/vp_ddpm_cifar10 --mode train
Target: arXiv 2011.13456 Table 3, row "DDPM" (FID 3.17, IS 9.46, Ho et al.'s numbers, ancestral
sampling as here), and Table 2, row "DDPM" (3.28 bits/dim, FID 3.37 with the probability-flow ODE:
--config.sampling.method=ode); and Table 1, DDPM columns (Appendix G: this architecture with the
discrete DDPM objective), FID of the P1000 / PC1000 / C2000 samplers.
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
