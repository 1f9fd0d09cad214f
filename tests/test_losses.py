"""Training objectives against closed forms, with an 'oracle network' that outputs the exact score.

For Gaussian data N(mu, Sigma) perturbed to N(m mu, C), C = m^2 Sigma + s^2 I,
the exact score is -C^{-1}(x - m mu) and the denoising loss of the exact
score is E|s score + z|^2 = d - s^2 tr(C^{-1}) per example. Every objective
(continuous DSM with or without likelihood weighting, SMLD, DDPM) is that
quantity, weighted and averaged over its noise levels; a network that outputs
the exact score must therefore give it, through the scoring convention of
models.scoring. That checks the losses and the conventions together.
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

import sde_lib
from training import losses

MU = np.array([0.5, -1., 2.])
SIGMA = np.array([[1., 0.3, 0.], [0.3, 0.5, 0.1], [0., 0.1, 2.]])
D = 3


def _m_s(sde, labels, continuous):
  """(m, s) per example, recovered from the network's noise label by the convention."""
  if isinstance(sde, sde_lib.VESDE):
    if continuous:
      return jnp.ones_like(labels), labels
    sig = jnp.asarray(sde.discrete_sigmas[::-1])[labels]
    return jnp.ones_like(sig), sig
  if continuous or isinstance(sde, sde_lib.subVPSDE):
    t = labels / (sde.N - 1)
    mean, std = sde.marginal_prob(jnp.ones((labels.shape[0], 1), jnp.float64), t)
    return mean[:, 0], std
  i = labels.astype(jnp.int32)
  return jnp.asarray(sde.sqrt_alphas_cumprod)[i], jnp.asarray(sde.sqrt_1m_alphas_cumprod)[i]


class OracleNet(nn.Module):
  """Outputs what a perfect network would: the score (VE) or -s * score (VP-type)."""
  sde: object
  continuous: bool

  @nn.compact
  def __call__(self, x, labels, train=False):
    m, s = _m_s(self.sde, labels, self.continuous)
    cov = m[:, None, None] ** 2 * SIGMA + s[:, None, None] ** 2 * jnp.eye(D)
    score = -jnp.linalg.solve(cov, (x - m[:, None] * MU)[..., None])[..., 0]
    if isinstance(self.sde, sde_lib.VESDE):
      return score
    return -s[:, None] * score


def _per_level(m, s):
  """d - s^2 tr(C^{-1}) for each (m, s)."""
  lam = np.linalg.eigvalsh(SIGMA)
  return D - s ** 2 * np.sum(1. / (m[:, None] ** 2 * lam + s[:, None] ** 2), axis=1)


def _data(n):
  rng = np.random.default_rng(0)
  return jnp.asarray(MU + rng.standard_normal((n, D)) @ np.linalg.cholesky(SIGMA).T)


SDES = {'vp': lambda: sde_lib.VPSDE(0.1, 20., 1000),
        'subvp': lambda: sde_lib.subVPSDE(0.1, 20., 1000),
        've': lambda: sde_lib.VESDE(0.01, 10., 1000)}


def _mc(loss_fn, n_batches=40, batch=5000):
  data = _data(batch)
  vals = np.array([float(loss_fn(jax.random.PRNGKey(i), {}, data)) for i in range(n_batches)])
  return vals.mean(), vals.std(ddof=1) / np.sqrt(n_batches)


