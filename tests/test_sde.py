"""SDE library against closed forms: marginals vs simulation, priors, discretisations, reversal."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import ml_collections

import sde_lib

SDES = {
    'vp': lambda: sde_lib.VPSDE(beta_min=0.1, beta_max=20., N=1000),
    'subvp': lambda: sde_lib.subVPSDE(beta_min=0.1, beta_max=20., N=1000),
    've': lambda: sde_lib.VESDE(sigma_min=0.01, sigma_max=5., N=1000),
}


def _simulate(sde, x0, t_end, n_steps, rng):
  """Euler-Maruyama paths of the forward SDE, using only `sde.sde` (not marginal_prob)."""
  dt = t_end / n_steps

  def body(i, carry):
    x, key = carry
    key, sub = jax.random.split(key)
    t = jnp.full(x.shape[:1], i * dt, x.dtype)
    drift, diffusion = sde.sde(x, t)
    z = jax.random.normal(sub, x.shape, x.dtype)
    return x + drift * dt + sde_lib.batch_mul(diffusion * np.sqrt(dt), z), key

  x, _ = jax.lax.fori_loop(0, n_steps, body, (x0, rng))
  return x


@pytest.mark.parametrize('name', SDES)
@pytest.mark.parametrize('t_end', [0.1, 0.5, 1.0])
def test_marginal_prob_matches_simulation(name, t_end):
  """Mean and variance of simulated x(t) | x(0) equal marginal_prob's (float64).

  Tolerance: 5 Monte-Carlo standard errors plus the O(dt) Euler-Maruyama bias.
  """
  sde = SDES[name]()
  n = 20000
  x0 = jnp.full((n, 2), jnp.array([1.5, -0.5]), jnp.float64)
  xt = _simulate(sde, x0, t_end, 2000, jax.random.PRNGKey(0))
  mean, std = sde.marginal_prob(x0[:1], jnp.array([t_end]))
  emp_mean = np.asarray(xt.mean(0))
  emp_var = np.asarray(xt.var(0))
  var = float(std[0]) ** 2
  se_mean = np.sqrt(var / n)
  se_var = var * np.sqrt(2. / n)
  np.testing.assert_allclose(emp_mean, np.asarray(mean[0]), atol=5 * se_mean + 2e-3)
  np.testing.assert_allclose(emp_var, var, atol=5 * se_var + 2e-3 * max(var, 1.))


@pytest.mark.parametrize('name', SDES)
def test_prior_logp_is_the_gaussian_density(name):
  """prior_logp(z) = sum_i log N(z_i; 0, sigma_T^2), written out per coordinate."""
  sde = SDES[name]()
  z = np.random.default_rng(0).standard_normal((5, 3, 4, 2)) * 2.
  scale = sde.sigma_max if name == 've' else 1.
  direct = np.sum(-0.5 * np.log(2 * np.pi * scale ** 2) - z ** 2 / (2 * scale ** 2), axis=(1, 2, 3))
  np.testing.assert_allclose(np.asarray(sde.prior_logp(jnp.asarray(z))), direct, rtol=1e-12)


@pytest.mark.parametrize('name', SDES)
def test_prior_matches_marginal_at_T(name):
  """The prior is (close to) the marginal at T: VP/sub-VP N(0, I); VE N(x0, sigma_max^2)."""
  sde = SDES[name]()
  x0 = jnp.ones((1, 3), jnp.float64)
  mean, std = sde.marginal_prob(x0, jnp.array([1.]))
  if name == 've':
    assert float(std[0]) == pytest.approx(sde.sigma_max)
  else:
    assert float(std[0]) == pytest.approx(1., abs=1e-4)
    assert float(jnp.abs(mean).max()) < 1e-2


def test_vp_discretize_is_the_ddpm_update():
  """VP: f = sqrt(1 - beta_i) x - x and G = sqrt(beta_i), beta_i = linspace(b0/N, b1/N, N)[i]."""
  N = 100
  sde = sde_lib.VPSDE(0.1, 20., N)
  x = jnp.asarray(np.random.default_rng(1).standard_normal((4, 3)))
  i = np.array([0, 17, 58, 99])
  t = jnp.asarray(i / (N - 1))
  f, G = sde.discretize(x, t)
  beta = 0.1 / N + i * (20. - 0.1) / N / (N - 1)
  np.testing.assert_allclose(np.asarray(f), np.sqrt(1 - beta)[:, None] * np.asarray(x) - np.asarray(x), rtol=1e-12)
  np.testing.assert_allclose(np.asarray(G), np.sqrt(beta), rtol=1e-12)


def test_ve_discretize_is_the_smld_update():
  """VE: f = 0 and G = sqrt(sigma_i^2 - sigma_{i-1}^2), with sigma_{-1} = 0."""
  N = 50
  sde = sde_lib.VESDE(0.01, 50., N)
  x = jnp.ones((4, 2), jnp.float64)
  i = np.array([0, 1, 25, 49])
  f, G = sde.discretize(x, jnp.asarray(i / (N - 1)))
  sig = np.exp(np.linspace(np.log(0.01), np.log(50.), N))
  prev = np.where(i == 0, 0., sig[np.maximum(i - 1, 0)])
  assert np.all(np.asarray(f) == 0)
  np.testing.assert_allclose(np.asarray(G), np.sqrt(sig[i] ** 2 - prev ** 2), rtol=1e-12)


def test_subvp_discretize_is_euler_maruyama():
  """sub-VP has no discrete chain: f = drift / N, G = diffusion / sqrt(N)."""
  sde = sde_lib.subVPSDE(0.1, 20., 200)
  x = jnp.asarray(np.random.default_rng(2).standard_normal((3, 2)))
  t = jnp.array([0.1, 0.5, 0.9])
  f, G = sde.discretize(x, t)
  drift, diffusion = sde.sde(x, t)
  np.testing.assert_allclose(np.asarray(f), np.asarray(drift) / 200, rtol=1e-12)
  np.testing.assert_allclose(np.asarray(G), np.asarray(diffusion) / np.sqrt(200), rtol=1e-12)


def test_ddpm_chain_converges_to_vp_marginal():
  """The DDPM chain's log cumulative alpha at step i approaches 2 log m(t_{i+1}) of VP (1% + 1e-3)."""
  sde = sde_lib.VPSDE(0.1, 20., 1000)
  i = np.array([10, 100, 500, 999])
  t = (i + 1) / 1000.
  exact = np.exp(2 * np.asarray(sde.log_mean_coeff(t)))
  # Differences: the Riemann sum of beta and log(1 - beta) = -beta - beta^2/2 - ...
  np.testing.assert_allclose(np.log(sde.alphas_cumprod[i]), np.log(exact), rtol=1e-2, atol=1e-3)


