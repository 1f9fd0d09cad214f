"""DDPM++ (small) with the VP SDE on the class-tinted digits: the colorization toy.

  python main.py --config configs/digits/ddpmpp_vp_rgb.py --workdir runs/digits_rgb --mode train
  python main.py --config configs/digits/ddpmpp_vp_rgb.py --workdir runs/digits_rgb --mode colorize

`data.dataset = 'DIGITS_RGB'` (`data.digits_rgb`): each digit times the tint
of its class, so the colour of a grey digit is known. The same network as
configs/digits/ddpmpp_vp.py with 3 channels, trained for TRAIN_STEPS steps
(no eval at the end; `--mode eval` gives loss and bits/dim only: the digits
Frechet distance is for 1-channel digits).
`--mode colorize` colours the channel means of the first 100 test digits and
writes runs/digits_rgb/controllable/colorize.{png,json,npz}: RMS error against
the true colour image and the fraction of recovered tints equal to the true
one, beside the grey image copied to 3 channels and a random tint.
Measured on 2 busy CPU cores: training 6.6 min, colorize 1.1 min; 33% of the
colorized digits get their true tint (42% with --config.sampling.corrector=langevin),
RMS error 0.198, against 18% and 0.218 for a random tint and 11% and 0.164 for
the grey image copied to 3 channels (README, "Controllable generation").
"""
from configs.digits.default_digits_configs import get_default_configs

TRAIN_STEPS = 1500


def get_config():
  config = get_default_configs()
  config.data.dataset = 'DIGITS_RGB'
  config.data.num_channels = 3
  training = config.training
  training.n_iters = TRAIN_STEPS
  training.snapshot_freq = TRAIN_STEPS
  training.snapshot_sampling = False
  training.eval_at_end = False
  config.eval.begin_ckpt = config.eval.end_ckpt = 1
  # --mode eval: loss and bits/dim (49 levels); the digits Frechet distance's classifier reads
  # 1-channel digits and FID is for natural images, so no sample metric.
  config.eval.enable_sampling = False
  config.optim.warmup = 100
  # The EMA keeps rate^steps of the initial weights: 0.999^1500 = 0.22 gave samples of pure
  # noise (the raw weights' were digits); 0.995^1500 = 5e-4.
  config.model.ema_rate = 0.995
  return config
