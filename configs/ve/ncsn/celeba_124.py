"""NCSN v1 on CelebA 64x64 with NCSNv2's techniques 1, 2, 4 (sigma_max 90, 500 levels, 5 Langevin steps at SNR 0.128).

Run: python main.py --config configs/ve/ncsn/celeba_124.py --workdir runs/ve_ncsn_celeba_124 --mode train
Target: the technique ablation of Song & Ermon 2020 (NCSNv2), not a row of arXiv 2011.13456.
"""
from configs import blocks
from configs.ve.ncsn import celeba


def get_config():
  config = celeba.get_config()
  blocks.ncsnv2_techniques(config, sigma_max=90., num_scales=500, snr=0.128)
  return config