def test_subvp_variance_is_below_vp():
  """sub-VP's marginal std is never larger than VP's, and its mean is the same."""
  vp, sub = sde_lib.VPSDE(), sde_lib.subVPSDE()
  x = jnp.ones((50, 1), jnp.float64)
  t = jnp.linspace(1e-3, 1., 50)
  m1, s1 = vp.marginal_prob(x, t)
  m2, s2 = sub.marginal_prob(x, t)
  np.testing.assert_allclose(np.asarray(m1), np.asarray(m2))
  assert np.all(np.asarray(s2) <= np.asarray(s1) + 1e-15)


@pytest.mark.parametrize('name', SDES)
@pytest.mark.parametrize('probability_flow', [False, True])
def test_reverse_sde_drift_and_discretisation(name, probability_flow):
  """Reverse drift = f - w g^2 score (w = 1/2 for the ODE), diffusion 0 for the ODE;
  the reverse is a full SDE object whose discretize applies the same rule to (f_i, G_i)."""
  sde = SDES[name]()
  score_fn = lambda x, t: -x * (1. + t[:, None])
  rsde = sde.reverse(score_fn, probability_flow)
  assert isinstance(rsde, sde_lib.SDE)
  x = jnp.asarray(np.random.default_rng(3).standard_normal((4, 2)))
  t = jnp.array([0.05, 0.3, 0.6, 0.95])
  w = 0.5 if probability_flow else 1.
  f, g = sde.sde(x, t)
  rf, rg = rsde.sde(x, t)
  np.testing.assert_allclose(np.asarray(rf), np.asarray(f - w * g[:, None] ** 2 * score_fn(x, t)), rtol=1e-12)
  np.testing.assert_allclose(np.asarray(rg), 0. if probability_flow else np.asarray(g))
  fd, gd = sde.discretize(x, t)
  rfd, rgd = rsde.discretize(x, t)
  np.testing.assert_allclose(np.asarray(rfd), np.asarray(fd - w * gd[:, None] ** 2 * score_fn(x, t)), rtol=1e-12)
  np.testing.assert_allclose(np.asarray(rgd), 0. if probability_flow else np.asarray(gd))


