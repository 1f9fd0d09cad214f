"""The FID Inception-v3 network in Flax: pool3 features and logits for FID, KID and IS.

This is the 2015 TensorFlow Inception graph (`inception-2015-12-05`) that
TF-GAN's FID and the original FID/IS code use, in the layout of its PyTorch
port in pytorch-fid (`FIDInceptionA/C/E_1/E_2`): torchvision's Inception-v3
with 1008-way logits, average pools that do not count padding, and a max pool
in the last block. With pytorch-fid's converted weights it gives its features
to float32 round-off, so FIDs computed here are comparable with published ones.

Inputs follow pytorch-fid: images in [0, 1] (or uint8 in [0, 255]) are
resized bilinearly (half-pixel centres, no antialiasing: torch's
`interpolate(..., align_corners=False)`) to 299 x 299 and scaled to [-1, 1].
Layout is NHWC. Each convolution's BatchNorm is folded into the convolution's
kernel and bias by `evaluation.tools.convert_inception`, since the network is only
ever used for inference.

Weights are never downloaded: `load_params(path)` reads the .npz that
`python -m evaluation.tools.convert_inception` writes from pytorch-fid's weight file.
"""
from __future__ import annotations

import functools
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from utils import params_npz

FID_WEIGHTS_URL = ('https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/'
                   'pt_inception-2015-12-05-6726825d.pth')
INPUT_SIZE = 299
NUM_CLASSES = 1008
FEATURE_DIM = 2048

HOW_TO_GET_WEIGHTS = (
    "This project never downloads weights. Fetch pytorch-fid's FID Inception weight file "
    f"yourself from {FID_WEIGHTS_URL} , convert it with "
    "`python -m evaluation.tools.convert_inception pt_inception-2015-12-05-6726825d.pth "
    "inception_fid.npz` (needs torch, for the conversion only), and point "
    "config.eval.inception_weights at the .npz.")


def _pair(v):
  return (v, v) if isinstance(v, int) else tuple(v)


class _Block(nn.Module):
  """Shared helper: a convolution (BatchNorm folded in) followed by ReLU."""
  precision: str = 'highest'

  def conv(self, x, name, features, kernel, strides=1, padding=0):
    pad_h, pad_w = _pair(padding)
    y = nn.Conv(features, _pair(kernel), strides=_pair(strides),
                padding=((pad_h, pad_h), (pad_w, pad_w)), use_bias=True,
                precision=self.precision, dtype=jnp.float32, param_dtype=jnp.float32,
                name=name)(x)
    return nn.relu(y)


def _avg_pool_3x3(x):
  # TF's average pool ignores the padded zeros (pytorch-fid's count_include_pad=False).
  return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_stride2(x):
  return nn.max_pool(x, (3, 3), strides=(2, 2), padding='VALID')


class InceptionA(_Block):
  pool_features: int = 32

  @nn.compact
  def __call__(self, x):
    b1 = self.conv(x, 'branch1x1', 64, 1)
    b5 = self.conv(x, 'branch5x5_1', 48, 1)
    b5 = self.conv(b5, 'branch5x5_2', 64, 5, padding=2)
    b3 = self.conv(x, 'branch3x3dbl_1', 64, 1)
    b3 = self.conv(b3, 'branch3x3dbl_2', 96, 3, padding=1)
    b3 = self.conv(b3, 'branch3x3dbl_3', 96, 3, padding=1)
    bp = self.conv(_avg_pool_3x3(x), 'branch_pool', self.pool_features, 1)
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(_Block):

  @nn.compact
  def __call__(self, x):
    b3 = self.conv(x, 'branch3x3', 384, 3, strides=2)
    bd = self.conv(x, 'branch3x3dbl_1', 64, 1)
    bd = self.conv(bd, 'branch3x3dbl_2', 96, 3, padding=1)
    bd = self.conv(bd, 'branch3x3dbl_3', 96, 3, strides=2)
    return jnp.concatenate([b3, bd, _max_pool_3x3_stride2(x)], axis=-1)


