"""Generic layers shared by the score networks (DDPM, NCSN++/DDPM++).

Everything here follows the DDPM / score_sde conventions so that parameter
counts and initial statistics match the original networks:

* convolutions and dense layers use the "DDPM init" `default_init(scale)`:
  variance scaling with mode 'fan_avg' and a uniform distribution, where a
  scale of 0 (used to start residual branches at zero) becomes 1e-10 because
  variance scaling needs a positive scale;
* images are NHWC; modules take a `dtype` (the compute dtype) while their
  parameters are always float32.

The NCSN++-specific blocks (FIR resampling, BigGAN residual blocks,
progressive combiners) live in `models/layerspp.py`.
"""
import math
from typing import Any, Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax
from jax.extend.random import threefry2x32_p

from models import upfirdn2d as fir_ops
from utils import config_checks

Dtype = Any

ACTIVATIONS = {
    'elu': nn.elu,
    'relu': nn.relu,
    'lrelu': lambda x: nn.leaky_relu(x, negative_slope=0.2),
    'swish': nn.swish,
}
config_checks.check_registered('activations', ACTIVATIONS, config_checks.ACTIVATIONS)


def get_act(name: str):
  """The activation named by `config.model.nonlinearity`."""
  key = str(name).lower()
  if key not in ACTIVATIONS:
    raise ValueError(config_checks.not_allowed('config.model.nonlinearity', name,
                                               config_checks.ACTIVATIONS, 'is not an activation'))
  return ACTIVATIONS[key]


def default_init(scale: float = 1.):
  """DDPM initialiser: variance_scaling(scale, 'fan_avg', 'uniform'); scale 0 -> 1e-10."""
  scale = 1e-10 if scale == 0 else scale
  return nn.initializers.variance_scaling(scale, 'fan_avg', 'uniform')


def conv3x3(features: int, stride: int = 1, use_bias: bool = True, dilation: int = 1,
            init_scale: float = 1., padding='SAME', dtype: Optional[Dtype] = None,
            name: Optional[str] = None) -> nn.Conv:
  """3x3 convolution with DDPM initialisation (zero bias)."""
  return nn.Conv(features, kernel_size=(3, 3), strides=(stride, stride), padding=padding,
                 kernel_dilation=(dilation, dilation), use_bias=use_bias,
                 kernel_init=default_init(init_scale), bias_init=nn.initializers.zeros,
                 dtype=dtype, param_dtype=jnp.float32, name=name)


def _conv_of_nearest_upsampled(lhs, rhs, window_strides, padding, lhs_dilation=None,
                               rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                               precision=None):
  """`lax.conv_general_dilated`'s signature, as nn.Conv calls it, for a stride-1 'SAME' conv
  of lhs upsampled 2x by nearest neighbours (`upfirdn2d.naive_upsample_conv_2d`)."""
  nhwc = lax.conv_dimension_numbers(lhs.shape, rhs.shape, ('NHWC', 'HWIO', 'NHWC'))
  if (tuple(window_strides) != (1, 1) or padding != 'SAME' or feature_group_count != 1
      or any(d is not None and tuple(d) != (1, 1) for d in (lhs_dilation, rhs_dilation))
      or lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers) != nhwc):
    raise ValueError(
        "upsample_conv3x3 is a stride-1, 'SAME', undilated, ungrouped NHWC convolution; got "
        f"strides={window_strides}, padding={padding!r}, lhs_dilation={lhs_dilation}, "
        f"rhs_dilation={rhs_dilation}, feature_group_count={feature_group_count}")
  return fir_ops.naive_upsample_conv_2d(lhs, rhs, 2, precision=precision)


def upsample_conv3x3(features: int, init_scale: float = 1., dtype: Optional[Dtype] = None,
                     name: Optional[str] = None) -> nn.Conv:
  """Nearest-neighbour 2x upsampling, then `conv3x3`: the same module and parameters
  (an nn.Conv with a (3, 3, Cin, features) kernel), computed per output phase at the input
  resolution (`upfirdn2d.naive_upsample_conv_2d`): 4/9 of the multiply-adds."""
  return nn.Conv(features, kernel_size=(3, 3), padding='SAME', use_bias=True,
                 kernel_init=default_init(init_scale), bias_init=nn.initializers.zeros,
                 dtype=dtype, param_dtype=jnp.float32, name=name,
                 conv_general_dilated=_conv_of_nearest_upsampled)


def conv1x1(features: int, stride: int = 1, use_bias: bool = True, init_scale: float = 1.,
            dtype: Optional[Dtype] = None, name: Optional[str] = None) -> nn.Conv:
  """1x1 convolution with DDPM initialisation (zero bias)."""
  return nn.Conv(features, kernel_size=(1, 1), strides=(stride, stride), padding='SAME',
                 use_bias=use_bias, kernel_init=default_init(init_scale),
                 bias_init=nn.initializers.zeros, dtype=dtype, param_dtype=jnp.float32,
                 name=name)


