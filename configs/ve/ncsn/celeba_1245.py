"""NCSN v1 on CelebA 64x64 with NCSNv2's techniques 1, 2, 4, 5.

Run: python main.py --config configs/ve/ncsn/celeba_1245.py --workdir runs/ve_ncsn_celeba_1245 --mode train
Target: the technique ablation of Song & Ermon 2020 (NCSNv2), not a row of arXiv 2011.13456.
"""
from configs.ve.ncsn import celeba_124


def get_config():
  config = celeba_124.get_config()
  config.model.ema_rate = 0.999            # technique 5
  return config
