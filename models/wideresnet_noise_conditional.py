"""The noise-conditional Wide-ResNet classifier of score_sde's class-conditional sampling.

A Wide-ResNet (Zagoruyko & Komodakis 2016) whose residual blocks receive an
embedding of the noise level, as in the original score_sde's
`models/wideresnet_noise_conditional.py`, written anew for current Flax. It
classifies noisy images x_t; the gradient of its log-softmax drives
`samplers.get_pc_conditional_sampler`.

Structure (identical to the original, so its parameter count is the same:
38,913,242 at CIFAR-10 size, blocks_per_group=4, channel_multiplier=10):
per-image standardisation of the input; a Gaussian Fourier embedding of
log(sigma) (`embedding_size` frequencies, scale 16), two Dense layers of
width 4 * embedding_size; a bias-free 3x3 stem conv to 16 channels; three
groups of `blocks_per_group` pre-activation blocks of widths 16k, 32k, 64k
(k = channel_multiplier; the 2nd and 3rd groups downsample by 2), each block
adding a Dense projection of swish(embedding) after its first conv; identity
skips, average-pooled and zero-padded where the width changes; GroupNorm
(min(C / 4, 32) groups) everywhere the original Wide-ResNet has batch norm;
global average pooling and a Dense layer to the logits.

The conditioning input is the marginal standard deviation of the SDE at t
(`models.scoring.classifier_noise_labels`), for every SDE: the original's
`ve_noise_scale`.
"""
from typing import Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

# He initialisation with fan-out for conv kernels, as the Wide-ResNet reference.
_conv_init = jax.nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')


def _logits_init(key, shape, dtype=jnp.float32):
  """U[-1/sqrt(classes), 1/sqrt(classes)] for the last layer (the autoaugment WRN's choice)."""
  bound = 1. / np.sqrt(shape[1])
  return jax.random.uniform(key, shape, dtype, -bound, bound)


def _norm_act(x, name, relu=True):
  x = nn.GroupNorm(num_groups=min(x.shape[-1] // 4, 32), epsilon=1e-5, name=name)(x)
  return jax.nn.relu(x) if relu else x


def _skip_add(out, skip):
  """out + skip, the skip average-pooled and zero-padded in channels where shapes differ."""
  if out.shape[-1] != skip.shape[-1]:
    stride = skip.shape[-2] // out.shape[-2]
    skip = nn.avg_pool(skip, (stride, stride), (stride, stride))
    skip = jnp.pad(skip, [(0, 0)] * 3 + [(0, out.shape[-1] - skip.shape[-1])])
  return out + skip


class FourierEmbedding(nn.Module):
  """[sin(2 pi w s), cos(2 pi w s)] with fixed random frequencies w ~ N(0, scale^2)."""
  size: int
  scale: float = 16.

  @nn.compact
  def __call__(self, s):
    # A parameter (the original's layout) that training never moves; float32 like every
    # parameter, also when float64 is enabled (the initialiser alone would follow jax's default).
    w = jax.lax.stop_gradient(
        self.param('W', jax.nn.initializers.normal(stddev=self.scale), (self.size,),
                   jnp.float32))
    proj = 2 * jnp.pi * s[:, None] * w[None, :].astype(s.dtype)
    return jnp.concatenate([jnp.sin(proj), jnp.cos(proj)], axis=-1)


class WideResnetBlock(nn.Module):
  """Pre-activation residual block with an additive noise-level embedding."""
  channels: int
  stride: int = 1
  activate_before_residual: bool = False

  @nn.compact
  def __call__(self, x, emb):
    if self.activate_before_residual:
      # The first block of the network normalises before the skip branch too.
      x = _norm_act(x, 'init_bn')
      h = x
    else:
      h = _norm_act(x, 'init_bn')
    h = nn.Conv(self.channels, (3, 3), (self.stride, self.stride), padding='SAME',
                use_bias=False, kernel_init=_conv_init, name='conv1')(h)
    h = h + nn.Dense(self.channels, name='temb')(nn.swish(emb))[:, None, None, :]
    h = _norm_act(h, 'bn_2')
    h = nn.Conv(self.channels, (3, 3), padding='SAME', use_bias=False,
                kernel_init=_conv_init, name='conv2')(h)
    return _skip_add(h, x)


class WideResnet(nn.Module):
  """`apply(variables, x, sigmas, train=False) -> logits (batch, num_classes)`.

  x: (batch, H, W, C) images in model space; sigmas: (batch,) marginal stds.
  `train` is accepted for the score networks' calling convention; the network
  has neither dropout nor batch statistics, so it changes nothing.
  """
  blocks_per_group: int = 4
  channel_multiplier: int = 10
  num_classes: int = 10
  embedding_size: int = 128
  widths: Tuple[int, ...] = (16, 32, 64)

  @nn.compact
  def __call__(self, x, sigmas, train=False):
    del train
    d = np.prod(x.shape[1:])
    mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
    std = jnp.std(x, axis=(1, 2, 3), keepdims=True)
    x = (x - mean) / jnp.maximum(std, 1. / np.sqrt(d))
    sigmas = jnp.broadcast_to(jnp.asarray(sigmas, x.dtype), x.shape[:1])
    emb = FourierEmbedding(self.embedding_size, name='fourier')(jnp.log(sigmas))
    emb = nn.Dense(4 * self.embedding_size, name='temb_0')(emb)
    emb = nn.Dense(4 * self.embedding_size, name='temb_1')(nn.swish(emb))
    h = nn.Conv(self.widths[0], (3, 3), padding='SAME', use_bias=False,
                kernel_init=_conv_init, name='init_conv')(x)
    for g, width in enumerate(self.widths):
      for b in range(self.blocks_per_group):
        h = WideResnetBlock(width * self.channel_multiplier,
                            stride=2 if (g > 0 and b == 0) else 1,
                            activate_before_residual=(g == 0 and b == 0),
                            name=f'group{g}_block{b}')(h, emb)
    h = _norm_act(h, 'pre_pool_bn')
    h = jnp.mean(h, axis=(1, 2))
    return nn.Dense(self.num_classes, kernel_init=_logits_init, name='logits')(h)