@pytest.mark.parametrize('name', SDES)
@pytest.mark.parametrize('likelihood_weighting', [False, True])
@pytest.mark.parametrize('reduce_mean', [False, True])
def test_continuous_dsm_loss_of_exact_score(name, likelihood_weighting, reduce_mean):
  """Continuous DSM loss of the exact score = integral over t ~ U[eps, 1] of the closed form
  (weight s^2 per level, or g^2 with likelihood weighting; mean or 0.5 * sum over dims)."""
  sde = SDES[name]()
  eps = 1e-3
  loss_fn = jax.jit(losses.get_sde_loss_fn(sde, OracleNet(sde, True), train=False,
                                           reduce_mean=reduce_mean, continuous=True,
                                           likelihood_weighting=likelihood_weighting, eps=eps))
  mc, se = _mc(loss_fn)
  t = np.linspace(eps, 1., 20001)
  m, s = (np.asarray(a) for a in sde.marginal_prob(jnp.ones((t.size, 1)), jnp.asarray(t)))
  per = _per_level(m[:, 0], s)
  if likelihood_weighting:
    g2 = np.asarray(sde.sde(jnp.zeros((t.size, 1)), jnp.asarray(t))[1]) ** 2
    per = per * g2 / s ** 2
  per = per / D if reduce_mean else 0.5 * per
  exact = np.trapezoid(per, t) / (1. - eps)
  assert abs(mc - exact) < 5 * se + 1e-3 * abs(exact), (mc, se, exact)


def test_smld_loss_of_exact_score():
  """SMLD loss of the exact score = mean over the N sigmas of (d - s^2 tr C^{-1}) / 2."""
  sde = sde_lib.VESDE(0.01, 10., 50)
  loss_fn = jax.jit(losses.get_smld_loss_fn(sde, OracleNet(sde, False), train=False))
  mc, se = _mc(loss_fn)
  sig = sde.discrete_sigmas
  exact = np.mean(0.5 * _per_level(np.ones_like(sig), sig))
  assert abs(mc - exact) < 5 * se + 1e-3 * exact, (mc, se, exact)


def test_ddpm_loss_of_exact_score():
  """DDPM loss of the exact noise prediction = mean over steps of (d - s_i^2 tr C_i^{-1}) / d."""
  sde = sde_lib.VPSDE(0.1, 20., 100)
  loss_fn = jax.jit(losses.get_ddpm_loss_fn(sde, OracleNet(sde, False), train=False))
  mc, se = _mc(loss_fn)
  exact = np.mean(_per_level(sde.sqrt_alphas_cumprod, sde.sqrt_1m_alphas_cumprod) / D)
  assert abs(mc - exact) < 5 * se + 1e-3 * exact, (mc, se, exact)


def test_exact_score_beats_a_wrong_one():
  """The loss separates: the exact score has a lower DSM loss than a 10% mis-scaled one."""
  sde = SDES['vp']()

  class Wrong(OracleNet):
    def __call__(self, x, labels, train=False):
      return 1.1 * super().__call__(x, labels, train)

  kw = dict(train=False, reduce_mean=True, continuous=True, likelihood_weighting=False)
  good = jax.jit(losses.get_sde_loss_fn(sde, OracleNet(sde, True), **kw))
  bad = jax.jit(losses.get_sde_loss_fn(sde, Wrong(sde, True), **kw))
  data = _data(20000)
  assert float(good(jax.random.PRNGKey(0), {}, data)) < float(bad(jax.random.PRNGKey(0), {}, data))


def test_get_loss_fn_choices_and_errors():
  """training.continuous picks DSM / SMLD / DDPM; impossible combinations are errors."""
  c = ml_collections.ConfigDict({'training': {
      'continuous': False, 'reduce_mean': False, 'likelihood_weighting': False, 'sde': 'subvpsde'}})
  with pytest.raises(ValueError, match="continuous=False.*vesde.*vpsde"):
    losses.get_loss_fn(c, sde_lib.subVPSDE(), None, train=True)
  c.training.likelihood_weighting = True
  with pytest.raises(ValueError, match='likelihood_weighting'):
    losses.get_loss_fn(c, sde_lib.VESDE(), None, train=True)
  with pytest.raises(ValueError, match='needs a VESDE'):
    losses.get_smld_loss_fn(sde_lib.VPSDE(), None, train=True)
  with pytest.raises(ValueError, match='needs a VPSDE'):
    losses.get_ddpm_loss_fn(sde_lib.subVPSDE(), None, train=True)
