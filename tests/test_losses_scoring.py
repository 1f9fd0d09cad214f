"""The SMLD and DDPM losses go through `models.scoring` and still equal their old formulas.

The discrete losses used to call `model.apply` with labels of their own (the
level index i for SMLD, the float i for DDPM). They now call the score
function at `scoring.discrete_times`, whose discrete labels are the levels.
These tests write the old formulas out and compare, for a tiny network with
dropout (train=True and False), on the same random draws: equal to rounding.
"""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_lib
from models import scoring
from sde_lib import batch_mul
from training import losses


class TinyNet(nn.Module):
  """Depends on its label through a sinusoidal embedding computed in the label's own
  dtype, so a label off by one ulp changes the output; has dropout for train=True."""

  @nn.compact
  def __call__(self, x, labels, train=False):
    freqs = jnp.asarray([1., 0.37, 0.05, 0.011], x.dtype)
    args = labels.astype(x.dtype)[:, None] * freqs
    emb = jnp.concatenate([jnp.sin(args), jnp.cos(args)], axis=1)
    h = nn.Dense(16, param_dtype=x.dtype)(x) + nn.Dense(16, param_dtype=x.dtype)(emb)
    h = nn.Dropout(0.3, deterministic=not train)(nn.silu(h))
    return nn.Dense(x.shape[-1], param_dtype=x.dtype)(h)


def _reduce(reduce_mean, v):
  if reduce_mean:
    return jnp.mean(v.reshape(v.shape[0], -1), axis=-1)
  return 0.5 * jnp.sum(v.reshape(v.shape[0], -1), axis=-1)


def _apply(model, params, x, labels, rng, train):
  if train:
    return model.apply(params, x, labels, train=True, rngs={'dropout': rng})
  return model.apply(params, x, labels, train=False)


def old_smld_loss(vesde, model, train, reduce_mean, rng, params, batch, sigma_dtype):
  """The SMLD loss as training/losses.py wrote it before (sigma table cast via `sigma_dtype`,
  float32 then)."""
  sigmas_desc = jnp.asarray(vesde.discrete_sigmas[::-1], sigma_dtype)
  i_rng, z_rng, drop_rng = jax.random.split(rng, 3)
  labels = jax.random.randint(i_rng, (batch.shape[0],), 0, vesde.N)
  sigmas = sigmas_desc.astype(batch.dtype)[labels]
  noise = batch_mul(sigmas, jax.random.normal(z_rng, batch.shape, batch.dtype))
  score = _apply(model, params, batch + noise, labels, drop_rng, train).astype(batch.dtype)
  target = -batch_mul(1. / sigmas ** 2, noise)
  return jnp.mean(_reduce(reduce_mean, jnp.square(score - target)) * sigmas ** 2)


def old_ddpm_loss(vpsde, model, train, reduce_mean, rng, params, batch):
  """The DDPM loss as training/losses.py wrote it before: |network output - noise|^2."""
  i_rng, z_rng, drop_rng = jax.random.split(rng, 3)
  labels = jax.random.randint(i_rng, (batch.shape[0],), 0, vpsde.N)
  a = jnp.asarray(vpsde.sqrt_alphas_cumprod, batch.dtype)[labels]
  s = jnp.asarray(vpsde.sqrt_1m_alphas_cumprod, batch.dtype)[labels]
  noise = jax.random.normal(z_rng, batch.shape, batch.dtype)
  perturbed = batch_mul(a, batch) + batch_mul(s, noise)
  out = _apply(model, params, perturbed, labels.astype(batch.dtype), drop_rng, train)
  return jnp.mean(_reduce(reduce_mean, jnp.square(out.astype(batch.dtype) - noise)))


def _setup(dtype):
  model = TinyNet()
  batch = jax.random.normal(jax.random.PRNGKey(1), (64, 3), dtype) * 2. + 0.5
  params = model.init(jax.random.PRNGKey(2), batch, jnp.ones((64,), dtype))
  # Non-trivial weights everywhere (the output layer too).
  leaves, tree = jax.tree_util.tree_flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(3), len(leaves))
  params = tree.unflatten([jax.random.normal(k, p.shape, dtype) * 0.5
                           for k, p in zip(keys, leaves)])
  return model, params, batch


# (dtype, N): grids where every discrete label is exactly its level.
EXACT = [(np.float32, 1000), (np.float64, 10), (np.float64, 13)]