def _linear_index(shape):
  """uint32 array of `shape` holding each element's row-major position (built from
  broadcasted iotas, so that XLA can shard it along any axis)."""
  index = jnp.zeros(shape, jnp.uint32)
  stride = 1
  for axis in reversed(range(len(shape))):
    index = index + lax.broadcasted_iota(jnp.uint32, shape, axis) * jnp.uint32(stride)
    stride *= shape[axis]
  return index


def keep_mask(key, keep_prob: float, shape):
  """Boolean mask of `shape`, each element True with probability `keep_prob`, from `key`.

  Element i of a (..., C) mask is a bit of threefry-2x32 (`key`, counter): both 32-bit output
  words of the counter j of a (..., ceil(C/2)) array are used, word 0 for channel j and word 1
  for channel ceil(C/2) + j, and an element is kept when its word < round(keep_prob * 2^32).
  So one threefry block serves two elements, where jax.random.bernoulli (with the default
  partitionable threefry) spends a block per element; the counters are elementwise over the
  leading axes, so a mask sharded on any of them is computed shard by shard. A key of
  another PRNG implementation goes to jax.random.bernoulli.
  """
  shape = tuple(int(d) for d in shape)
  if jnp.issubdtype(getattr(key, 'dtype', None), jax.dtypes.prng_key):
    if 'threefry' not in str(jax.random.key_impl(key)):
      return jax.random.bernoulli(key, keep_prob, shape)
    key = jax.random.key_data(key)
  if not shape:
    return keep_mask(key, keep_prob, (1,))[0]
  half = shape[:-1] + (-(-shape[-1] // 2),)
  if math.prod(half) >= 2 ** 32:
    raise ValueError(f"keep_mask: shape {shape} has more than 2**33 elements")
  key = jnp.asarray(key, jnp.uint32)
  word0, word1 = threefry2x32_p.bind(key[0], key[1], jnp.zeros(half, jnp.uint32),
                                     _linear_index(half))
  words = jnp.concatenate([word0, word1], axis=-1)[..., :shape[-1]]
  return words < jnp.uint32(min(max(round(keep_prob * 2. ** 32), 0), 2 ** 32 - 1))


class Dropout(nn.Module):
  """Inverted dropout, as flax.linen.Dropout (same call, rng collection 'dropout', kept
  elements scaled by 1 / (1 - rate)) with the mask of `keep_mask`: half of flax's
  threefry work per element, the probability exact to 2^-32."""
  rate: float

  @nn.compact
  def __call__(self, x, deterministic: bool):
    if not 0. <= self.rate <= 1.:
      raise ValueError(f"Dropout rate={self.rate!r} is not in [0, 1]")
    if deterministic or self.rate == 0.:
      return x
    if self.rate == 1.:
      return jnp.zeros_like(x)
    keep = 1. - self.rate
    mask = keep_mask(self.make_rng('dropout'), keep, x.shape)
    return lax.select(mask, x / jnp.asarray(keep, x.dtype), jnp.zeros_like(x))


def dense(features: int, init_scale: float = 1., dtype: Optional[Dtype] = None,
          name: Optional[str] = None) -> nn.Dense:
  """Dense layer over the last axis with DDPM initialisation (zero bias).

  Applied to NHWC feature maps this is the original's `NIN` (network in
  network, a per-pixel linear map): same parameters as a 1x1 convolution.
  """
  return nn.Dense(features, kernel_init=default_init(init_scale),
                  bias_init=nn.initializers.zeros, dtype=dtype, param_dtype=jnp.float32,
                  name=name)


class GroupNorm(nn.Module):
  """GroupNorm over NHWC maps, with flax.linen.GroupNorm's parameters ('scale', 'bias'),
  statistics (mean and E[x^2] - mean^2 over H, W and the group's channels, at least in
  float32, variance clipped at 0) and output dtype (`dtype`, else the promotion of the
  input with the float32 parameters).

  The group statistics are formed from per-channel moments (a reduction over H, W, then a
  mean over each group's channels of the (N, C) moments) instead of reducing a
  (N, H, W, G, C/G) view: the same values up to float rounding (relative ~1e-7), and on
  CPU the forward pass 1.5-3x and forward + backward 1.3-1.5x faster (benchmarks/README.md,
  "Profile of the reduced DDPM++ step").
  """
  num_groups: int = 32
  epsilon: float = 1e-6
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x):
    n, c = x.shape[0], x.shape[-1]
    g = self.num_groups
    if g < 1 or c % g:
      raise ValueError(f"GroupNorm with num_groups={g} needs a channel count divisible by it, "
                       f"got {c} channels")
    scale = self.param('scale', nn.initializers.ones, (c,), jnp.float32)
    bias = self.param('bias', nn.initializers.zeros, (c,), jnp.float32)
    xs = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    per_channel = c // g
    mean = jnp.mean(xs, axis=(1, 2)).reshape(n, g, per_channel).mean(-1)
    mean_sq = jnp.mean(xs * xs, axis=(1, 2)).reshape(n, g, per_channel).mean(-1)
    var = jnp.maximum(0., mean_sq - mean * mean)
    mul = jnp.repeat(jax.lax.rsqrt(var + self.epsilon), per_channel, axis=-1) * scale
    mean = jnp.repeat(mean, per_channel, axis=-1)
    y = (xs - mean[:, None, None, :]) * mul[:, None, None, :] + bias
    return y.astype(self.dtype or jnp.promote_types(x.dtype, jnp.float32))


def group_norm(num_channels: int, num_groups: Optional[int] = None,
               dtype: Optional[Dtype] = None, name: Optional[str] = None) -> GroupNorm:
  """GroupNorm with eps 1e-6; `num_groups` defaults to min(C // 4, 32) as in NCSN++."""
  if num_groups is None:
    num_groups = min(num_channels // 4, 32)
  return GroupNorm(num_groups=num_groups, epsilon=1e-6, dtype=dtype, name=name)


def get_timestep_embedding(timesteps, embedding_dim: int, max_positions: int = 10000):
  """Sinusoidal embedding of a (batch,) vector of (possibly fractional) time steps.

  Half the channels are sin, half cos, at frequencies geometrically spaced
  from 1 to 1/max_positions (the Transformer / DDPM embedding); an odd
  `embedding_dim` is zero-padded. Computed in float32 whatever comes in.
  """
  if timesteps.ndim != 1:
    raise ValueError(f"timesteps must have shape (batch,), got {timesteps.shape}")
  half_dim = embedding_dim // 2
  if half_dim < 2:
    raise ValueError(f"embedding_dim must be at least 4, got {embedding_dim}")
  log_step = math.log(max_positions) / (half_dim - 1)
  freqs = jnp.exp(jnp.arange(half_dim, dtype=jnp.float32) * -log_step)
  args = timesteps.astype(jnp.float32)[:, None] * freqs[None, :]
  emb = jnp.concatenate([jnp.sin(args), jnp.cos(args)], axis=1)
  if embedding_dim % 2 == 1:
    emb = jnp.pad(emb, [[0, 0], [0, 1]])
  return emb


class UNetFields(nn.Module):
  """The fields the DDPM and NCSN++ U-Nets share (defaults: the original's CIFAR-10 DDPM)."""
  nf: int = 128
  ch_mult: Tuple[int, ...] = (1, 2, 2, 2)
  num_res_blocks: int = 2
  attn_resolutions: Tuple[int, ...] = (16,)
  dropout: float = 0.1
  resamp_with_conv: bool = True


def down_blocks(hs, resblock, attn, out_ch, num_res_blocks, attn_resolutions, temb, train):
  """One level of a U-Net's way down: `num_res_blocks` x (resblock(out_ch), attention at the
  `attn_resolutions`), each output appended to the skip list `hs`, the first fed hs[-1].

  Called inside the network's compact `__call__`: the blocks are its submodules.
  """
  for _ in range(num_res_blocks):
    h = resblock(out_ch)(hs[-1], temb, train)
    if h.shape[1] in attn_resolutions:
      h = attn()(h)
    hs.append(h)


class GaussianFourierProjection(nn.Module):
  """Random Fourier features of a scalar: [sin(2 pi W x), cos(2 pi W x)], W ~ N(0, scale^2).

  W is stored as a parameter (so it is saved with checkpoints and counted as
  in the original) but receives no gradient: it is a fixed random feature map.
  Output has 2 * embedding_size channels, float32.
  """
  embedding_size: int = 256
  scale: float = 1.

  @nn.compact
  def __call__(self, x):
    w = self.param('W', nn.initializers.normal(stddev=self.scale), (self.embedding_size,),
                   jnp.float32)
    w = jax.lax.stop_gradient(w)
    proj = x.astype(jnp.float32)[:, None] * w[None, :] * (2 * jnp.pi)
    return jnp.concatenate([jnp.sin(proj), jnp.cos(proj)], axis=-1)


def pixel_attention(q, k, v):
  """Single-head dot-product self-attention over all pixels of NHWC maps."""
  b, h, w, c = q.shape
  q = q.reshape(b, h * w, c)
  k = k.reshape(b, h * w, c)
  v = v.reshape(b, h * w, c)
  # The 1/sqrt(c) scale on q (b x hw x c) rather than on the logits (b x hw x hw).
  logits = jnp.einsum('bic,bjc->bij', q * (c ** -0.5), k)
  # Softmax in float32: in bfloat16 the normaliser loses too many bits.
  weights = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(v.dtype)
  return jnp.einsum('bij,bjc->bic', weights, v).reshape(b, h, w, c)


class _DenseParams(nn.Module):
  """The parameters of `dense(features, init_scale)` (same names, shapes and initial
  values), returned instead of applied: `qkv_projection` multiplies three at once."""
  features: int
  init_scale: float

  @nn.compact
  def __call__(self, in_features: int):
    kernel = self.param('kernel', default_init(self.init_scale), (in_features, self.features),
                        jnp.float32)
    bias = self.param('bias', nn.initializers.zeros, (self.features,), jnp.float32)
    return kernel, bias


def qkv_projection(h, dtype: Optional[Dtype] = None):
  """Queries, keys and values of an attention block: three `dense(C, 0.1)` maps of `h`
  (parameters Dense_0, Dense_1, Dense_2 of the calling module, as the original's NIN_0..2)
  computed as one matrix product with their concatenated kernels (one larger product is
  faster than three, forward and backward). Call inside a compact module; its output
  projection must then be named 'Dense_3'."""
  c = h.shape[-1]
  params = [_DenseParams(c, 0.1, name=f'Dense_{i}')(c) for i in range(3)]
  dtype = dtype or jnp.promote_types(h.dtype, jnp.float32)
  kernel = jnp.concatenate([k for k, _ in params], axis=1).astype(dtype)
  bias = jnp.concatenate([b for _, b in params]).astype(dtype)
  return jnp.split(jnp.dot(h.astype(dtype), kernel) + bias, 3, axis=-1)


class AttnBlock(nn.Module):
  """Channel-wise self-attention block of DDPM: x + NIN(attn(GroupNorm(x))).

  The output projection starts at (almost) zero so the block is initially
  the identity.
  """
  num_groups: Optional[int] = 32
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    h = group_norm(c, self.num_groups, self.dtype)(x)
    q, k, v = qkv_projection(h, self.dtype)
    h = pixel_attention(q, k, v)
    h = dense(c, 0., self.dtype, name='Dense_3')(h)
    return x + h


class Upsample(nn.Module):
  """Nearest-neighbour 2x upsampling, optionally followed by a 3x3 conv."""
  with_conv: bool = False
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x):
    if self.with_conv:
      return upsample_conv3x3(x.shape[-1], dtype=self.dtype)(x)
    return fir_ops.naive_upsample_2d(x, 2)


class Downsample(nn.Module):
  """2x downsampling: a stride-2 3x3 conv, or 2x2 average pooling.

  'SAME' padding of a stride-2 conv on an even size pads one row/column at
  the bottom/right only, which is what DDPM does.
  """
  with_conv: bool = False
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x):
    if self.with_conv:
      return conv3x3(x.shape[-1], stride=2, dtype=self.dtype)(x)
    return nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2), padding='SAME')


