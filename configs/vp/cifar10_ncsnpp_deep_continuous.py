"""NCSN++ cont. (deep) on CIFAR-10 with the VP SDE.

Run: python main.py --config configs/vp/cifar10_ncsnpp_deep_continuous.py --workdir runs/vp_cifar10_ncsnpp_deep_continuous --mode train
Target: Architecture ablation of arXiv 2011.13456 (Appendix H): deep NCSN++ with the VP SDE
(the original's config of this name; its checkpoint was not among the released ones).
"""
from configs.default_cifar10_configs import get_default_configs


def get_config():
  config = get_default_configs()
  training = config.training
  training.sde = 'vpsde'
  training.continuous = True
  training.n_iters = 950001
  training.reduce_mean = True

  sampling = config.sampling
  sampling.method = 'pc'
  sampling.predictor = 'euler_maruyama'
  sampling.corrector = 'none'

  data = config.data
  data.centered = True

  model = config.model
  model.name = 'ncsnpp'
  model.scale_by_sigma = False
  model.ema_rate = 0.9999
  model.nonlinearity = 'swish'
  model.nf = 128
  model.ch_mult = (1, 2, 2, 2)
  model.num_res_blocks = 8
  model.attn_resolutions = (16,)
  model.resamp_with_conv = True
  model.conditional = True
  model.fir = True
  model.fir_kernel = (1, 3, 3, 1)
  model.skip_rescale = True
  model.resblock_type = 'biggan'
  model.progressive = 'none'
  model.progressive_input = 'residual'
  model.progressive_combine = 'sum'
  model.init_scale = 0.0
  model.embedding_type = 'positional'
  return config
