"""NCSN++ and DDPM++ score networks (Song et al. 2021, arXiv 2011.13456, Appendix H).

One U-Net family, configured by `config.model`: DDPM++ is
`resblock_type='biggan', fir=False, progressive*='none'` with positional
embeddings; NCSN++ adds FIR resampling, the input pyramid
(`progressive_input='residual'` / `'input_skip'`) and, at high resolution,
the output pyramid (`progressive='output_skip'`), with Gaussian Fourier
embeddings of log(sigma). The block structure and parameter count equal the
original score_sde NCSN++ for every config.

`model.apply(variables, x, labels, train=False)`: x is (B, H, W, C), labels
is (B,) -- the noise label of `models/scoring.py` (sigma for VE continuous,
an index into the descending noise scales for VE discrete, t * (N - 1) for
VP). The output has x's shape, float32.

Config fields read (config.model unless said): nf, ch_mult, num_res_blocks,
attn_resolutions, dropout, resamp_with_conv, fir, fir_kernel, skip_rescale,
resblock_type, progressive, progressive_input, progressive_combine,
embedding_type, fourier_scale (fourier only), init_scale, conditional,
scale_by_sigma, nonlinearity, dtype, sigma_min / sigma_max / num_scales
(positional + scale_by_sigma only: the SDE's noise table, `config_utils.get_sigmas`;
an integer label indexes it, a float label is sigma itself), data.centered, data.image_size,
data.num_channels, training.continuous. The original's `normalization`
(always GroupNorm here), `attention_type` (always DDPM attention) and
`conv_size` (always 3) are not read, so configs do not carry them.
"""
import math
from typing import Any, Optional, Tuple

import flax.linen as nn
import jax.numpy as jnp

from models import config_utils, layers, layerspp
from utils import config_checks, scaling

RESBLOCK_TYPES = config_checks.RESBLOCK_TYPES
PROGRESSIVE = config_checks.PROGRESSIVE
PROGRESSIVE_INPUT = config_checks.PROGRESSIVE_INPUT
PROGRESSIVE_COMBINE = config_checks.PROGRESSIVE_COMBINE
EMBEDDING_TYPES = config_checks.EMBEDDING_TYPES
DTYPES = config_utils.DTYPES


