"""FIR up/down-sampling of NHWC images (StyleGAN2's `upfirdn2d`) in pure JAX.

`upfirdn2d(x, k, up, down, pad)` upsamples each channel by inserting `up - 1`
zeros after every sample, pads (negative pads crop), convolves with the FIR
kernel `k` (a true convolution: the kernel is flipped) and keeps every
`down`-th sample. NCSN++ uses it with the binomial kernel (1, 3, 3, 1) for
anti-aliased resampling (`fir=True`) and fused with 3x3 convolutions.

A 1-D kernel is applied separably (first along H, then along W), which
costs 2k instead of k^2 multiply-adds per output and is what every NCSN++
config uses. Along each axis, pure upsampling or pure downsampling (all that
NCSN++ does) is a weighted sum of shifted, strided slices of the input, one
per tap and output phase (polyphase form): no zero-filled intermediate, and
XLA fuses it into one elementwise loop. On CPU that is 25-32x faster
(value and gradient) than the same filter as a depthwise convolution with
lhs_dilation (benchmarks/upfirdn2d.py). Up- and downsampling at once, and
2-D kernels, use the depthwise convolution (`feature_group_count = C`).
"""
from typing import Sequence, Tuple, Union

import jax.numpy as jnp
import numpy as np
from jax import lax

Pad = Union[int, Tuple[int, int]]


def _pair(pad: Pad) -> Tuple[int, int]:
  if isinstance(pad, (int, np.integer)):
    return int(pad), int(pad)
  pad0, pad1 = pad
  return int(pad0), int(pad1)


def fir_kernel_1d(k: Sequence[float]) -> np.ndarray:
  """The 1-D factor of a separable FIR kernel, normalised so the 2-D kernel sums to 1."""
  k = np.asarray(k, dtype=np.float64)
  if k.ndim != 1 or k.size == 0:
    raise ValueError(f"fir_kernel must be a non-empty 1-D sequence, got shape {k.shape}")
  total = k.sum()
  if total == 0:
    raise ValueError(f"fir_kernel={tuple(k.tolist())} sums to 0; it cannot be normalised")
  return k / total


def _shifted_sum(x, weights, offsets, axis: int, count: int, stride: int = 1):
  """sum_i weights[i] * x[offsets[i] + stride * q] for q < count along `axis`, zeros outside x."""
  n = x.shape[axis]
  lo = max(0, -min(offsets))
  hi = max(0, max(offsets) + stride * (count - 1) + 1 - n)
  if lo or hi:
    widths = [(0, 0)] * x.ndim
    widths[axis] = (lo, hi)
    x = jnp.pad(x, widths)
  total = None
  for w, off in zip(weights, offsets):
    start = lo + off
    term = lax.slice_in_dim(x, start, start + stride * (count - 1) + 1, stride, axis) * w
    total = term if total is None else total + term
  return total


