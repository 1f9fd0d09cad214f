"""FIR up/down-sampling (models/upfirdn2d.py) against a loop-level NumPy reference."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import upfirdn2d as fir


def reference_upfirdn2d(x, k2, up, down, pad0, pad1):
  """upfirdn2d by definition, on NHWC float64 arrays, one loop per step.

  1. upsample: sample i goes to position i*up, the up-1 positions after it are 0;
  2. pad pad0 before / pad1 after on each spatial axis (negative crops);
  3. convolve (flipped kernel) over every full window;
  4. keep every down-th output, starting at 0.
  """
  n, h, w, c = x.shape
  upsampled = np.zeros((n, h * up, w * up, c))
  for i in range(h):
    for j in range(w):
      upsampled[:, i * up, j * up, :] = x[:, i, j, :]
  hp, wp = h * up + pad0 + pad1, w * up + pad0 + pad1
  padded = np.zeros((n, hp, wp, c))
  for i in range(hp):
    for j in range(wp):
      si, sj = i - pad0, j - pad0
      if 0 <= si < h * up and 0 <= sj < w * up:
        padded[:, i, j, :] = upsampled[:, si, sj, :]
  kh, kw = k2.shape
  flipped = k2[::-1, ::-1]
  full = np.zeros((n, hp - kh + 1, wp - kw + 1, c))
  for i in range(full.shape[1]):
    for j in range(full.shape[2]):
      for a in range(kh):
        for b in range(kw):
          full[:, i, j, :] += flipped[a, b] * padded[:, i + a, j + b, :]
  return full[:, ::down, ::down, :]


def reference_conv2d_same(x, w):
  """Zero-padded 'SAME' cross-correlation (odd square kernel), by loops."""
  kh = w.shape[0]
  r = kh // 2
  n, h, wd, _ = x.shape
  padded = np.pad(x, ((0, 0), (r, r), (r, r), (0, 0)))
  out = np.zeros((n, h, wd, w.shape[3]))
  for i in range(h):
    for j in range(wd):
      patch = padded[:, i:i + kh, j:j + kh, :]
      out[:, i, j, :] = np.einsum('nabc,abcd->nd', patch, w)
  return out


@pytest.fixture
def images():
  return np.random.default_rng(0).normal(size=(2, 6, 7, 3))


CASES = [
    # (kernel, up, down, pad0, pad1)
    ((1, 3, 3, 1), 2, 1, 2, 1),    # NCSN++ upsample_2d
    ((1, 3, 3, 1), 1, 2, 1, 1),    # NCSN++ downsample_2d
    ((1, 2, 1), 1, 1, 1, 1),       # plain filtering
    ((1, 3, 3, 1), 3, 2, 0, 3),    # up and down at once
    ((1, 1), 2, 1, 1, -1),         # negative pad crops
    ((1, 4, 6, 4, 1), 1, 3, -1, 2),
    ((1, 3, 3, 1), 3, 1, -1, 2),   # up by 3: phases of unequal length, cropped start
    ((1, 3, 3, 1), 2, 1, 0, 0),    # output length odd: the last phase is one shorter
]
# up == 1 or down == 1 runs the shifted-slice (polyphase) path, up and down at once the
# depthwise convolution: both are held to the same reference.


@pytest.mark.parametrize('k, up, down, pad0, pad1', CASES)
def test_separable_matches_reference(images, k, up, down, pad0, pad1):
  """A 1-D kernel (separable outer(k, k)) gives the reference upfirdn2d to 1e-12 in float64."""
  k = np.asarray(k, np.float64)
  out = fir.upfirdn2d(jnp.asarray(images), k, up=up, down=down, pad=(pad0, pad1))
  ref = reference_upfirdn2d(images, np.outer(k, k), up, down, pad0, pad1)
  assert out.dtype == jnp.float64
  assert out.shape == ref.shape
  np.testing.assert_allclose(np.asarray(out), ref, atol=1e-12)


@pytest.mark.parametrize('up, down, pad0, pad1', [(2, 1, 2, 1), (1, 2, 1, 2), (2, 2, 0, 0)])
def test_nonseparable_matches_reference(images, up, down, pad0, pad1):
  """A general (asymmetric) 2-D kernel gives the reference, so the flip convention is right."""
  k2 = np.random.default_rng(1).normal(size=(3, 4))
  out = fir.upfirdn2d(jnp.asarray(images), k2, up=up, down=down, pad=(pad0, pad1))
  ref = reference_upfirdn2d(images, k2, up, down, pad0, pad1)
  np.testing.assert_allclose(np.asarray(out), ref, atol=1e-12)


def test_asymmetric_1d_kernel_is_flipped(images):
  """An asymmetric separable kernel agrees with the reference (a true convolution, not correlation)."""
  k = np.array([1., 2., 5.])
  out = fir.upfirdn2d(jnp.asarray(images), k, up=1, down=1, pad=(2, 0))
  ref = reference_upfirdn2d(images, np.outer(k, k), 1, 1, 2, 0)
  np.testing.assert_allclose(np.asarray(out), ref, atol=1e-12)


def test_upsample_downsample_shapes_and_constants():
  """FIR up/down-sampling doubles/halves H, W and keeps an interior constant image constant."""
  x = jnp.full((1, 8, 8, 2), 3., jnp.float64)
  up = fir.upsample_2d(x, (1, 3, 3, 1))
  down = fir.downsample_2d(x, (1, 3, 3, 1))
  assert up.shape == (1, 16, 16, 2) and down.shape == (1, 4, 4, 2)
  np.testing.assert_allclose(np.asarray(up)[:, 2:-2, 2:-2], 3., atol=1e-12)
  np.testing.assert_allclose(np.asarray(down)[:, 1:-1, 1:-1], 3., atol=1e-12)


def test_default_kernels_are_nearest_and_average_pool(images):
  """Kernel [1, 1] gives nearest-neighbour upsampling and 2x2 average pooling exactly."""
  x = jnp.asarray(images[:, :6, :6])
  np.testing.assert_allclose(np.asarray(fir.upsample_2d(x, (1, 1))),
                             np.asarray(fir.naive_upsample_2d(x)), atol=1e-12)
  np.testing.assert_allclose(np.asarray(fir.downsample_2d(x, (1, 1))),
                             np.asarray(fir.naive_downsample_2d(x)), atol=1e-12)


def test_fused_upsample_conv_equals_upsample_then_conv_in_interior(images):
  """upsample_conv_2d = FIR upsample then 3x3 'SAME' conv (transposed), away from the border.

  The fused op pads once instead of twice, so only the border rows differ.
  """
  rng = np.random.default_rng(2)
  w = rng.normal(size=(3, 3, 3, 4))
  x = jnp.asarray(images)
  fused = np.asarray(fir.upsample_conv_2d(x, jnp.asarray(w), (1, 3, 3, 1)))
  assert fused.shape == (2, 12, 14, 4)
  two_step = reference_conv2d_same(np.asarray(fir.upsample_2d(x, (1, 3, 3, 1))), w)
  np.testing.assert_allclose(fused[:, 3:-3, 3:-3], two_step[:, 3:-3, 3:-3], atol=1e-10)


def test_fused_conv_downsample_equals_conv_then_downsample_in_interior(images):
  """conv_downsample_2d = 3x3 'SAME' conv then FIR downsample, away from the border."""
  rng = np.random.default_rng(3)
  w = rng.normal(size=(3, 3, 3, 4))
  x = jnp.asarray(np.concatenate([images, images], axis=1)[:, :12, :6])
  fused = np.asarray(fir.conv_downsample_2d(x, jnp.asarray(w), (1, 3, 3, 1)))
  assert fused.shape == (2, 6, 3, 4)
  two_step = np.asarray(fir.downsample_2d(jnp.asarray(reference_conv2d_same(np.asarray(x), w)),
                                          (1, 3, 3, 1)))
  np.testing.assert_allclose(fused[:, 1:-1, 1:-1], two_step[:, 1:-1, 1:-1], atol=1e-10)


def test_transposed_conv_is_scatter(images):
  """conv_transpose_2d(x, w)[s*i + (k-1-a)] = sum_i x[i] w[a] (adjoint of a strided correlation)."""
  rng = np.random.default_rng(4)
  w = rng.normal(size=(3, 3, 3, 2))
  x = images[:, :3, :4]
  out = np.asarray(fir.conv_transpose_2d(jnp.asarray(x), jnp.asarray(w), 2))
  ref = np.zeros((2, 2 * 2 + 3, 3 * 2 + 3, 2))
  for i in range(3):
    for j in range(4):
      for a in range(3):
        for b in range(3):
          ref[:, 2 * i + 2 - a, 2 * j + 2 - b, :] += x[:, i, j, :] @ w[a, b]
  np.testing.assert_allclose(out, ref, atol=1e-12)


def test_float32_stays_float32():
  """float32 images give float32 outputs (no promotion from the float64 kernel)."""
  x = jnp.ones((1, 4, 4, 2), jnp.float32)
  assert fir.upsample_2d(x).dtype == jnp.float32
  assert fir.downsample_2d(x).dtype == jnp.float32


def test_bad_inputs_raise():
  """Bad kernels and factors raise ValueError naming the problem."""
  x = jnp.ones((1, 4, 4, 1))
  with pytest.raises(ValueError, match='fir_kernel'):
    fir.fir_kernel_1d((1, -1))
  with pytest.raises(ValueError, match='up and down'):
    fir.upfirdn2d(x, np.ones(2), up=0)
  with pytest.raises(ValueError, match='NHWC'):
    fir.upfirdn2d(jnp.ones((4, 4)), np.ones(2))


@pytest.mark.parametrize('k', [1, 3, 5])
@pytest.mark.parametrize('factor', [2, 3])
def test_naive_upsample_conv_equals_upsampling_then_conv(k, factor):
  """naive_upsample_conv_2d(x, w) = 'SAME' conv of the nearest-upsampled x, borders included,
  and so are its gradients with respect to x and w (float64)."""
  rng = np.random.default_rng(k + 10 * factor)
  x = jnp.asarray(rng.normal(size=(2, 5, 4, 3)))
  w = jnp.asarray(rng.normal(size=(k, k, 3, 2)))
  g = jnp.asarray(rng.normal(size=(2, 5 * factor, 4 * factor, 2)))

  def reference(x, w):
    return jax.lax.conv_general_dilated(fir.naive_upsample_2d(x, factor), w, (1, 1), 'SAME',
                                        dimension_numbers=('NHWC', 'HWIO', 'NHWC'))

  def phased(x, w):
    return fir.naive_upsample_conv_2d(x, w, factor)

  out, vjp = jax.vjp(phased, x, w)
  ref, ref_vjp = jax.vjp(reference, x, w)
  assert out.shape == ref.shape == (2, 5 * factor, 4 * factor, 2)
  np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-12, atol=1e-12)
  for a, b in zip(vjp(g), ref_vjp(g)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-11)


def test_naive_upsample_conv_rejects_even_or_non_square_kernels():
  """The phase decomposition is for odd square kernels ('SAME' padding is then symmetric)."""
  x = jnp.zeros((1, 4, 4, 2))
  for shape in [(2, 2, 2, 3), (3, 1, 2, 3)]:
    with pytest.raises(ValueError, match='square with odd size'):
      fir.naive_upsample_conv_2d(x, jnp.zeros(shape))
