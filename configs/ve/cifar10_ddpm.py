"""The DDPM U-Net on CIFAR-10 trained with SMLD (discrete VE, NCSN objective, 1000 noise scales).

The network's output is divided by sigma (`scale_by_sigma`), as NCSNv2 does,
so it estimates the score directly; sampled with reverse diffusion + Langevin.

Run: python main.py --config configs/ve/cifar10_ddpm.py --workdir runs/ve_cifar10_ddpm --mode train
Target: arXiv 2011.13456 Table 1, SMLD columns (Appendix G: the DDPM architecture trained
with the discrete SMLD objective): FID of the P1000 / PC1000 / C2000 samplers
(`python -m evaluation.reproduce --table 1` lists each row's sampler overrides).
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
  del model.embedding_type          # DDPM always embeds labels sinusoidally
  model.name = 'ddpm'
  model.scale_by_sigma = True
  model.ema_rate = 0.999
  model.normalization = 'GroupNorm'
  model.nonlinearity = 'swish'
  model.nf = 128
  model.ch_mult = (1, 2, 2, 2)
  model.num_res_blocks = 2
  model.attn_resolutions = (16,)
  model.resamp_with_conv = True
  model.conditional = True
  return config
