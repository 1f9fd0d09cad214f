"""NCSN v1 on CIFAR-10 with NCSNv2's technique 5 only (an EMA of the weights, rate 0.999).

Run: python main.py --config configs/ve/ncsn/cifar10_5.py --workdir runs/ve_ncsn_cifar10_5 --mode train
Target: the technique ablation of Song & Ermon 2020 (NCSNv2), not a row of arXiv 2011.13456.
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
  sampling.n_steps_each = 100
  sampling.snr = 0.316

  model = config.model
  del model.embedding_type          # NCSN conditions its normalisation on the noise index instead
  del model.dropout                 # NCSN has no dropout
  model.name = 'ncsn'
  model.scale_by_sigma = False
  model.sigma_max = 1.
  model.num_scales = 10
  model.ema_rate = 0.999
  model.normalization = 'InstanceNorm++'
  model.nonlinearity = 'elu'
  model.nf = 128
  model.interpolation = 'bilinear'

  optim = config.optim
  optim.weight_decay = 0.
  optim.optimizer = 'Adam'
  optim.lr = 1e-3
  optim.beta1 = 0.9
  optim.eps = 1e-8
  optim.warmup = 0
  optim.grad_clip = -1.
  return config
