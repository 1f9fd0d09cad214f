"""RefineNet blocks of NCSN (v1) and NCSNv2: dilated residual backbone and refine path.

Each block serves both networks. Without `cond_norm` it is NCSNv2's
unconditional block; with `cond_norm` (a factory of a class-conditional
normalisation, applied as `norm(x, y)`) it is NCSN v1's noise-conditional
block, which also normalises inside the RCU/CRP/MSF paths. The two originals
differ in one more place, kept here: the v1 chained residual pooling averages,
v2's takes the maximum.

Convolutions use PyTorch's default initialisation, as NCSN/NCSNv2 were
trained with it: kernel U(+-sqrt(1/fan_in)) (variance scaling 1/3, fan_in,
uniform) and bias U(+-1/sqrt(fan_in)). Parameters are float32; `dtype` is
the compute dtype.
"""
import functools
import math
from typing import Any, Callable, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from utils import config_checks

Dtype = Any
# config name -> jax.image.resize method.
INTERPOLATIONS = {'bilinear': 'bilinear', 'nearest_neighbor': 'nearest'}
config_checks.check_registered('interpolations', INTERPOLATIONS, config_checks.INTERPOLATIONS)


def _uniform(bound: float):
  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)
  return init


def ncsn_conv(features: int, in_features: int, kernel_size: int = 3, dilation: int = 1,
              use_bias: bool = True, dtype: Optional[Dtype] = None) -> nn.Conv:
  """'SAME' convolution (optionally dilated) with PyTorch's default initialisation."""
  fan_in = kernel_size * kernel_size * in_features
  return nn.Conv(features, (kernel_size, kernel_size), padding='SAME',
                 kernel_dilation=(dilation, dilation), use_bias=use_bias,
                 kernel_init=nn.initializers.variance_scaling(1. / 3, 'fan_in', 'uniform'),
                 bias_init=_uniform(1. / math.sqrt(fan_in)), dtype=dtype,
                 param_dtype=jnp.float32)


def mean_pool2(x):
  """2x2 average pooling with stride 2 of NHWC maps with even height and width."""
  b, h, w, c = x.shape
  if h % 2 or w % 2:
    raise ValueError(f"2x2 mean pooling needs even height and width, got {h}x{w}")
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def _normed(norm, conditional, x, y):
  return norm()(x, y) if conditional else norm()(x)


class ConvMeanPool(nn.Module):
  """Convolution, then 2x2 mean pooling: the downsampling path of a residual block."""
  features: int
  kernel_size: int = 3
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x):
    h = ncsn_conv(self.features, x.shape[-1], self.kernel_size, dtype=self.dtype)(x)
    return mean_pool2(h)


class ResidualBlock(nn.Module):
  """Pre-activation residual block of the NCSN/NCSNv2 backbone.

  resample='down' halves the resolution (conv-then-mean-pool on both paths)
  unless the block is dilated, in which case dilated convolutions widen the
  receptive field at the same resolution instead. `norm` is a normalisation
  factory, called as norm()(x, y) when `conditional`.
  """
  features: int
  norm: Callable
  act: Callable
  conditional: bool = False
  resample: Optional[str] = None
  dilation: int = 1
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x, y=None):
    if self.resample not in (None, 'down'):
      raise ValueError(f"resample={self.resample!r}; allowed: None, 'down'")
    c, d = x.shape[-1], self.dilation
    conv = functools.partial(ncsn_conv, dilation=d, dtype=self.dtype)
    h = self.act(_normed(self.norm, self.conditional, x, y))
    if self.resample == 'down':
      h = conv(c, c)(h)
      h = self.act(_normed(self.norm, self.conditional, h, y))
      if d > 1:
        h = conv(self.features, c)(h)
        shortcut = conv(self.features, c)(x)
      else:
        h = ConvMeanPool(self.features, dtype=self.dtype)(h)
        shortcut = ConvMeanPool(self.features, kernel_size=1, dtype=self.dtype)(x)
    else:
      if self.features == c:
        shortcut = x
      elif d > 1:
        shortcut = conv(self.features, c)(x)
      else:
        shortcut = ncsn_conv(self.features, c, kernel_size=1, dtype=self.dtype)(x)
      h = conv(self.features, c)(h)
      h = self.act(_normed(self.norm, self.conditional, h, y))
      h = conv(self.features, self.features)(h)
    return h + shortcut