@pytest.mark.parametrize('name', SDES)
@pytest.mark.parametrize('dtype', [jnp.float32, jnp.float64])
def test_dtype_is_kept(name, dtype):
  """float32 in gives float32 out and float64 in float64 out, for every public function."""
  sde = SDES[name]()
  x = jnp.ones((3, 2), dtype)
  t = jnp.full((3,), 0.4, dtype)
  outs = [*sde.sde(x, t), *sde.marginal_prob(x, t), *sde.discretize(x, t), sde.prior_logp(x),
          sde.prior_sampling(jax.random.PRNGKey(0), (2, 2), dtype),
          *sde.reverse(lambda x, t: -x).discretize(x, t)]
  assert all(o.dtype == dtype for o in outs)


@pytest.mark.parametrize('name', SDES)
def test_langevin_scale_and_ancestral_exist_for_every_sde(name):
  """Every SDE answers the corrector's step-size question; ancestral steps only where defined."""
  sde = SDES[name]()
  a = sde.langevin_step_size_scale(jnp.array([0.5, 1.]))
  assert a.shape == (2,) and np.all(np.asarray(a) > 0) and np.all(np.asarray(a) <= 1)
  x = jnp.ones((2, 2))
  if name == 'subvp':
    assert not sde.has_ancestral_step
    with pytest.raises(NotImplementedError, match='ancestral'):
      sde.ancestral_step(x, jnp.array([0.5, 1.]), x)
  else:
    assert sde.has_ancestral_step
    mean, std = sde.ancestral_step(x, jnp.array([0.5, 1.]), -x)
    assert mean.shape == x.shape and std.shape == (2,)


def test_get_sde_and_bad_arguments():
  """get_sde builds from config; unknown names and bad parameters are clear errors."""
  c = ml_collections.ConfigDict({'training': {'sde': 'vesde'}, 'model': {
      'sigma_min': 0.01, 'sigma_max': 50., 'beta_min': 0.1, 'beta_max': 20., 'num_scales': 10}})
  sde = sde_lib.get_sde(c)
  assert isinstance(sde, sde_lib.VESDE) and sde.N == 10 and sde.sigma_max == 50.
  c.training.sde = 'bridge'
  with pytest.raises(ValueError, match="training.sde='bridge'.*vpsde, subvpsde, vesde"):
    sde_lib.get_sde(c)
  with pytest.raises(ValueError, match='beta_min'):
    sde_lib.VPSDE(beta_min=5., beta_max=1.)
  with pytest.raises(ValueError, match='sigma_min'):
    sde_lib.VESDE(sigma_min=0., sigma_max=1.)
  with pytest.raises(ValueError, match='N=0 must be a positive integer'):
    sde_lib.VPSDE(N=0)
