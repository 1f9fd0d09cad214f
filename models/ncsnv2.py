"""NCSN (Song & Ermon 2019) and NCSNv2 (Song & Ermon 2020) score networks: dilated RefineNets.

* `ncsn`: 32x32-style RefineNet whose every normalisation is conditioned on
  the noise level's index (conditional InstanceNorm++ by default).
* `ncsnv2_64`, `ncsnv2_128`, `ncsnv2_256`: unconditional normalisation; the
  noise level enters only by dividing the output by sigma
  (`model.scale_by_sigma`, NCSNv2's technique 3). Deeper backbones for larger
  images: 4, 5 and 6 resolution stages.

Noise labels (see `models.scoring`): an integer label is the index into
`config_utils.get_sigmas(config)` (sigma_max first: the discrete VE label
round((T - t)(N - 1))); a floating label is the noise level sigma itself
(continuous VE). `scale_by_sigma` divides by that sigma; the conditional
layers of `ncsn` use the index (a sigma maps to its nearest level).

`apply(variables, x, labels, train=False)`: x NHWC in [0, 1] (or [-1, 1]
when `data.centered`), labels (B,); returns float32 shaped like x.
"""
from typing import Any, Callable, Optional, Sequence, Tuple

import flax.linen as nn
import jax.numpy as jnp

from models import config_utils, layers, normalization, refinenet
from utils import config_checks, scaling

Dtype = Any

# Backbone stages (channel multiplier of nf, resampling, dilation), each two
# residual blocks, and the refine blocks' channel multipliers, deepest first.
_PLANS = {
    'ncsn': (((1, None, 1), (2, 'down', 1), (2, 'down', 2), (2, 'down', 4)), (2, 2, 2, 1)),
    'ncsnv2_64': (((1, None, 1), (2, 'down', 1), (2, 'down', 2), (2, 'down', 4)), (2, 2, 2, 1)),
    'ncsnv2_128': (((1, None, 1), (2, 'down', 1), (2, 'down', 1), (4, 'down', 2), (4, 'down', 4)),
                   (4, 2, 2, 1, 1)),
    'ncsnv2_256': (((1, None, 1), (2, 'down', 1), (2, 'down', 1), (2, 'down', 1), (4, 'down', 2),
                    (4, 'down', 4)), (4, 2, 2, 2, 1, 1)),
}


class RefineNet(nn.Module):
  """The dilated RefineNet of NCSN/NCSNv2, configured by a stage plan."""
  nf: int
  stages: Tuple[Tuple[int, Optional[str], int], ...]
  refine: Tuple[int, ...]
  norm: Callable
  act: Callable
  sigmas: Sequence[float]
  conditional: bool = False
  scale_by_sigma: bool = False
  centered: bool = False
  interpolation: str = 'bilinear'
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, labels, train: bool = False):
    del train  # no dropout or batch statistics in these networks
    if labels.shape != x.shape[:1]:
      raise ValueError(f"labels must have shape {x.shape[:1]} (batch,), got {labels.shape}")
    y = config_utils.label_index(labels, self.sigmas) if self.conditional else None
    cond_norm = self.norm if self.conditional else None
    block = lambda features, resample, dilation: refinenet.ResidualBlock(  # noqa: E731
        features, self.norm, self.act, self.conditional, resample, dilation, self.dtype)

    h = x if self.centered else scaling.to_model_space(x, True)   # sees [-1, 1] data
    h = refinenet.ncsn_conv(self.nf, x.shape[-1], dtype=self.dtype)(h.astype(self.dtype))
    skips = []
    for mult, resample, dilation in self.stages:
      h = block(mult * self.nf, resample, dilation)(h, y)
      h = block(mult * self.nf, None, dilation)(h, y)
      skips.append(h)

    ref = None
    for i, (skip, mult) in enumerate(zip(reversed(skips), self.refine)):
      inputs = [skip] if ref is None else [skip, ref]
      ref = refinenet.RefineBlock(skip.shape[1:3], mult * self.nf, self.act, self.interpolation,
                                  start=ref is None, end=i == len(skips) - 1,
                                  cond_norm=cond_norm, dtype=self.dtype)(inputs, y)

    h = self.norm()(ref, y) if self.conditional else self.norm()(ref)
    h = refinenet.ncsn_conv(x.shape[-1], h.shape[-1], dtype=self.dtype)(self.act(h))
    h = h.astype(jnp.float32)
    if self.scale_by_sigma:
      used = config_utils.label_sigmas(labels, self.sigmas)
      h = h / used[:, None, None, None]
    return h


def _build(config, plan: str, conditional: bool) -> RefineNet:
  m = config.model
  stages, refine = _PLANS[plan]
  interpolation = config_utils.choice(config, 'interpolation', config_checks.INTERPOLATIONS)
  if int(m.nf) < 1:
    raise ValueError(f"config.model.nf={m.nf} must be a positive integer")
  return RefineNet(
      nf=int(m.nf), stages=stages, refine=refine,
      norm=normalization.get_normalization(config, conditional=conditional),
      act=layers.get_act(m.nonlinearity),
      sigmas=tuple(float(s) for s in config_utils.get_sigmas(config)),
      conditional=conditional, scale_by_sigma=bool(m.scale_by_sigma),
      centered=bool(config.data.centered), interpolation=interpolation,
      dtype=config_utils.compute_dtype(config))


def build_ncsn(config) -> RefineNet:
  """NCSN v1: noise-conditional normalisation over `model.num_scales` levels."""
  return _build(config, 'ncsn', conditional=True)


def build_ncsnv2_64(config) -> RefineNet:
  """NCSNv2 for images up to ~64 px (CIFAR-10, CelebA 64)."""
  return _build(config, 'ncsnv2_64', conditional=False)


def build_ncsnv2_128(config) -> RefineNet:
  """NCSNv2 for ~128 px images (LSUN 128)."""
  return _build(config, 'ncsnv2_128', conditional=False)


def build_ncsnv2_256(config) -> RefineNet:
  """NCSNv2 for ~256 px images."""
  return _build(config, 'ncsnv2_256', conditional=False)