class InceptionC(_Block):
  channels_7x7: int = 128

  @nn.compact
  def __call__(self, x):
    c7 = self.channels_7x7
    b1 = self.conv(x, 'branch1x1', 192, 1)
    b7 = self.conv(x, 'branch7x7_1', c7, 1)
    b7 = self.conv(b7, 'branch7x7_2', c7, (1, 7), padding=(0, 3))
    b7 = self.conv(b7, 'branch7x7_3', 192, (7, 1), padding=(3, 0))
    bd = self.conv(x, 'branch7x7dbl_1', c7, 1)
    bd = self.conv(bd, 'branch7x7dbl_2', c7, (7, 1), padding=(3, 0))
    bd = self.conv(bd, 'branch7x7dbl_3', c7, (1, 7), padding=(0, 3))
    bd = self.conv(bd, 'branch7x7dbl_4', c7, (7, 1), padding=(3, 0))
    bd = self.conv(bd, 'branch7x7dbl_5', 192, (1, 7), padding=(0, 3))
    bp = self.conv(_avg_pool_3x3(x), 'branch_pool', 192, 1)
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(_Block):

  @nn.compact
  def __call__(self, x):
    b3 = self.conv(x, 'branch3x3_1', 192, 1)
    b3 = self.conv(b3, 'branch3x3_2', 320, 3, strides=2)
    b7 = self.conv(x, 'branch7x7x3_1', 192, 1)
    b7 = self.conv(b7, 'branch7x7x3_2', 192, (1, 7), padding=(0, 3))
    b7 = self.conv(b7, 'branch7x7x3_3', 192, (7, 1), padding=(3, 0))
    b7 = self.conv(b7, 'branch7x7x3_4', 192, 3, strides=2)
    return jnp.concatenate([b3, b7, _max_pool_3x3_stride2(x)], axis=-1)


class InceptionE(_Block):
  # 'avg' in Mixed_7b; the FID graph's Mixed_7c max-pools here (pytorch-fid's FIDInceptionE_2).
  pool: str = 'avg'

  @nn.compact
  def __call__(self, x):
    b1 = self.conv(x, 'branch1x1', 320, 1)
    b3 = self.conv(x, 'branch3x3_1', 384, 1)
    b3 = jnp.concatenate([self.conv(b3, 'branch3x3_2a', 384, (1, 3), padding=(0, 1)),
                          self.conv(b3, 'branch3x3_2b', 384, (3, 1), padding=(1, 0))], axis=-1)
    bd = self.conv(x, 'branch3x3dbl_1', 448, 1)
    bd = self.conv(bd, 'branch3x3dbl_2', 384, 3, padding=1)
    bd = jnp.concatenate([self.conv(bd, 'branch3x3dbl_3a', 384, (1, 3), padding=(0, 1)),
                          self.conv(bd, 'branch3x3dbl_3b', 384, (3, 1), padding=(1, 0))], axis=-1)
    if self.pool == 'avg':
      pooled = _avg_pool_3x3(x)
    else:
      pooled = nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))
    bp = self.conv(pooled, 'branch_pool', 192, 1)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class InceptionV3(_Block):
  """FID Inception-v3 on inputs already resized and scaled to [-1, 1], NHWC.

  Returns (pool3 (B, 2048), logits (B, 1008)). Parameter names are
  torchvision's module names (`Mixed_5b/branch1x1/kernel`), which is what the
  converter relies on. `precision` is the convolutions' matmul precision:
  'highest' keeps float32 on GPUs that would otherwise use TF32.
  """

  @nn.compact
  def __call__(self, x):
    p = self.precision
    x = self.conv(x, 'Conv2d_1a_3x3', 32, 3, strides=2)
    x = self.conv(x, 'Conv2d_2a_3x3', 32, 3)
    x = self.conv(x, 'Conv2d_2b_3x3', 64, 3, padding=1)
    x = _max_pool_3x3_stride2(x)
    x = self.conv(x, 'Conv2d_3b_1x1', 80, 1)
    x = self.conv(x, 'Conv2d_4a_3x3', 192, 3)
    x = _max_pool_3x3_stride2(x)
    x = InceptionA(pool_features=32, precision=p, name='Mixed_5b')(x)
    x = InceptionA(pool_features=64, precision=p, name='Mixed_5c')(x)
    x = InceptionA(pool_features=64, precision=p, name='Mixed_5d')(x)
    x = InceptionB(precision=p, name='Mixed_6a')(x)
    x = InceptionC(channels_7x7=128, precision=p, name='Mixed_6b')(x)
    x = InceptionC(channels_7x7=160, precision=p, name='Mixed_6c')(x)
    x = InceptionC(channels_7x7=160, precision=p, name='Mixed_6d')(x)
    x = InceptionC(channels_7x7=192, precision=p, name='Mixed_6e')(x)
    x = InceptionD(precision=p, name='Mixed_7a')(x)
    x = InceptionE(pool='avg', precision=p, name='Mixed_7b')(x)
    x = InceptionE(pool='max', precision=p, name='Mixed_7c')(x)
    pool3 = jnp.mean(x, axis=(1, 2))
    logits = nn.Dense(NUM_CLASSES, precision=p, dtype=jnp.float32, param_dtype=jnp.float32,
                      name='fc')(pool3)
    return pool3, logits


