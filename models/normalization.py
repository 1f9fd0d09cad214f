"""Normalisation layers of NCSN / NCSNv2 (and GroupNorm for DDPM), NHWC.

InstanceNorm++ (Song & Ermon 2019, NCSN) normalises each channel of each
image over its pixels like instance norm, then adds back the information
instance norm throws away, the relative size of the channel means:

  mu_c = mean_hw x[..., c],   m, v = mean_c mu_c, var_c mu_c
  out  = gamma_c * ((x - mu_c) / sqrt(var_hw x + eps) + alpha_c (mu_c - m) / sqrt(v + eps)) + beta_c

The conditional variants take a class index y (the noise level's index) and
read their per-channel scales/biases from a (num_classes, k * C) table.
Statistics are computed in at least float32 whatever the compute dtype;
parameters are float32; the output has the compute dtype (`dtype`, or the
input's dtype when None).

`get_normalization(config, conditional)` returns a factory: calling it gives
a fresh module, applied as `norm(x)` or, conditional, `norm(x, y)`.
"""
import functools
from typing import Any, Optional

import flax.linen as nn
import jax.numpy as jnp

from models import config_utils, layers
from utils import config_checks

Dtype = Any
EPS = 1e-5

NORMALIZATIONS = config_checks.NORMALIZATIONS
CONDITIONAL_NORMALIZATIONS = config_checks.CONDITIONAL_NORMALIZATIONS


def _near_one(key, shape, dtype=jnp.float32):
  """N(1, 0.02^2): the NCSN initialisation of multiplicative norm parameters."""
  return 1. + 0.02 * nn.initializers.normal(1.)(key, shape, dtype)


def _stat_dtype(x):
  # bfloat16 statistics lose too many bits; float64 inputs keep float64.
  return jnp.promote_types(x.dtype, jnp.float32)


def _standardize(x, center: bool):
  """Per-image, per-channel (x - mean) / std over H, W (or x / std), and the channel means."""
  x = x.astype(_stat_dtype(x))
  means = jnp.mean(x, axis=(1, 2), keepdims=True)
  var = jnp.var(x, axis=(1, 2), keepdims=True)
  h = (x - means) if center else x
  return h / jnp.sqrt(var + EPS), means[:, 0, 0, :]


def _normalized_means(means):
  """(mu_c - m) / sqrt(v + eps) across channels: the InstanceNorm++ correction term, (B, C)."""
  m = jnp.mean(means, axis=-1, keepdims=True)
  v = jnp.var(means, axis=-1, keepdims=True)
  return (means - m) / jnp.sqrt(v + EPS)


def _rows(table, y):
  """Rows y of a class table, (B, k * C); y must be integer class indices in range."""
  y = jnp.asarray(y)
  if not jnp.issubdtype(y.dtype, jnp.integer):
    raise TypeError(f"conditional normalisation needs integer class indices y, got dtype {y.dtype}")
  if y.ndim != 1:
    raise ValueError(f"class indices y must have shape (batch,), got {y.shape}")
  return jnp.take(table, y, axis=0)


def _out(h, dtype, x):
  return h.astype(dtype if dtype is not None else x.dtype)


def _b(v):
  """(B, C) -> (B, 1, 1, C) for broadcasting over pixels."""
  return v[:, None, None, :]


def _scale_shift(module, h, scale_init):
  """h * scale (+ bias if `module.use_bias`): per-channel parameters of `module`, float32."""
  c = h.shape[-1]
  h = h * module.param('scale', scale_init, (c,), jnp.float32)
  if module.use_bias:
    h = h + module.param('bias', nn.initializers.zeros, (c,), jnp.float32)
  return h


class _Norm(nn.Module):
  """The fields of the unconditional norms: a per-channel bias or not; the output dtype."""
  use_bias: bool = True
  dtype: Optional[Dtype] = None


class InstanceNorm(_Norm):
  """Instance normalisation with a per-channel affine map."""

  @nn.compact
  def __call__(self, x):
    h, _ = _standardize(x, center=True)
    return _out(_scale_shift(self, h, nn.initializers.ones), self.dtype, x)


class InstanceNormPlus(_Norm):
  """InstanceNorm++ (NCSN): instance norm plus alpha * normalised channel means."""

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    h, means = _standardize(x, center=True)
    alpha = self.param('alpha', _near_one, (c,), jnp.float32)
    gamma = self.param('gamma', _near_one, (c,), jnp.float32)
    h = gamma * (h + _b(_normalized_means(means)) * alpha)
    if self.use_bias:
      h = h + self.param('beta', nn.initializers.zeros, (c,), jnp.float32)
    return _out(h, self.dtype, x)