class _StagedBlock(nn.Module):
  """The fields of RCUBlock and CRPBlock: n_stages bias-free convs to `features` channels,
  each after the (optional, conditional) `cond_norm` and, for RCU, `act`."""
  features: int
  n_stages: int
  act: Callable
  cond_norm: Optional[Callable] = None
  dtype: Optional[Dtype] = None


class RCUBlock(_StagedBlock):
  """Residual conv unit: n_blocks x (x + [act -> conv] * n_stages), bias-free convs."""
  n_blocks: int = 1

  @nn.compact
  def __call__(self, x, y=None):
    for _ in range(self.n_blocks):
      residual = x
      for _ in range(self.n_stages):
        if self.cond_norm is not None:
          x = self.cond_norm()(x, y)
        x = self.act(x)
        x = ncsn_conv(self.features, x.shape[-1], use_bias=False, dtype=self.dtype)(x)
      x = x + residual
    return x


class CRPBlock(_StagedBlock):
  """Chained residual pooling: x = act(x); n_stages x (path = conv(pool5x5(path)); x += path)."""

  @nn.compact
  def __call__(self, x, y=None):
    x = self.act(x)
    path = x
    for _ in range(self.n_stages):
      if self.cond_norm is not None:
        path = self.cond_norm()(path, y)
        path = nn.avg_pool(path, (5, 5), strides=(1, 1), padding='SAME')
      else:
        path = nn.max_pool(path, (5, 5), strides=(1, 1), padding='SAME')
      path = ncsn_conv(self.features, path.shape[-1], use_bias=False, dtype=self.dtype)(path)
      x = path + x
    return x


class MSFBlock(nn.Module):
  """Multi-resolution fusion: conv each input to `features`, resize to `shape`, sum."""
  shape: Sequence[int]
  features: int
  interpolation: str = 'bilinear'
  cond_norm: Optional[Callable] = None
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, xs, y=None):
    if self.interpolation not in INTERPOLATIONS:
      raise ValueError(config_checks.not_allowed('config.model.interpolation', self.interpolation,
                                                 config_checks.INTERPOLATIONS))
    total = 0.
    for x in xs:
      h = self.cond_norm()(x, y) if self.cond_norm is not None else x
      h = ncsn_conv(self.features, h.shape[-1], dtype=self.dtype)(h)
      h = jax.image.resize(h, (h.shape[0], *self.shape, h.shape[-1]),
                           INTERPOLATIONS[self.interpolation])
      total = total + h
    return total


class RefineBlock(nn.Module):
  """RefineNet block: RCU on each input, fuse (MSF) unless first, CRP, output RCU.

  The last block of the network (`end`) has 3 output RCUs, the others 1.
  """
  output_shape: Sequence[int]
  features: int
  act: Callable
  interpolation: str = 'bilinear'
  start: bool = False
  end: bool = False
  cond_norm: Optional[Callable] = None
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, xs, y=None):
    kw = dict(act=self.act, cond_norm=self.cond_norm, dtype=self.dtype)
    hs = [RCUBlock(x.shape[-1], n_blocks=2, n_stages=2, **kw)(x, y) for x in xs]
    if self.start:
      h = hs[0]
    else:
      h = MSFBlock(self.output_shape, self.features, self.interpolation,
                   cond_norm=self.cond_norm, dtype=self.dtype)(hs, y)
    h = CRPBlock(self.features, n_stages=2, **kw)(h, y)
    return RCUBlock(self.features, n_blocks=3 if self.end else 1, n_stages=2, **kw)(h, y)
