"""The DDPM U-Net on CIFAR-10 trained with SMLD (discrete VE, NCSN objective, 1000 noise scales).

The network's output is divided by sigma (`scale_by_sigma`), as NCSNv2 does,
so it estimates the score directly; sampled with reverse diffusion + Langevin.

Run: python main.py --config configs/ve/cifar10_ddpm.py --workdir runs/ve_cifar10_ddpm --mode train
Target: arXiv 2011.13456 Table 1, SMLD columns (Appendix G: the DDPM architecture trained
with the discrete SMLD objective): FID of the P1000 / PC1000 / C2000 samplers
(`python -m evaluation.tables.reproduce --table 1` lists each row's sampler overrides).
"""
from configs import blocks
from configs.default_cifar10_configs import get_default_configs


def get_config():
  config = get_default_configs()
  blocks.ve_objective(config, continuous=False)
  blocks.ddpm(config, scale_by_sigma=True, ema_rate=0.999)
  return config
