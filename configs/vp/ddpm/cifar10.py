"""DDPM on CIFAR-10: the DDPM U-Net with the discrete DDPM objective (VP, 1000 steps).

Run: python main.py --config configs/vp/ddpm/cifar10.py --workdir runs/vp_ddpm_cifar10 --mode train
Target: arXiv 2011.13456 Table 3, row "DDPM" (FID 3.17, IS 9.46, Ho et al.'s numbers, ancestral
sampling as here), and Table 2, row "DDPM" (3.28 bits/dim, FID 3.37 with the probability-flow ODE:
--config.sampling.method=ode); and Table 1, DDPM columns (Appendix G: this architecture with the
discrete DDPM objective), FID of the P1000 / PC1000 / C2000 samplers.
"""
from configs import blocks
from configs.default_cifar10_configs import get_default_configs


def get_config():
  config = get_default_configs()
  blocks.vp_objective(config, continuous=False, predictor='ancestral_sampling')
  blocks.ddpm(config)
  return config
