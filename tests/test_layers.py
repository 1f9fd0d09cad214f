"""Layers rewritten for speed (issue 16) against what they replace, with the same parameters:
models.layers.GroupNorm (flax.linen.GroupNorm), qkv_projection (three dense layers), the
convolutions after nearest upsampling (computed per output phase), and Dropout (flax's call,
its own mask)."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import layers, layerspp


def _perturbed(params, seed):
  """Non-trivial scale / bias so the affine part is exercised too."""
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
  return jax.tree.unflatten(tree, [l + 0.3 * jax.random.normal(k, l.shape, l.dtype)
                                   for l, k in zip(leaves, keys)])


@pytest.mark.parametrize('shape,groups', [((3, 5, 4, 8), 2), ((2, 8, 8, 32), 8),
                                          ((2, 4, 4, 64), 32), ((1, 3, 3, 6), 6)])
def test_group_norm_equals_flax_in_float64(shape, groups):
  """Same parameters tree, and the same function to float64 rounding (values and gradients
  with respect to input and parameters), on inputs with a large mean (the E[x^2] - mean^2
  variance both use)."""
  with jax.enable_x64():
    x = jax.random.normal(jax.random.PRNGKey(0), shape, jnp.float64) * 3. + 2.
    ours = layers.GroupNorm(num_groups=groups, epsilon=1e-6)
    ref = nn.GroupNorm(num_groups=groups, epsilon=1e-6, param_dtype=jnp.float64)
    p_ref = _perturbed(ref.init(jax.random.PRNGKey(1), x), 2)
    p_ours = ours.init(jax.random.PRNGKey(1), x)
    assert jax.tree.map(jnp.shape, p_ours) == jax.tree.map(jnp.shape, p_ref)
    np.testing.assert_allclose(ours.apply(p_ref, x), ref.apply(p_ref, x), rtol=1e-12, atol=1e-12)
    w = jax.random.normal(jax.random.PRNGKey(3), shape, jnp.float64)
    loss = lambda m: lambda p, x: jnp.sum(jnp.tanh(m.apply(p, x)) * w)
    g_ours = jax.grad(loss(ours), argnums=(0, 1))(p_ref, x)
    g_ref = jax.grad(loss(ref), argnums=(0, 1))(p_ref, x)
    for a, b in zip(jax.tree.leaves(g_ours), jax.tree.leaves(g_ref)):
      np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_group_norm_float32_and_bfloat16():
  """float32: flax's values to float32 rounding. bfloat16 input: statistics in float32, the
  output in the requested dtype (else float32, as flax promotes with the float32 parameters)."""
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 32)) * 2. + 1.
  ref = nn.GroupNorm(num_groups=8, epsilon=1e-6)
  p = _perturbed(ref.init(jax.random.PRNGKey(1), x), 2)
  np.testing.assert_allclose(layers.GroupNorm(8).apply(p, x), ref.apply(p, x), rtol=2e-5,
                             atol=2e-5)
  xb = x.astype(jnp.bfloat16)
  assert layers.GroupNorm(8).apply(p, xb).dtype == jnp.float32
  yb = layers.GroupNorm(8, dtype=jnp.bfloat16).apply(p, xb)
  assert yb.dtype == jnp.bfloat16
  np.testing.assert_allclose(yb.astype(jnp.float32), ref.apply(p, xb.astype(jnp.float32)),
                             rtol=0.02, atol=0.05)


def test_group_norm_rejects_channels_not_divisible():
  with pytest.raises(ValueError, match='num_groups=4.*got 6 channels'):
    layers.GroupNorm(4).init(jax.random.PRNGKey(0), jnp.zeros((1, 2, 2, 6)))


class _ThreeDense(nn.Module):
  """The attention blocks' projections as they were written before: three dense layers."""

  @nn.compact
  def __call__(self, h):
    c = h.shape[-1]
    return [layers.dense(c, 0.1)(h) for _ in range(3)]


class _Fused(nn.Module):
  @nn.compact
  def __call__(self, h):
    return layers.qkv_projection(h)


def test_qkv_projection_is_three_dense_layers():
  """Same parameter names, shapes and initial values (Dense_0..2) as three `dense(C, 0.1)`,
  and the same outputs."""
  h = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 4, 16))
  p_old = _ThreeDense().init(jax.random.PRNGKey(5), h)
  p_new = _Fused().init(jax.random.PRNGKey(5), h)
  assert jax.tree.structure(p_new) == jax.tree.structure(p_old)
  for a, b in zip(jax.tree.leaves(p_new), jax.tree.leaves(p_old)):
    np.testing.assert_array_equal(a, b)
  p = _perturbed(p_old, 1)
  for a, b in zip(_Fused().apply(p, h), _ThreeDense().apply(p, h)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('block', [layers.AttnBlock(num_groups=4), layerspp.AttnBlockpp()])
def test_attention_blocks_keep_their_parameter_names(block):
  """GroupNorm_0 and Dense_0..3: the names the released checkpoints are converted to."""
  p = block.init(jax.random.PRNGKey(0), jnp.ones((1, 4, 4, 16)))['params']
  assert sorted(p) == ['Dense_0', 'Dense_1', 'Dense_2', 'Dense_3', 'GroupNorm_0']
  assert all(sorted(p[k]) == ['bias', 'kernel'] for k in p if k.startswith('Dense'))
  assert sorted(p['GroupNorm_0']) == ['bias', 'scale']


_DN = ('NHWC', 'HWIO', 'NHWC')


def _f64(tree):
  return jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)


