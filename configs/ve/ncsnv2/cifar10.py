"""NCSNv2 (Song & Ermon 2020) on CIFAR-10: sigma 50 -> 0.01 over 232 levels, output scaled by 1/sigma.

Run: python main.py --config configs/ve/ncsnv2/cifar10.py --workdir runs/ve_ncsnv2_cifar10 --mode train
Target: arXiv 2011.13456 Table 3, row "NCSNv2" (FID 10.87, IS 8.40, as reported by Song & Ermon 2020).
"""
from configs.default_cifar10_configs import get_default_configs


def get_config():
  config = get_default_configs()
  training = config.training
  training.sde = 'vesde'
  training.continuous = False

  sampling = config.sampling
  sampling.method = 'pc'
  sampling.predictor = 'none'
  sampling.corrector = 'ald'
  sampling.n_steps_each = 5
  sampling.snr = 0.176

  model = config.model
  del model.embedding_type          # NCSNv2 takes the noise level only through 1/sigma
  del model.dropout                 # NCSNv2 has no dropout
  model.name = 'ncsnv2_64'
  model.scale_by_sigma = True
  model.num_scales = 232
  model.ema_rate = 0.999
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