class ResnetBlockDDPM(nn.Module):
  """The residual block of DDPM, conditioned on an embedding through a channel bias.

  h = Conv(act(GN(x))) + Dense(act(temb)); h = Conv0(dropout(act(GN(h))));
  the shortcut is a 3x3 conv (`conv_shortcut`) or a NIN when channels change.
  With `skip_rescale` the sum is divided by sqrt(2) (DDPM++ uses it).
  `init_scale` scales the init of the last conv (0: the residual branch
  starts at ~0); `num_groups=None` means min(C // 4, 32) groups (DDPM++).
  """
  act: Any
  out_ch: Optional[int] = None
  conv_shortcut: bool = False
  dropout: float = 0.1
  skip_rescale: bool = False
  init_scale: float = 0.
  num_groups: Optional[int] = 32
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x, temb=None, train: bool = False):
    c = x.shape[-1]
    out_ch = self.out_ch if self.out_ch else c
    h = self.act(group_norm(c, self.num_groups, self.dtype)(x))
    h = conv3x3(out_ch, dtype=self.dtype)(h)
    if temb is not None:
      h = h + dense(out_ch, dtype=self.dtype)(self.act(temb))[:, None, None, :]
    h = self.act(group_norm(out_ch, self.num_groups, self.dtype)(h))
    h = Dropout(self.dropout)(h, deterministic=not train)
    h = conv3x3(out_ch, init_scale=self.init_scale, dtype=self.dtype)(h)
    if c != out_ch:
      if self.conv_shortcut:
        x = conv3x3(out_ch, dtype=self.dtype)(x)
      else:
        x = dense(out_ch, 0.1, self.dtype)(x)
    if self.skip_rescale:
      return (x + h) / math.sqrt(2.)
    return x + h