def _conv(x, p):
  return jax.lax.conv_general_dilated(x, p['kernel'], (1, 1), 'SAME', dimension_numbers=_DN) + \
      p['bias']


def test_upsample_conv3x3_is_conv3x3_of_the_upsampled_input():
  """Same module (nn.Conv), parameter tree and initial values as conv3x3; the output is
  conv3x3 applied to the nearest-upsampled input (float64)."""
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 5, 6), jnp.float64)
  up = layers.fir_ops.naive_upsample_2d(x, 2)
  new, old = layers.upsample_conv3x3(8), layers.conv3x3(8)
  p_new, p_old = new.init(jax.random.PRNGKey(3), x), old.init(jax.random.PRNGKey(3), up)
  assert type(new) is nn.Conv
  assert jax.tree.structure(p_new) == jax.tree.structure(p_old)
  for a, b in zip(jax.tree.leaves(p_new), jax.tree.leaves(p_old)):
    np.testing.assert_array_equal(a, b)
  p = _f64(_perturbed(p_old, 2))
  np.testing.assert_allclose(new.apply(p, x), old.apply(p, up), rtol=1e-12, atol=1e-12)


def test_upsample_conv3x3_rejects_other_convolutions():
  """The phase decomposition holds for stride 1, 'SAME', undilated, ungrouped convolutions."""
  x = jnp.zeros((1, 4, 4, 2))
  for conv in [nn.Conv(3, (3, 3), strides=2, padding='SAME',
                       conv_general_dilated=layers._conv_of_nearest_upsampled),
               nn.Conv(3, (3, 3), padding='VALID',
                       conv_general_dilated=layers._conv_of_nearest_upsampled)]:
    with pytest.raises(ValueError, match='stride-1'):
      conv.init(jax.random.PRNGKey(0), x)