class NCSNpp(layers.UNetFields):
  """The NCSN++ / DDPM++ U-Net. Build it from a config with `build(config)`."""
  num_res_blocks: int = 4
  fir: bool = True
  fir_kernel: Tuple[float, ...] = (1., 3., 3., 1.)
  skip_rescale: bool = True
  resblock_type: str = 'biggan'
  progressive: str = 'none'
  progressive_input: str = 'residual'
  progressive_combine: str = 'sum'
  embedding_type: str = 'fourier'
  fourier_scale: float = 16.
  init_scale: float = 0.
  conditional: bool = True
  scale_by_sigma: bool = True
  nonlinearity: str = 'swish'
  centered: bool = False
  # The VE noise table, largest first (`config_utils.get_sigmas`, the SDE's table), which
  # an integer positional label indexes when scaling by sigma.
  sigmas: Tuple[float, ...] = ()
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, labels, train: bool = False):
    act = layers.get_act(self.nonlinearity)
    nf, dtype = self.nf, self.dtype
    num_resolutions = len(self.ch_mult)
    out_channels = x.shape[-1]
    if x.ndim != 4 or labels.shape != x.shape[:1]:
      raise ValueError(f"expected x (B, H, W, C) and labels (B,), got {x.shape} and {labels.shape}")

    # Noise-level embedding (computed in float32: its inputs span decades).
    if self.embedding_type == 'fourier':
      used_sigmas = labels.astype(jnp.float32)
      temb = layers.GaussianFourierProjection(
          embedding_size=nf, scale=self.fourier_scale)(jnp.log(used_sigmas))
    else:
      temb = layers.get_timestep_embedding(labels, nf)
    if self.conditional:
      temb = layers.dense(nf * 4, dtype=dtype)(temb)
      temb = layers.dense(nf * 4, dtype=dtype)(act(temb))
    else:
      temb = None

    if self.resblock_type == 'ddpm':
      def resblock(out_ch=None, up=False, down=False):
        del up, down  # DDPM++ blocks resample in separate layers
        return layers.ResnetBlockDDPM(
            act=act, out_ch=out_ch, dropout=self.dropout, skip_rescale=self.skip_rescale,
            init_scale=self.init_scale, num_groups=None, dtype=dtype)
    else:
      def resblock(out_ch=None, up=False, down=False):
        return layerspp.ResnetBlockBigGANpp(
            act=act, out_ch=out_ch, up=up, down=down, dropout=self.dropout, fir=self.fir,
            fir_kernel=self.fir_kernel, skip_rescale=self.skip_rescale,
            init_scale=self.init_scale, dtype=dtype)

    def attn():
      return layerspp.AttnBlockpp(skip_rescale=self.skip_rescale, init_scale=self.init_scale,
                                  dtype=dtype)

    if not self.centered:
      x = scaling.to_model_space(x, True)   # the network sees [-1, 1] data
    x = x.astype(dtype)

    # Downsampling path.
    input_pyramid = x if self.progressive_input != 'none' else None
    hs = [layers.conv3x3(nf, dtype=dtype)(x)]
    for i_level in range(num_resolutions):
      layers.down_blocks(hs, resblock, attn, nf * self.ch_mult[i_level], self.num_res_blocks,
                         self.attn_resolutions, temb, train)
      if i_level != num_resolutions - 1:
        if self.resblock_type == 'ddpm':
          h = layerspp.Downsample(with_conv=self.resamp_with_conv, fir=self.fir,
                                  fir_kernel=self.fir_kernel, dtype=dtype)(hs[-1])
        else:
          h = resblock(down=True)(hs[-1], temb, train)
        if self.progressive_input == 'input_skip':
          input_pyramid = layerspp.Downsample(
              with_conv=False, fir=self.fir, fir_kernel=self.fir_kernel,
              dtype=dtype)(input_pyramid)
          h = layerspp.Combine(method=self.progressive_combine, dtype=dtype)(input_pyramid, h)
        elif self.progressive_input == 'residual':
          input_pyramid = layerspp.Downsample(
              out_ch=h.shape[-1], with_conv=True, fir=self.fir, fir_kernel=self.fir_kernel,
              dtype=dtype)(input_pyramid)
          input_pyramid = input_pyramid + h
          if self.skip_rescale:
            input_pyramid = input_pyramid / math.sqrt(2.)
          h = input_pyramid
        hs.append(h)

    h = hs[-1]
    h = resblock()(h, temb, train)
    h = attn()(h)
    h = resblock()(h, temb, train)

    # Upsampling path.
    pyramid = None
    for i_level in reversed(range(num_resolutions)):
      for _ in range(self.num_res_blocks + 1):
        h = resblock(nf * self.ch_mult[i_level])(
            jnp.concatenate([h, hs.pop()], axis=-1), temb, train)
      if h.shape[1] in self.attn_resolutions:
        h = attn()(h)

      if self.progressive != 'none':
        if i_level == num_resolutions - 1:
          pyramid = act(layers.group_norm(h.shape[-1], dtype=dtype)(h))
          if self.progressive == 'output_skip':
            pyramid = layers.conv3x3(out_channels, init_scale=self.init_scale,
                                     dtype=dtype)(pyramid)
          else:
            pyramid = layers.conv3x3(h.shape[-1], dtype=dtype)(pyramid)
        elif self.progressive == 'output_skip':
          pyramid = layerspp.Upsample(with_conv=False, fir=self.fir,
                                      fir_kernel=self.fir_kernel, dtype=dtype)(pyramid)
          pyramid_h = act(layers.group_norm(h.shape[-1], dtype=dtype)(h))
          pyramid_h = layers.conv3x3(out_channels, init_scale=self.init_scale,
                                     dtype=dtype)(pyramid_h)
          pyramid = pyramid + pyramid_h
        else:
          pyramid = layerspp.Upsample(out_ch=h.shape[-1], with_conv=True, fir=self.fir,
                                      fir_kernel=self.fir_kernel, dtype=dtype)(pyramid)
          pyramid = pyramid + h
          if self.skip_rescale:
            pyramid = pyramid / math.sqrt(2.)
          h = pyramid

      if i_level != 0:
        if self.resblock_type == 'ddpm':
          h = layerspp.Upsample(with_conv=self.resamp_with_conv, fir=self.fir,
                                fir_kernel=self.fir_kernel, dtype=dtype)(h)
        else:
          h = resblock(up=True)(h, temb, train)

    if hs:
      raise AssertionError("skip connections left over; the U-Net is unbalanced")

    if self.progressive == 'output_skip':
      h = pyramid
    else:
      h = act(layers.group_norm(h.shape[-1], dtype=dtype)(h))
      h = layers.conv3x3(out_channels, init_scale=self.init_scale, dtype=dtype)(h)

    h = h.astype(jnp.float32)
    if self.scale_by_sigma:
      if self.embedding_type == 'fourier':
        sigmas = labels.astype(jnp.float32)
      else:
        sigmas = config_utils.label_sigmas(labels, self.sigmas)
      h = h / sigmas[:, None, None, None]
    return h