@pytest.mark.parametrize('dtype,n', EXACT)
def test_discrete_times_give_exactly_the_levels(dtype, n):
  """At scoring.discrete_times the discrete labels of models.scoring are the levels
  0..N-1 exactly: the float i for VP, the int index i for VE; and the VP chain step
  (discrete_index) is i."""
  vp, ve = sde_lib.VPSDE(0.1, 5., n), sde_lib.VESDE(0.01, 10., n)
  levels = np.arange(n)
  t_vp = jnp.asarray(scoring.discrete_times(vp, dtype))
  t_ve = jnp.asarray(scoring.discrete_times(ve, dtype))
  assert t_vp.dtype == dtype and t_ve.dtype == dtype
  labels = np.asarray(scoring.noise_labels(vp, t_vp, continuous=False))
  assert labels.dtype == dtype
  np.testing.assert_array_equal(labels, levels.astype(dtype))
  np.testing.assert_array_equal(np.asarray(vp.discrete_index(t_vp)), levels)
  np.testing.assert_array_equal(np.asarray(scoring.noise_labels(ve, t_ve, continuous=False)),
                                levels)


@pytest.mark.parametrize('dtype,n', [(np.float64, 1000), (np.float32, 100)])
def test_discrete_times_within_an_ulp_where_no_exact_float_exists(dtype, n):
  """For some N no float t has t * (N - 1) == i; the grid then lands one ulp of i away
  (never two) and the chain step is still i."""
  vp = sde_lib.VPSDE(0.1, 5., n)
  levels = np.arange(n)
  t = scoring.discrete_times(vp, dtype)
  labels = t * dtype(n - 1)
  assert np.any(labels != levels)   # the case this test is about
  assert np.all(np.abs(labels - levels) <= np.spacing(levels.astype(dtype)))
  np.testing.assert_array_equal(np.asarray(vp.discrete_index(jnp.asarray(t))), levels)


# Two of the four (train, reduce_mean) pairs: each flag flips once.
FLAGS = [(False, False), (True, True)]


@pytest.mark.slow
@pytest.mark.parametrize('dtype,n', EXACT[:2])
@pytest.mark.parametrize('train,reduce_mean', FLAGS)
def test_smld_loss_equals_old_formula(dtype, n, train, reduce_mean):
  """SMLD through the score function = the old formula. In float32 the old formula is
  taken verbatim and agrees bit for bit; in float64 it is taken with the sigma table in
  float64 (the old code rounded it to float32 first, which the loss no longer does) and
  agrees to float64 rounding."""
  model, params, batch = _setup(dtype)
  vesde = sde_lib.VESDE(0.01, 10., n)
  new = jax.jit(losses.get_smld_loss_fn(vesde, model, train, reduce_mean=reduce_mean))
  old_fn = jax.jit(functools.partial(old_smld_loss, vesde, model, train, reduce_mean),
                   static_argnums=3)
  for seed in range(2):
    rng = jax.random.PRNGKey(seed)
    old = old_fn(rng, params, batch, dtype)
    got = new(rng, params, batch)
    assert got.dtype == dtype
    if dtype == np.float32:
      old32 = old_fn(rng, params, batch, jnp.float32)
      np.testing.assert_array_equal(np.asarray(old32), np.asarray(old))
      np.testing.assert_allclose(float(got), float(old), rtol=2e-7)
    else:
      np.testing.assert_allclose(float(got), float(old), rtol=1e-13)


@pytest.mark.slow
@pytest.mark.parametrize('dtype,n', EXACT[:2])
@pytest.mark.parametrize('train,reduce_mean', FLAGS)
def test_ddpm_loss_equals_old_formula(dtype, n, train, reduce_mean):
  """DDPM through the score function (|s * score + z|^2, score = -out / s) = the old
  |out - z|^2 with labels float(i), to the rounding of out / s * s."""
  model, params, batch = _setup(dtype)
  vpsde = sde_lib.VPSDE(0.1, 5., n)
  new = jax.jit(losses.get_ddpm_loss_fn(vpsde, model, train, reduce_mean=reduce_mean))
  old_fn = jax.jit(functools.partial(old_ddpm_loss, vpsde, model, train, reduce_mean))
  for seed in range(2):
    rng = jax.random.PRNGKey(seed)
    old = old_fn(rng, params, batch)
    got = new(rng, params, batch)
    assert got.dtype == dtype
    np.testing.assert_allclose(float(got), float(old), rtol=1e-5 if dtype == np.float32 else 1e-13)


def test_a_wrong_level_would_be_seen():
  """The comparison can fail: a network fed the neighbouring level (i + 1, what a
  truncating time-to-label rounding gives) changes the loss far beyond the tolerances
  above. (A one-ulp label error is below them; the exact-label test covers that.)"""
  model, params, batch = _setup(np.float64)
  vpsde = sde_lib.VPSDE(0.1, 5., 10)

  class NextLevel:
    def apply(self, variables, x, labels, **kwargs):
      return model.apply(variables, x, labels + 1, **kwargs)

  rng = jax.random.PRNGKey(0)
  new = losses.get_ddpm_loss_fn(vpsde, model, False, reduce_mean=True)(rng, params, batch)
  wrong = old_ddpm_loss(vpsde, NextLevel(), False, True, rng, params, batch)
  assert abs(float(wrong) / float(new) - 1) > 1e-4