def test_upsampling_modules_equal_upsampling_first():
  """layers.Upsample and layerspp.Upsample (nearest, with conv): Conv_0 on the upsampled
  input, as in the original networks."""
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 4, 4, 8), jnp.float64)
  up = layers.fir_ops.naive_upsample_2d(x, 2)
  for module in [layers.Upsample(with_conv=True), layerspp.Upsample(out_ch=6, with_conv=True)]:
    p = _f64(_perturbed(module.init(jax.random.PRNGKey(0), x), 4))
    assert sorted(p['params']) == ['Conv_0']
    np.testing.assert_allclose(module.apply(p, x), _conv(up, p['params']['Conv_0']),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('skip_rescale', [True, False])
def test_biggan_upsampling_block_equals_upsampling_first(skip_rescale):
  """ResnetBlockBigGANpp(up=True, fir=False) computes Conv_0 per output phase and the 1x1
  shortcut Conv_2 before upsampling; the result is the original order's: upsample h and x,
  Conv_0, ..., Conv_2 on the upsampled x (float64; eval mode, so no dropout)."""
  c, out_ch = 8, 12
  act = nn.swish
  block = layerspp.ResnetBlockBigGANpp(act=act, out_ch=out_ch, up=True, fir=False,
                                       skip_rescale=skip_rescale, init_scale=0.5)
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 4, 4, c), jnp.float64)
  temb = jax.random.normal(jax.random.PRNGKey(2), (2, 16), jnp.float64)
  p = _f64(_perturbed(block.init(jax.random.PRNGKey(0), x, temb), 5))
  q = p['params']
  assert sorted(q) == ['Conv_0', 'Conv_1', 'Conv_2', 'Dense_0', 'GroupNorm_0', 'GroupNorm_1']

  def gn(name, v):
    return layers.group_norm(v.shape[-1]).apply({'params': q[name]}, v)

  up = layers.fir_ops.naive_upsample_2d
  h = _conv(up(act(gn('GroupNorm_0', x)), 2), q['Conv_0'])
  h = h + (act(temb) @ q['Dense_0']['kernel'] + q['Dense_0']['bias'])[:, None, None, :]
  h = _conv(act(gn('GroupNorm_1', h)), q['Conv_1'])
  shortcut = jnp.einsum('nhwc,co->nhwo', up(x, 2), q['Conv_2']['kernel'][0, 0]) + \
      q['Conv_2']['bias']
  ref = (shortcut + h) / np.sqrt(2.) if skip_rescale else shortcut + h
  out = block.apply(p, x, temb)
  assert out.shape == (2, 8, 8, out_ch)
  np.testing.assert_allclose(out, ref, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize('keep', [0.1, 0.5, 0.9])
def test_keep_mask_has_the_keep_probability(keep):
  """The fraction kept over 540,672 elements (odd channel count) is within 5 standard
  deviations of keep_prob, and so is every channel block that shares threefry blocks."""
  shape = (64, 16, 16, 33)
  m = np.asarray(layers.keep_mask(jax.random.PRNGKey(7), keep, shape))
  assert m.shape == shape and m.dtype == bool
  sd = np.sqrt(keep * (1 - keep) / m.size)
  assert abs(m.mean() - keep) < 5 * sd
  for part in (m[..., :17], m[..., 17:]):   # word 0 and word 1 of the blocks
    assert abs(part.mean() - keep) < 5 * np.sqrt(keep * (1 - keep) / part.size)


def test_keep_mask_elements_are_uncorrelated():
  """Correlation between the two words of each threefry block (channels j and j + C/2) and
  between neighbours along every axis is within 5/sqrt(n) of 0."""
  m = np.asarray(layers.keep_mask(jax.random.PRNGKey(1), 0.5, (32, 16, 16, 64)), np.float64)
  pairs = [(m[..., :32], m[..., 32:])]
  pairs += [(np.take(m, range(0, m.shape[a] - 1), a), np.take(m, range(1, m.shape[a]), a))
            for a in range(4)]
  for a, b in pairs:
    r = np.corrcoef(a.ravel(), b.ravel())[0, 1]
    assert abs(r) < 5 / np.sqrt(a.size), r


def test_keep_mask_is_a_function_of_the_key():
  """Same key, same mask (raw uint32[2] or typed threefry key); another key, another mask
  (disagreeing on ~2p(1-p) of the elements); a key of another PRNG implementation works."""
  shape, keep = (8, 8, 8, 16), 0.7
  a = layers.keep_mask(jax.random.PRNGKey(3), keep, shape)
  np.testing.assert_array_equal(a, layers.keep_mask(jax.random.PRNGKey(3), keep, shape))
  np.testing.assert_array_equal(a, layers.keep_mask(jax.random.key(3), keep, shape))
  b = layers.keep_mask(jax.random.PRNGKey(4), keep, shape)
  assert abs(float(jnp.mean(a != b)) - 2 * keep * (1 - keep)) < 0.05
  c = layers.keep_mask(jax.random.key(3, impl='rbg'), keep, shape)
  assert c.shape == shape and abs(float(c.mean()) - keep) < 0.05


def test_dropout_module():
  """flax.linen.Dropout's behaviour: identity when deterministic or rate 0, zeros at rate 1,
  otherwise x / (1 - rate) where keep_mask(the 'dropout' rng) keeps and 0 elsewhere; a rate
  outside [0, 1] is refused with its value."""
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 6, 6, 10))
  rng = jax.random.PRNGKey(9)
  drop = layers.Dropout(0.25)
  np.testing.assert_array_equal(drop.apply({}, x, deterministic=True), x)
  np.testing.assert_array_equal(layers.Dropout(0.).apply({}, x, deterministic=False), x)
  np.testing.assert_array_equal(
      layers.Dropout(1.).apply({}, x, deterministic=False, rngs={'dropout': rng}), 0.)
  y = drop.apply({}, x, deterministic=False, rngs={'dropout': rng})

  class _Key(nn.Module):
    @nn.compact
    def __call__(self):
      return self.make_rng('dropout')

  mask = layers.keep_mask(_Key().apply({}, rngs={'dropout': rng}), 0.75, x.shape)
  np.testing.assert_allclose(y, jnp.where(mask, x / 0.75, 0.), rtol=1e-6)
  with pytest.raises(ValueError, match=r'rate=1\.5'):
    layers.Dropout(1.5).apply({}, x, deterministic=False, rngs={'dropout': rng})


_SHARDED_MASK = r"""
import sys
sys.path.insert(0, {root!r})
import jax, numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P
from models import layers
mesh = jax.make_mesh((4,), ('data',), axis_types=(jax.sharding.AxisType.Auto,))
shape = (8, 6, 6, 10)
f = jax.jit(lambda key: layers.keep_mask(key, 0.6, shape),
            out_shardings=NamedSharding(mesh, P('data')))
hlo = f.lower(jax.random.PRNGKey(5)).compile().as_text()
sharded = f(jax.random.PRNGKey(5))
assert len(sharded.sharding.device_set) == 4
np.testing.assert_array_equal(np.asarray(sharded),
                              np.asarray(layers.keep_mask(jax.random.PRNGKey(5), 0.6, shape)))
for op in ('all-gather', 'all-to-all', 'collective-permute', 'all-reduce'):
  assert op not in hlo, op
print('ok')
"""


def test_keep_mask_sharded_on_the_batch_is_computed_shard_by_shard(tmp_path):
  """On 4 (faked) devices with the mask sharded on the batch axis: the same mask as on one
  device, and the compiled program has no collective (each device draws its own shard)."""
  import os
  import subprocess
  import sys
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  script = tmp_path / 'sharded.py'
  script.write_text(_SHARDED_MASK.format(root=root))
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=4')
  r = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                     timeout=300)
  assert r.returncode == 0 and r.stdout.strip().endswith('ok'), r.stderr[-3000:]