# ------------------------------------------------------------------ parameters


@functools.lru_cache(maxsize=None)
def param_shapes():
  """The parameter pytree's shapes and dtypes (jax.ShapeDtypeStruct), computed abstractly."""
  dummy = jax.ShapeDtypeStruct((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32)
  return jax.eval_shape(InceptionV3().init, jax.random.PRNGKey(0), dummy)['params']


def init_params(seed: int = 0):
  """Random parameters, for tests and timing only: He-normal kernels, zero biases.

  Drawn with numpy from the abstract shapes: jit-compiling flax's init of this
  network takes minutes on a CPU, for weights nobody keeps.
  """
  rng = np.random.default_rng(seed)

  def draw(path, leaf):
    if path[-1].key == 'bias':
      return jnp.zeros(leaf.shape, jnp.float32)
    fan_in = int(np.prod(leaf.shape[:-1]))
    return jnp.asarray(rng.normal(0., np.sqrt(2. / fan_in), leaf.shape).astype(np.float32))

  return jax.tree_util.tree_map_with_path(draw, param_shapes())


def flatten_params(params):
  """{'Mixed_5b/branch1x1/kernel': array, ...}, the .npz layout (`utils.params_npz`)."""
  return params_npz.flatten(params)


def unflatten_params(flat):
  """Inverse of `flatten_params`, after checking the names and shapes are the network's."""
  return params_npz.from_flat(flat, param_shapes(), 'FID Inception parameters')


def load_params(path):
  """Reads the converted FID Inception weights (.npz from `evaluation.tools.convert_inception`).

  Raises FileNotFoundError, saying how to obtain and convert the weights,
  when `path` is empty or does not exist.
  """
  if not path:
    raise FileNotFoundError(f"no FID Inception weight file given (config.eval.inception_weights "
                            f"is {path!r}). {HOW_TO_GET_WEIGHTS}")
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f"FID Inception weight file {path!r} does not exist. "
                            f"{HOW_TO_GET_WEIGHTS}")
  return params_npz.load(path, param_shapes(), 'FID Inception parameters')


def save_params(params, path):
  """Writes parameters as the .npz `load_params` reads (float32, atomically)."""
  params_npz.save(path, params)


# ------------------------------------------------------------------ features


