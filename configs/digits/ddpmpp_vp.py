"""DDPM++ (small) with the VP SDE on the built-in digits: the README's main job.

  python main.py --config configs/digits/ddpmpp_vp.py --workdir runs/digits
  python main.py --config configs/digits/ddpmpp_vp.py --workdir runs/digits --mode eval

Train writes checkpoints and a sample grid (runs/digits/samples/step_*.png);
eval writes runs/digits/eval/metrics.json with the test bits/dim (17 levels)
and the digits Frechet distance, and runs/digits/eval/ckpt_2/samples.png.
"""
from configs.digits.default_digits_configs import get_default_configs


def get_config():
  return get_default_configs()
