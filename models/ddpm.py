"""The DDPM score network (Ho et al. 2020): a U-Net of GroupNorm residual blocks with attention.

Per resolution level (`model.ch_mult`), `num_res_blocks` residual blocks on
the way down and `num_res_blocks + 1` on the way up, with self-attention at
the resolutions in `attn_resolutions`, and ResBlock-Attn-ResBlock in the
middle. With `conditional`, the noise label enters every residual block
through a sinusoidal embedding and a 2-layer MLP (width 4 nf).

Labels follow `models.scoring`: t * (N - 1) for VP/sub-VP (an integer step
for discrete VP), the SMLD index or sigma for VE. `scale_by_sigma` (for VE
training, the NCSN objective) divides the output by the sigma the label
stands for (see `config_utils.label_sigmas`).

`apply(variables, x, labels, train=False)`: x NHWC in [0, 1] (or [-1, 1]
when `data.centered`); dropout is active when `train` (needs a 'dropout'
rng). Computes in `model.dtype`; the output is float32 shaped like x.
"""
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from models import config_utils, layers
from utils import config_checks, scaling

Dtype = Any
_GROUPS = 32  # the original's GroupNorm (flax default): 32 groups, eps 1e-6


class DDPM(layers.UNetFields):
  """DDPM U-Net; see the module docstring for the options."""
  conditional: bool = True
  scale_by_sigma: bool = False
  nonlinearity: str = 'swish'
  centered: bool = True
  sigmas: Sequence[float] = ()
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, labels, train: bool = False):
    if labels.shape != x.shape[:1]:
      raise ValueError(f"labels must have shape {x.shape[:1]} (batch,), got {labels.shape}")
    levels = len(self.ch_mult)
    if x.shape[1] % 2 ** (levels - 1) or x.shape[2] % 2 ** (levels - 1):
      raise ValueError(f"image size {x.shape[1]}x{x.shape[2]} is not divisible by "
                       f"2^(len(ch_mult) - 1) = {2 ** (levels - 1)}")
    act = layers.get_act(self.nonlinearity)
    nf, dtype = self.nf, self.dtype

    def resblock(out_ch=None):
      return layers.ResnetBlockDDPM(act=act, out_ch=out_ch, dropout=self.dropout,
                                    num_groups=_GROUPS, dtype=dtype)

    def attn():
      return layers.AttnBlock(num_groups=_GROUPS, dtype=dtype)

    temb = None
    if self.conditional:
      temb = layers.get_timestep_embedding(labels, nf)
      temb = layers.dense(4 * nf, dtype=dtype)(temb)
      temb = layers.dense(4 * nf, dtype=dtype)(act(temb))

    h = x if self.centered else scaling.to_model_space(x, True)   # sees [-1, 1] data
    hs = [layers.conv3x3(nf, dtype=dtype)(h.astype(dtype))]
    for level in range(levels):
      layers.down_blocks(hs, resblock, attn, nf * self.ch_mult[level], self.num_res_blocks,
                         self.attn_resolutions, temb, train)
      if level != levels - 1:
        hs.append(layers.Downsample(with_conv=self.resamp_with_conv, dtype=dtype)(hs[-1]))

    h = hs[-1]
    h = resblock()(h, temb, train)
    h = attn()(h)
    h = resblock()(h, temb, train)

    for level in reversed(range(levels)):
      for _ in range(self.num_res_blocks + 1):
        h = resblock(nf * self.ch_mult[level])(jnp.concatenate([h, hs.pop()], axis=-1), temb, train)
      if h.shape[1] in self.attn_resolutions:
        h = attn()(h)
      if level != 0:
        h = layers.Upsample(with_conv=self.resamp_with_conv, dtype=dtype)(h)
    assert not hs, 'every skip connection is consumed'

    h = act(layers.group_norm(h.shape[-1], _GROUPS, dtype)(h))
    h = layers.conv3x3(x.shape[-1], init_scale=0., dtype=dtype)(h)
    h = h.astype(jnp.float32)
    if self.scale_by_sigma:
      h = h / config_utils.label_sigmas(labels, self.sigmas)[:, None, None, None]
    return h


def build(config) -> DDPM:
  """DDPM from `config.model` (and `config.data.centered`), options checked."""
  m = config.model
  config_utils.choice(config, 'normalization', config_checks.DDPM_NORMALIZATIONS)
  layers.get_act(m.nonlinearity)  # fails early, naming the field, on an unknown activation
  ch_mult = tuple(int(c) for c in m.ch_mult)
  if not ch_mult or min(ch_mult) < 1:
    raise ValueError(
        f"config.model.ch_mult={m.ch_mult!r} must be a non-empty tuple of positive ints")
  if int(m.nf) < _GROUPS or int(m.nf) % _GROUPS:
    raise ValueError(f"config.model.nf={m.nf} must be a positive multiple of {_GROUPS} "
                     f"(GroupNorm with {_GROUPS} groups)")
  if int(m.num_res_blocks) < 1:
    raise ValueError(f"config.model.num_res_blocks={m.num_res_blocks} must be at least 1")
  if not 0. <= float(m.dropout) < 1.:
    raise ValueError(f"config.model.dropout={m.dropout} must be in [0, 1)")
  scale_by_sigma = bool(m.scale_by_sigma)
  sigmas = tuple(float(s) for s in config_utils.get_sigmas(config)) if scale_by_sigma else ()
  return DDPM(nf=int(m.nf), ch_mult=ch_mult, num_res_blocks=int(m.num_res_blocks),
              attn_resolutions=tuple(int(r) for r in m.attn_resolutions),
              dropout=float(m.dropout), resamp_with_conv=bool(m.resamp_with_conv),
              conditional=bool(m.conditional), scale_by_sigma=scale_by_sigma,
              nonlinearity=str(m.nonlinearity), centered=bool(config.data.centered),
              sigmas=sigmas, dtype=config_utils.compute_dtype(config))