def _filter_axis_polyphase(x, k1, axis: int, up: int, down: int, pad: Tuple[int, int]):
  """_filter_axis by shifted slices and a weighted sum (no convolution), for up == 1 or down == 1.

  out[o] = sum_j w[j] u[o * down + j] with w the flipped kernel and u the
  zero-inserted, padded input: u[m] = x[(m - pad0) / up] when up divides
  m - pad0. With up == 1 each tap is one strided slice of x; with up > 1,
  output phase r (o = q * up + r) only meets the taps j for which up divides
  r + j - pad0, each one slice of x, and the phases are interleaved. XLA
  fuses the whole sum into one elementwise loop; its gradient is slices and
  pads too. On CPU this is much faster than a depthwise convolution with
  lhs_dilation (benchmarks/upfirdn2d.py).
  """
  n = x.shape[axis]
  pad0, pad1 = pad
  taps = k1.shape[0]
  w = np.asarray(k1[::-1], np.float64)
  n_out = (n * up + pad0 + pad1 - taps) // down + 1
  if n_out < 1:
    raise ValueError(f"upfirdn2d output would be empty along axis {axis} (length {n}, "
                     f"up={up}, down={down}, pad={pad}, {taps} taps)")
  if up == 1:
    return _shifted_sum(x, [x.dtype.type(v) for v in w], [j - pad0 for j in range(taps)],
                        axis, n_out, down)
  phases = []
  count = -(-n_out // up)           # outputs per phase (the last phases may be one shorter)
  for r in range(up):
    js = [j for j in range(taps) if (r + j - pad0) % up == 0]
    if not js:
      shape = list(x.shape)
      shape[axis] = count
      phases.append(jnp.zeros(shape, x.dtype))
      continue
    phases.append(_shifted_sum(x, [x.dtype.type(w[j]) for j in js],
                               [(r + j - pad0) // up for j in js], axis, count))
  out = jnp.stack(phases, axis=axis + 1)
  shape = list(x.shape)
  shape[axis] = count * up
  out = out.reshape(shape)
  return lax.slice_in_dim(out, 0, n_out, axis=axis)


def _filter_axis(x, k1, axis: int, up: int, down: int, pad: Tuple[int, int]):
  """upfirdn along one spatial axis (1 = H, 2 = W) of an NHWC array with 1-D kernel k1."""
  if up == 1 or down == 1:
    return _filter_axis_polyphase(x, k1, axis, up, down, pad)
  return _filter_axis_conv(x, k1, axis, up, down, pad)


def _filter_axis_conv(x, k1, axis: int, up: int, down: int, pad: Tuple[int, int]):
  """_filter_axis as a depthwise convolution (any up and down)."""
  c = x.shape[-1]
  n = x.shape[axis]
  pad0, pad1 = pad
  # Zero insertion by lhs_dilation gives (n - 1) * up + 1 samples; upfirdn
  # also has up - 1 trailing zeros, which are extra padding at the end.
  pad1 = pad1 + (up - 1)
  # Negative padding crops: do it on the input side explicitly so the
  # convolution only sees non-negative pads.
  if pad0 < 0 or pad1 < 0:
    dilated = (n - 1) * up + 1
    start = max(-pad0, 0)
    stop = dilated - max(-pad1, 0)
    if up == 1:
      x = lax.slice_in_dim(x, start, stop, axis=axis)
    else:
      # Crop of a dilated array: materialise the zero insertion once.
      shape = list(x.shape)
      shape[axis] = dilated
      z = jnp.zeros(shape, x.dtype)
      idx = [slice(None)] * 4
      idx[axis] = slice(0, dilated, up)
      x = z.at[tuple(idx)].set(x)
      x = lax.slice_in_dim(x, start, stop, axis=axis)
      up = 1
    pad0, pad1 = max(pad0, 0), max(pad1, 0)
  taps = k1.shape[0]
  # True convolution = correlation with the reversed kernel.
  w = jnp.asarray(k1[::-1], dtype=x.dtype)
  shape = (taps, 1, 1, 1) if axis == 1 else (1, taps, 1, 1)
  w = jnp.broadcast_to(w.reshape(shape), shape[:3] + (c,))
  strides = (down, 1) if axis == 1 else (1, down)
  dilation = (up, 1) if axis == 1 else (1, up)
  padding = ((pad0, pad1), (0, 0)) if axis == 1 else ((0, 0), (pad0, pad1))
  return lax.conv_general_dilated(
      x, w, window_strides=strides, padding=padding, lhs_dilation=dilation,
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'), feature_group_count=c)


def upfirdn2d(x, k, up: int = 1, down: int = 1, pad: Pad = (0, 0)):
  """Upsample, pad, FIR-filter and downsample NHWC images (same on H and W).

  Args:
    x: (N, H, W, C) images.
    k: FIR kernel: 1-D (applied separably along H and W, i.e. the 2-D kernel
      is outer(k, k)) or 2-D (kh, kw). Used as given: no normalisation.
    up, down: integer up/down-sampling factors.
    pad: (before, after) padding of the upsampled signal on each spatial axis
      (an int pads both sides); negative values crop.

  Returns:
    (N, (H*up + pad0 + pad1 - kh) // down + 1, ..., C) in x's dtype.
  """
  if x.ndim != 4:
    raise ValueError(f"x must be NHWC (4-D), got shape {x.shape}")
  if int(up) != up or up < 1 or int(down) != down or down < 1:
    raise ValueError(f"up and down must be integers >= 1, got up={up}, down={down}")
  up, down = int(up), int(down)
  pad = _pair(pad)
  k = np.asarray(k, dtype=np.float64)
  if k.ndim == 1:
    x = _filter_axis(x, k, 1, up, down, pad)
    return _filter_axis(x, k, 2, up, down, pad)
  if k.ndim != 2:
    raise ValueError(f"FIR kernel must be 1-D or 2-D, got shape {k.shape}")
  # A general 2-D kernel: one depthwise convolution.
  c = x.shape[-1]
  pad0, pad1 = pad
  if min(pad0, pad1) < 0:
    raise ValueError(f"negative pad={pad} is only supported for separable (1-D) kernels")
  w = jnp.asarray(k[::-1, ::-1], dtype=x.dtype)[:, :, None, None]
  w = jnp.broadcast_to(w, k.shape + (1, c))
  p = (pad0, pad1 + up - 1)
  return lax.conv_general_dilated(
      x, w, window_strides=(down, down), padding=(p, p), lhs_dilation=(up, up),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'), feature_group_count=c)


def upsample_2d(x, k=(1, 3, 3, 1), factor: int = 2, gain: float = 1.):
  """FIR upsampling by `factor`: a constant image stays constant (times `gain`)."""
  k1 = fir_kernel_1d(k) * np.sqrt(gain * factor ** 2)
  p = k1.shape[0] - factor
  return upfirdn2d(x, k1, up=factor, pad=((p + 1) // 2 + factor - 1, p // 2))


def downsample_2d(x, k=(1, 3, 3, 1), factor: int = 2, gain: float = 1.):
  """FIR downsampling by `factor` (the default kernel [1]*factor is average pooling)."""
  k1 = fir_kernel_1d(k) * np.sqrt(gain)
  p = k1.shape[0] - factor
  return upfirdn2d(x, k1, down=factor, pad=((p + 1) // 2, p // 2))


def conv_transpose_2d(x, w, factor: int = 2):
  """Fractionally strided VALID convolution: correlate the zero-inserted input with w.

  out[s*i + (kh-1-a)] += x[i] w[a]: the adjoint of a stride-s correlation
  with w, so that upsampling then convolving with w keeps w's orientation.
  x (N, H, W, Cin), w (kh, kw, Cin, Cout) -> (N, (H-1)*s + kh, (W-1)*s + kw, Cout).
  """
  kh, kw = w.shape[:2]
  return lax.conv_general_dilated(
      x, w, window_strides=(1, 1),
      padding=((kh - 1, kh - 1), (kw - 1, kw - 1)), lhs_dilation=(factor, factor),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


def upsample_conv_2d(x, w, k=(1, 3, 3, 1), factor: int = 2, gain: float = 1.):
  """Upsampling fused with a convolution (StyleGAN2): transposed conv, then one FIR pass.

  Equivalent to FIR-upsampling then convolving with w, but the padding is
  applied once, so the output is exactly (H*factor, W*factor).
  """
  kh, kw = w.shape[:2]
  if kh != kw or kh % 2 != 1:
    raise ValueError(f"conv kernel must be square with odd size, got {w.shape[:2]}")
  k1 = fir_kernel_1d(k) * np.sqrt(gain * factor ** 2)
  p = (k1.shape[0] - factor) - (kw - 1)
  x = conv_transpose_2d(x, w, factor)
  return upfirdn2d(x, k1, pad=((p + 1) // 2 + factor - 1, p // 2 + 1))


def conv_downsample_2d(x, w, k=(1, 3, 3, 1), factor: int = 2, gain: float = 1.):
  """A convolution fused with FIR downsampling (StyleGAN2): one FIR pass, then a strided conv."""
  kh, kw = w.shape[:2]
  if kh != kw or kh % 2 != 1:
    raise ValueError(f"conv kernel must be square with odd size, got {w.shape[:2]}")
  k1 = fir_kernel_1d(k) * np.sqrt(gain)
  p = (k1.shape[0] - factor) + (kw - 1)
  x = upfirdn2d(x, k1, pad=((p + 1) // 2, p // 2))
  return lax.conv_general_dilated(
      x, w, window_strides=(factor, factor), padding='VALID',
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


def naive_upsample_2d(x, factor: int = 2):
  """Nearest-neighbour upsampling (each pixel repeated factor x factor times)."""
  n, h, w, c = x.shape
  x = jnp.broadcast_to(x[:, :, None, :, None, :], (n, h, factor, w, factor, c))
  return x.reshape(n, h * factor, w * factor, c)


def _nearest_phase_taps(k: int, factor: int):
  """For each output phase a of a SAME correlation (odd size k) of a nearest-upsampled signal:
  (lo, hi, groups): it reads input offsets lo..hi, and groups[r] lists the kernel taps that
  read offset lo + r.

  Output sample factor*i + a reads upsampled samples factor*i + a + d - (k-1)/2, which are input
  samples i + floor((a + d - (k-1)/2) / factor).
  """
  p = (k - 1) // 2
  phases = []
  for a in range(factor):
    offsets = [(a + d - p) // factor for d in range(k)]
    lo, hi = offsets[0], offsets[-1]
    groups = [[d for d in range(k) if offsets[d] == lo + r] for r in range(hi - lo + 1)]
    phases.append((lo, hi, groups))
  return phases


def _sum_taps(w, groups, axis):
  """Stack along `axis` of the sums of w's slices (along `axis`) listed in each group."""
  def tap_sum(taps):
    total = lax.index_in_dim(w, taps[0], axis, keepdims=False)
    for d in taps[1:]:
      total = total + lax.index_in_dim(w, d, axis, keepdims=False)
    return total
  return jnp.stack([tap_sum(taps) for taps in groups], axis=axis)


def naive_upsample_conv_2d(x, w, factor: int = 2, precision=None):
  """`conv(naive_upsample_2d(x, factor), w)` with 'SAME' padding, without the upsampled input.

  Each output phase (a, b) (rows factor*i + a, columns factor*j + b) is a
  correlation of x itself with w's taps summed over the ones that read the
  same input pixel: for a 3x3 kernel and factor 2, four 2x2 convolutions at
  the input resolution, 4/9 of the multiply-adds of the convolution at the
  upsampled resolution, and no gradient summed back over factor x factor
  blocks. Zero padding at the input resolution is zero padding of the
  upsampled image, so the result is the same at the borders too.
  x (N, H, W, Cin), w (k, k, Cin, Cout) with k odd -> (N, factor*H, factor*W, Cout).
  """
  kh, kw = w.shape[:2]
  if kh != kw or kh % 2 != 1:
    raise ValueError(f"conv kernel must be square with odd size, got {w.shape[:2]}")
  if int(factor) != factor or factor < 1:
    raise ValueError(f"factor must be an integer >= 1, got {factor}")
  factor = int(factor)
  n, h, wd, _ = x.shape
  phases = _nearest_phase_taps(kh, factor)
  rows = []
  for lo_a, hi_a, groups_a in phases:
    w_a = _sum_taps(w, groups_a, 0)
    cols = []
    for lo_b, hi_b, groups_b in phases:
      wab = _sum_taps(w_a, groups_b, 1)
      cols.append(lax.conv_general_dilated(
          x, wab, window_strides=(1, 1), padding=((-lo_a, hi_a), (-lo_b, hi_b)),
          dimension_numbers=('NHWC', 'HWIO', 'NHWC'), precision=precision))
    rows.append(jnp.stack(cols, axis=3))          # (N, H, W, factor_b, Cout)
  y = jnp.stack(rows, axis=2)                     # (N, H, factor_a, W, factor_b, Cout)
  return y.reshape(n, factor * h, factor * wd, y.shape[-1])


def naive_downsample_2d(x, factor: int = 2):
  """Average pooling over non-overlapping factor x factor blocks."""
  n, h, w, c = x.shape
  if h % factor or w % factor:
    raise ValueError(f"spatial size {(h, w)} is not divisible by factor={factor}")
  return x.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))
