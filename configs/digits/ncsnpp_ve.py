"""NCSN++ (small) with the VE SDE on the built-in digits.

  python main.py --config configs/digits/ncsnpp_ve.py --workdir runs/digits_ve

Trains, then evaluates the final snapshot (training.eval_at_end); `--mode eval`
alone re-evaluates.

sigma_max = 12 exceeds the largest distance between two centred training digits
(about 10), Song & Ermon's rule; PC sampling with a Langevin corrector.
"""
from configs.digits.default_digits_configs import get_default_configs


def get_config():
  config = get_default_configs()
  config.training.sde = 'vesde'
  config.sampling.corrector = 'langevin'
  model = config.model
  model.fir = True
  model.progressive_input = 'residual'
  model.embedding_type = 'fourier'
  model.fourier_scale = 16.
  model.scale_by_sigma = True
  return config
