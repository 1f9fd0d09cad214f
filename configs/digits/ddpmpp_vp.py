"""DDPM++ (small) with the VP SDE on the built-in digits: the README's main job.

  python main.py --config configs/digits/ddpmpp_vp.py --workdir runs/digits

Trains 3000 steps (checkpoints, the sample grid of step 1500
runs/digits/samples/step_1500.png), then evaluates the final snapshot in the
same process (training.eval_at_end), whose samples stand for step 3000's grid:
runs/digits/eval/metrics.json with the test bits/dim (17 levels) beside the
exact baselines, the digits Frechet distance, and
runs/digits/eval/ckpt_2/samples.png. About 8 minutes on 2 quiet CPU cores
(measured: 406 s, 2.188 bits/dim; categorical 2.424, Gaussian 2.949; digits
Frechet distance 2.97). `--mode eval` alone re-evaluates.
"""
from configs.digits.default_digits_configs import get_default_configs


def get_config():
  return get_default_configs()