class VarianceNorm(_Norm):
  """x / std over pixels, per image and channel (no centring), times a per-channel scale."""
  use_bias: bool = False

  @nn.compact
  def __call__(self, x):
    h, _ = _standardize(x, center=False)
    return _out(_scale_shift(self, h, _near_one), self.dtype, x)


def _class_table(module, name, num_classes, c, n_near_one, n_zero):
  """A (num_classes, (n_near_one + n_zero) * c) table: N(1, 0.02) columns, then zero columns."""
  def init(key, shape, dtype=jnp.float32):
    ones = _near_one(key, (shape[0], n_near_one * c), dtype)
    return jnp.concatenate([ones, jnp.zeros((shape[0], n_zero * c), dtype)], axis=-1)
  return module.param(name, init, (num_classes, (n_near_one + n_zero) * c), jnp.float32)


def _class_params(module, y, c, n_near_one):
  """Per-class parameters of `module` for classes y, each (B, 1, 1, c) for broadcasting.

  Its table 'embedding' holds n_near_one N(1, 0.02)-initialised blocks, then
  a zero-initialised bias block if `module.use_bias`. Returns (the n_near_one
  blocks, the bias or None).
  """
  use_bias = getattr(module, 'use_bias', False)
  table = _class_table(module, 'embedding', module.num_classes, c, n_near_one, int(use_bias))
  rows = _rows(table, y)
  blocks = [_b(rows[:, i * c:(i + 1) * c]) for i in range(n_near_one + int(use_bias))]
  return blocks[:n_near_one], (blocks[n_near_one] if use_bias else None)


class _ConditionalInstanceNorm(nn.Module):
  """The fields of the conditional instance norms: one row of parameters per class."""
  num_classes: int
  use_bias: bool = True
  dtype: Optional[Dtype] = None


class ConditionalInstanceNorm(_ConditionalInstanceNorm):
  """Instance norm whose scale and bias are looked up per class y."""

  @nn.compact
  def __call__(self, x, y):
    h, _ = _standardize(x, center=True)
    (scale,), bias = _class_params(self, y, x.shape[-1], 1)
    h = h * scale
    return _out(h if bias is None else h + bias, self.dtype, x)


class ConditionalInstanceNormPlus(_ConditionalInstanceNorm):
  """InstanceNorm++ whose gamma, alpha (and beta) are looked up per class y (NCSN v1)."""

  @nn.compact
  def __call__(self, x, y):
    h, means = _standardize(x, center=True)
    (gamma, alpha), beta = _class_params(self, y, x.shape[-1], 2)
    h = gamma * (h + _b(_normalized_means(means)) * alpha)
    return _out(h if beta is None else h + beta, self.dtype, x)


class ConditionalVarianceNorm(nn.Module):
  """Variance norm whose per-channel scale is looked up per class y."""
  num_classes: int
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x, y):
    h, _ = _standardize(x, center=False)
    (scale,), _ = _class_params(self, y, x.shape[-1], 1)
    return _out(h * scale, self.dtype, x)


class GroupNorm(nn.Module):
  """GroupNorm with 32 groups and eps 1e-6 (flax's defaults, which the original used).

  Statistics in at least float32; the channel count must be a multiple of 32.
  """
  num_groups: int = 32
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x):
    h = layers.GroupNorm(num_groups=self.num_groups, epsilon=1e-6, dtype=_stat_dtype(x),
                         name='norm')(x)
    return _out(h, self.dtype, x)


def get_normalization(config, conditional: bool = False):
  """Factory of the normalisation named by `config.model.normalization`.

  Conditional layers have one row per noise level (`config.model.num_scales`
  classes). Modules compute in `config.model.dtype`.
  """
  dtype = config_utils.compute_dtype(config)
  if conditional:
    name = config_utils.choice(config, 'normalization', CONDITIONAL_NORMALIZATIONS)
    num_classes = int(config.model.num_scales)
    cls = {'InstanceNorm': ConditionalInstanceNorm, 'InstanceNorm++': ConditionalInstanceNormPlus,
           'VarianceNorm': ConditionalVarianceNorm}[name]
    return functools.partial(cls, num_classes=num_classes, dtype=dtype)
  name = config_utils.choice(config, 'normalization', NORMALIZATIONS)
  cls = {'InstanceNorm': InstanceNorm, 'InstanceNorm++': InstanceNormPlus,
         'VarianceNorm': VarianceNorm, 'GroupNorm': GroupNorm}[name]
  return functools.partial(cls, dtype=dtype)
