"""NCSN v1 on CelebA 64x64 with NCSNv2's technique 5 only (an EMA of the weights, rate 0.999).

Run: python main.py --config configs/ve/ncsn/celeba_5.py --workdir runs/ve_ncsn_celeba_5 --mode train
Target: the technique ablation of Song & Ermon 2020 (NCSNv2), not a row of arXiv 2011.13456.
"""
from configs.ve.ncsn import celeba


def get_config():
  config = celeba.get_config()
  config.model.ema_rate = 0.999            # technique 5
  return config
