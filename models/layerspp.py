"""Blocks of NCSN++ / DDPM++ (Song et al. 2021, Appendix H): FIR resampling,
BigGAN-type residual blocks, rescaled attention and progressive combiners.

The generic DDPM pieces (DDPM init, NIN, time embeddings) are in
`models/layers.py`; FIR filtering is `models/upfirdn2d.py`. All blocks are
NHWC, compute in `dtype` and keep float32 parameters.
"""
import math
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax.numpy as jnp
from jax import lax

from models import upfirdn2d as fir_ops
from models.layers import (Dropout, conv1x1, conv3x3, default_init, dense, group_norm,
                           pixel_attention, qkv_projection, upsample_conv3x3)

Dtype = Any
_SQRT2 = math.sqrt(2.)


class FIRConv2d(nn.Module):
  """A 3x3 (odd k) convolution fused with FIR 2x up- or down-sampling (StyleGAN2).

  Parameters are a (k, k, Cin, Cout) kernel and a bias, as a plain conv.
  """
  features: int
  kernel: int = 3
  up: bool = False
  down: bool = False
  fir_kernel: Sequence[int] = (1, 3, 3, 1)
  use_bias: bool = True
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x):
    if self.up and self.down:
      raise ValueError("FIRConv2d cannot both upsample and downsample")
    w = self.param('kernel', default_init(),
                   (self.kernel, self.kernel, x.shape[-1], self.features), jnp.float32)
    dtype = self.dtype or x.dtype
    x = x.astype(dtype)
    w = w.astype(dtype)
    if self.up:
      y = fir_ops.upsample_conv_2d(x, w, self.fir_kernel)
    elif self.down:
      y = fir_ops.conv_downsample_2d(x, w, self.fir_kernel)
    else:
      p = self.kernel // 2
      y = lax.conv_general_dilated(
          x, w, (1, 1), ((p, p), (p, p)), dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    if self.use_bias:
      b = self.param('bias', nn.initializers.zeros, (self.features,), jnp.float32)
      y = y + b.astype(dtype)
    return y


class Combine(nn.Module):
  """Merges a skip input x into h: conv1x1(x) to h's channels, then 'cat' or 'sum'."""
  method: str = 'cat'
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x, h):
    x = conv1x1(h.shape[-1], dtype=self.dtype)(x)
    if self.method == 'cat':
      return jnp.concatenate([x, h], axis=-1)
    if self.method == 'sum':
      return x + h
    raise ValueError(f"progressive_combine={self.method!r}; allowed: 'cat', 'sum'")


class AttnBlockpp(nn.Module):
  """DDPM self-attention with min(C // 4, 32) groups and optional 1/sqrt(2) skip rescaling."""
  skip_rescale: bool = False
  init_scale: float = 0.
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    h = group_norm(c, dtype=self.dtype)(x)
    q, k, v = qkv_projection(h, self.dtype)
    h = dense(c, self.init_scale, self.dtype, name='Dense_3')(pixel_attention(q, k, v))
    if self.skip_rescale:
      return (x + h) / _SQRT2
    return x + h


class _Resample(nn.Module):
  """The fields of Upsample and Downsample; out_ch None keeps the input's channels."""
  out_ch: Optional[int] = None
  with_conv: bool = False
  fir: bool = False
  fir_kernel: Sequence[int] = (1, 3, 3, 1)
  dtype: Optional[Dtype] = None


class Upsample(_Resample):
  """2x upsampling: nearest (+3x3 conv), or FIR (fused with a 3x3 conv when with_conv)."""

  @nn.compact
  def __call__(self, x):
    out_ch = self.out_ch or x.shape[-1]
    if not self.fir:
      if self.with_conv:
        return upsample_conv3x3(out_ch, dtype=self.dtype)(x)
      return fir_ops.naive_upsample_2d(x, 2)
    if self.with_conv:
      return FIRConv2d(out_ch, up=True, fir_kernel=self.fir_kernel, dtype=self.dtype)(x)
    return fir_ops.upsample_2d(x, self.fir_kernel, factor=2)


class Downsample(_Resample):
  """2x downsampling: stride-2 3x3 conv / average pooling, or FIR (fused with a 3x3 conv)."""

  @nn.compact
  def __call__(self, x):
    out_ch = self.out_ch or x.shape[-1]
    if not self.fir:
      if self.with_conv:
        return conv3x3(out_ch, stride=2, dtype=self.dtype)(x)
      return fir_ops.naive_downsample_2d(x, 2)
    if self.with_conv:
      return FIRConv2d(out_ch, down=True, fir_kernel=self.fir_kernel, dtype=self.dtype)(x)
    return fir_ops.downsample_2d(x, self.fir_kernel, factor=2)


def _resample(x, up, fir, fir_kernel):
  """2x upsampling (up) or downsampling (not up) without a conv: FIR or nearest / mean pooling."""
  if fir:
    return (fir_ops.upsample_2d if up else fir_ops.downsample_2d)(x, fir_kernel, factor=2)
  return (fir_ops.naive_upsample_2d if up else fir_ops.naive_downsample_2d)(x, 2)


class ResnetBlockBigGANpp(nn.Module):
  """BigGAN-type residual block, optionally resampling both paths (Brock et al. 2019).

  h = act(GN(x)); resample h and x (FIR or nearest/average); h = Conv(h) +
  Dense(act(temb)); h = Conv_init(dropout(act(GN(h)))); x goes through a 1x1
  conv when channels change or it was resampled; out = (x + h) [/ sqrt 2].

  With nearest upsampling (up, not fir) the same parameters are applied at the
  lower resolution: Conv_0 per output phase of the upsampled image
  (`upsample_conv3x3`) and the 1x1 shortcut before the upsampling, which
  commutes with it; the result is the same as upsampling first.
  """
  act: Any
  out_ch: Optional[int] = None
  up: bool = False
  down: bool = False
  dropout: float = 0.1
  fir: bool = False
  fir_kernel: Sequence[int] = (1, 3, 3, 1)
  skip_rescale: bool = True
  init_scale: float = 0.
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x, temb=None, train: bool = False):
    c = x.shape[-1]
    out_ch = self.out_ch or c
    h = self.act(group_norm(c, dtype=self.dtype)(x))
    nearest_up = self.up and not self.fir
    if nearest_up:
      h = upsample_conv3x3(out_ch, dtype=self.dtype)(h)
    else:
      if self.up or self.down:   # up wins if both are set, as in the original
        h = _resample(h, self.up, self.fir, self.fir_kernel)
        x = _resample(x, self.up, self.fir, self.fir_kernel)
      h = conv3x3(out_ch, dtype=self.dtype)(h)
    if temb is not None:
      h = h + dense(out_ch, dtype=self.dtype)(self.act(temb))[:, None, None, :]
    h = self.act(group_norm(out_ch, dtype=self.dtype)(h))
    h = Dropout(self.dropout)(h, deterministic=not train)
    h = conv3x3(out_ch, init_scale=self.init_scale, dtype=self.dtype)(h)
    if nearest_up:
      x = fir_ops.naive_upsample_2d(conv1x1(out_ch, dtype=self.dtype)(x), 2)
    elif c != out_ch or self.up or self.down:
      x = conv1x1(out_ch, dtype=self.dtype)(x)
    if self.skip_rescale:
      return (x + h) / _SQRT2
    return x + h