def _choice(value, field, allowed):
  key = str(value).lower()
  if key not in allowed:
    raise ValueError(config_checks.not_allowed(f'config.{field}', value, allowed))
  return key


def build(config) -> NCSNpp:
  """NCSNpp from `config.model` / `config.data`, checking every choice field."""
  m = config.model
  resblock_type = _choice(m.resblock_type, 'model.resblock_type', RESBLOCK_TYPES)
  progressive = _choice(m.progressive, 'model.progressive', PROGRESSIVE)
  progressive_input = _choice(m.progressive_input, 'model.progressive_input', PROGRESSIVE_INPUT)
  combine = _choice(m.progressive_combine, 'model.progressive_combine', PROGRESSIVE_COMBINE)
  embedding_type = _choice(m.embedding_type, 'model.embedding_type', EMBEDDING_TYPES)
  dtype_name = _choice(m.get('dtype', 'float32'), 'model.dtype', config_checks.MODEL_DTYPES)
  layers.get_act(m.nonlinearity)   # fails early on an unknown activation

  ch_mult = tuple(int(c) for c in m.ch_mult)
  if not ch_mult or min(ch_mult) < 1:
    raise ValueError(f"config.model.ch_mult={m.ch_mult!r} must be a non-empty tuple of positive ints")
  image_size = config.data.image_size
  if image_size % 2 ** (len(ch_mult) - 1):
    raise ValueError(
        f"config.data.image_size={image_size} must be divisible by 2**(len(ch_mult) - 1)="
        f"{2 ** (len(ch_mult) - 1)} for ch_mult={ch_mult}")
  nf = int(m.nf)
  if embedding_type == 'fourier' and not config.training.continuous:
    raise ValueError("config.model.embedding_type='fourier' embeds log(sigma) and needs "
                     "config.training.continuous=True; use 'positional' for discrete training")
  kwargs = {}
  if embedding_type == 'fourier':
    kwargs['fourier_scale'] = float(m.fourier_scale)
  elif m.scale_by_sigma:
    kwargs['sigmas'] = tuple(float(s) for s in config_utils.get_sigmas(config))
  return NCSNpp(
      nf=nf,
      ch_mult=ch_mult,
      num_res_blocks=int(m.num_res_blocks),
      attn_resolutions=tuple(int(r) for r in m.attn_resolutions),
      dropout=float(m.dropout),
      resamp_with_conv=bool(m.resamp_with_conv),
      fir=bool(m.fir),
      fir_kernel=tuple(float(k) for k in m.fir_kernel),
      skip_rescale=bool(m.skip_rescale),
      resblock_type=resblock_type,
      progressive=progressive,
      progressive_input=progressive_input,
      progressive_combine=combine,
      embedding_type=embedding_type,
      init_scale=float(m.init_scale),
      conditional=bool(m.conditional),
      scale_by_sigma=bool(m.scale_by_sigma),
      nonlinearity=str(m.nonlinearity).lower(),
      centered=bool(config.data.centered),
      dtype=DTYPES[dtype_name],
      **kwargs)
