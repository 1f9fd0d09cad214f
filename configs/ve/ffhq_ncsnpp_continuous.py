"""NCSN++ cont. on FFHQ 1024x1024 with the VE SDE.

Run: python main.py --config configs/ve/ffhq_ncsnpp_continuous.py --workdir runs/ffhq_ncsnpp_continuous --mode train
Target: Figure 1 / FFHQ 1024x1024 samples of arXiv 2011.13456.
"""
from configs.default_ffhq_configs import get_default_configs


def get_config():
  config = get_default_configs()
  training = config.training
  training.sde = 'vesde'
  training.continuous = True
  training.reduce_mean = True

  sampling = config.sampling
  sampling.method = 'pc'
  sampling.predictor = 'reverse_diffusion'
  sampling.corrector = 'langevin'

  data = config.data
  data.dataset = 'FFHQ'
  data.tfrecords_path = 'data/ffhq/ffhq-r10.tfrecords'

  model = config.model
  model.name = 'ncsnpp'
  model.scale_by_sigma = True
  model.ema_rate = 0.9999
  model.nonlinearity = 'swish'
  model.nf = 16
  model.ch_mult = (1, 2, 4, 8, 16, 32, 32, 32)
  model.num_res_blocks = 1
  model.attn_resolutions = (16,)
  model.resamp_with_conv = True
  model.conditional = True
  model.fir = True
  model.fir_kernel = (1, 3, 3, 1)
  model.skip_rescale = True
  model.resblock_type = 'biggan'
  model.progressive = 'output_skip'
  model.progressive_input = 'input_skip'
  model.progressive_combine = 'sum'
  model.init_scale = 0.0
  model.embedding_type = 'fourier'
  model.fourier_scale = 16.0
  return config
