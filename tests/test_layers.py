"""models.layers.GroupNorm and qkv_projection: rewritten for speed (issue 16), they must compute
what flax.linen.GroupNorm and three separate dense layers compute, with the same parameters."""
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