def _resize_matrix(in_size: int, out_size: int) -> np.ndarray:
  """(out_size, in_size) linear interpolation weights of torch's bilinear resize.

  torch.nn.functional.interpolate(mode='bilinear', align_corners=False) samples
  output pixel i at source coordinate (i + 0.5) * in/out - 0.5, clamped at 0,
  between its floor and the next pixel (clamped at the edge), without
  antialiasing when shrinking. The coordinates are computed in float32 as torch
  does on CPU, so the weights are bit-identical. Separable: a 2-d resize is
  two matmuls.
  """
  f32 = np.float32
  scale = f32(in_size) / f32(out_size)
  src = np.maximum(scale * (np.arange(out_size, dtype=f32) + f32(0.5)) - f32(0.5), f32(0.))
  lo = np.minimum(src.astype(np.int64), in_size - 1)
  hi = np.minimum(lo + 1, in_size - 1)
  frac = src - lo.astype(f32)
  weights = np.zeros((out_size, in_size), f32)
  np.add.at(weights, (np.arange(out_size), lo), f32(1.) - frac)
  np.add.at(weights, (np.arange(out_size), hi), frac)
  return weights


@jax.jit
def preprocess(images):
  """Images (B, H, W, C) in [0, 1] (float) or [0, 255] (uint8), C in {1, 3}, to the
  network's input: (B, 299, 299, 3) float32 in [-1, 1]. Grayscale is repeated to RGB."""
  if images.dtype == jnp.uint8:
    x = images.astype(jnp.float32) / 255.
  else:
    x = images.astype(jnp.float32)
  if x.shape[-1] == 1:
    x = jnp.repeat(x, 3, axis=-1)
  rows = jnp.asarray(_resize_matrix(x.shape[1], INPUT_SIZE))
  cols = jnp.asarray(_resize_matrix(x.shape[2], INPUT_SIZE))
  hp = jax.lax.Precision.HIGHEST
  x = jnp.einsum('oh,bhwc->bowc', rows, x, precision=hp)
  x = jnp.einsum('pw,bowc->bopc', cols, x, precision=hp)
  return 2. * x - 1.


@functools.partial(jax.jit, static_argnames='precision')
def apply_network(params, x, precision: str = 'highest'):
  """The network on preprocessed input: (pool3 (B, 2048), logits (B, 1008)), float32."""
  return InceptionV3(precision=precision).apply({'params': params}, x)


def _check_images(images):
  shape, dtype = np.shape(images), getattr(images, 'dtype', np.asarray(images).dtype)
  if len(shape) != 4 or shape[-1] not in (1, 3):
    raise ValueError(f"images must have shape (batch, height, width, channels) with 1 or 3 "
                     f"channels (NHWC), got shape {shape}")
  if not (dtype == np.uint8 or jnp.issubdtype(dtype, jnp.floating)):
    raise ValueError(f"images must be uint8 in [0, 255] or floating point in [0, 1], got dtype "
                     f"{dtype}")
  if min(shape[1:3]) < 1 or shape[0] < 1:
    raise ValueError(f"images must be non-empty, got shape {shape}")


def inception_features(params, images, precision: str = 'highest'):
  """pool3 features and logits of the FID Inception network, as pytorch-fid computes them.

  Args:
    params: from `load_params` (or `init_params` for timing).
    images: (B, H, W, C) NHWC, C in {1, 3}; uint8 in [0, 255] or float in
      [0, 1] (model space with `data.centered` must be mapped back to [0, 1]
      first). Values are not range-checked, to keep this asynchronous. Any
      batch size and image size; each new shape compiles once.
    precision: matmul precision of the network ('highest', or 'default' to
      allow TF32 on GPUs, faster but not bit-comparable).
  Returns:
    (pool3 (B, 2048), logits (B, 1008)), float32 jax arrays.
  """
  _check_images(images)
  return apply_network(params, preprocess(jnp.asarray(images)), precision=precision)
