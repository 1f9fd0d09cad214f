"""NCSNv2 (Song & Ermon 2020) on LSUN bedroom 128x128: sigma 190 -> 0.01 over 1086 levels.

Run: python main.py --config configs/ve/ncsnv2/bedroom.py --workdir runs/ve_ncsnv2_bedroom --mode train
Target: the LSUN bedroom 128x128 model of Song & Ermon 2020 (NCSNv2); not a row of arXiv 2011.13456.
"""
from configs.default_lsun_configs import get_default_configs


def get_config():
  config = get_default_configs()
  training = config.training
  training.batch_size = 128
  training.sde = 'vesde'
  training.continuous = False

  sampling = config.sampling
  sampling.method = 'pc'
  sampling.predictor = 'none'
  sampling.corrector = 'ald'
  sampling.n_steps_each = 3
  sampling.snr = 0.095

  data = config.data
  data.category = 'bedroom'
  data.image_size = 128

  model = config.model
  del model.embedding_type          # NCSNv2 takes the noise level only through 1/sigma
  del model.dropout                 # NCSNv2 has no dropout
  model.name = 'ncsnv2_128'
  model.scale_by_sigma = True
  model.sigma_min = 0.01
  model.sigma_max = 190.
  model.num_scales = 1086
  model.ema_rate = 0.9999
  model.normalization = 'InstanceNorm++'
  model.nonlinearity = 'elu'
  model.nf = 128
  model.interpolation = 'bilinear'

  optim = config.optim
  optim.weight_decay = 0.
  optim.optimizer = 'Adam'
  optim.lr = 1e-4
  optim.beta1 = 0.9
  optim.eps = 1e-8
  optim.warmup = 0
  optim.grad_clip = -1.
  return config
