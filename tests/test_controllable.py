"""Controllable generation (samplers/controllable.py) against exact conditionals of mixtures.

Oracles. `models.analytic.gmm_condition` gives p(x0 | y = A x0 + noise) as a
mixture; it is checked here pointwise against Bayes' rule (joint Gaussians of
(x0, y) and (x_t, y) per component, written out independently), and so is the
exact noisy classifier log p(k | x_t) and its gradient.

Samplers. Each sampler draws n = 3000 float64 samples with an exact score and
three statistics of the part of x that is not observed are compared with the
exact conditional: the mean log-density (truth: Monte Carlo over 100k exact
samples), the mean and the covariance (closed form). As in
tests/test_samplers.py, each must lie within

    Z = 5 standard errors  +  a bias budget rho (relative to the variances):

rho = 0.04 for the discretisation of N = 500 steps (+ snr^2 = 0.0256 for the
Langevin corrector's inflated stationary variance), 0.01 for the ODE at
rtol = atol = 1e-5; a relative variance error rho moves the mean log-density
by about d rho / 2, the covariance entry (j, k) by rho sqrt(S_jj S_kk) and the
mean by at most rho sqrt(S_jj). The observed part must come out exact: the
known pixels equal the data, the channel mean equals the grey image.

  - inpainting: a 3-component mixture in R^4 (anisotropic, correlated),
    coordinates 0 and 2 known; conditional weights 0.50 / 0.50 / 0.00;
  - colorization: a 3-component mixture of 2 RGB pixels (R^6) given the grey
    image (mean over channels), checked on the 4 colour coordinates;
    conditional weights 0.40 / 0.41 / 0.20;
  - class-conditional: a 3-component mixture in R^2, one third of the batch per
    component, the exact unconditional score and the exact noisy classifier;
    each third must match its component (moments, log-density) and be
    classified as it (at t = 0, by the exact posterior over components) as often
    as exact draws from it are.

The mixtures are centred and the observations chosen so that the conditionals
are near-centred (means within 0.5 of 0) and multimodal: the VE prior
N(0, sigma_max^2 I) is centred, and the probability-flow ODE carries an offset
of it into the result. VE uses sigma_max = 20.

The replacement method with the exact UNCONDITIONAL score is an approximation:
`test_replacement_with_the_unconditional_score_is_an_approximation` measures
its error on a bimodal mixture and pins it (the figures are in its docstring).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fast_compile
import samplers
import sde_lib
from models import analytic
from samplers import controllable
from test_samplers import check_moments, make_sde as sampler_sde

Z = 5.
N_SAMPLES = 3000
RHO_DISCRETISATION = 0.04
RHO_ODE = 0.01
SNR = 0.16
SDES = ('vp', 'subvp', 've')


# test_samplers' SDEs, VE with sigma_max = 20 (module docstring).
make_sde = functools.partial(sampler_sde, sigma_max=20.)


def _random_covs(rs, k, d, low=0.1, high=1.):
  covs = []
  for _ in range(k):
    q, _ = np.linalg.qr(rs.normal(size=(d, d)))
    covs.append(q @ np.diag(rs.uniform(low, high, d)) @ q.T)
  return np.asarray(covs)


def _centred(weights, means, covs):
  """(weights, means, covs) with the means shifted so that the mixture has mean zero."""
  weights = np.asarray(weights, np.float64) / np.sum(weights)
  means = np.asarray(means, np.float64)
  return weights, means - weights @ means, np.asarray(covs, np.float64)


def _covs(params):
  u, lam = np.asarray(params['cov_eigvecs']), np.asarray(params['cov_eigvals'])
  return np.einsum('...kij,...kj,...klj->...kil', u, lam, u)


def _project(params, B):
  """The mixture of B x for x ~ params (one mixture), as concrete params."""
  B = np.asarray(B)
  w = np.exp(np.asarray(params['log_weights']))
  return analytic.gmm(w, np.asarray(params['means']) @ B.T,
                      np.einsum('ij,kjl,ml->kim', B, _covs(params), B))


# ------------------------------------------------------------------- problems


@functools.cache
def inpaint_problem():
  rs = np.random.RandomState(0)
  gmm = analytic.gmm(*_centred([.5, .3, .2], 1.5 * rs.normal(size=(3, 4)), _random_covs(rs, 3, 4)))
  mask = np.array([1., 0., 1., 0.])
  y = np.array([0.2, 0.4])
  A = analytic.mask_observation(mask)
  post = analytic.gmm_condition(gmm, A, y)
  return dict(gmm=gmm, mask=mask, A=A, y=y, data=np.where(mask > 0, np.array([.2, 0, .4, 0]), 7.),
              unknown=_project(post, np.eye(4)[mask == 0]), post=post)


@functools.cache
def color_problem():
  rs = np.random.RandomState(1)
  gmm = analytic.gmm(*_centred([.4, .35, .25], rs.normal(size=(3, 6)),
                               _random_covs(rs, 3, 6, 0.05, 0.5)))
  grey = np.array([0.6, 0.1])                        # the mean over channels of each pixel
  A = analytic.channel_mean_observation((2, 3))
  post = analytic.gmm_condition(gmm, A, grey)
  # The colour coordinates: columns 1 and 2 of the decoupling basis, per pixel.
  B = np.kron(np.eye(2), controllable.COLOR_BASIS[:, 1:].T)
  return dict(gmm=gmm, A=A, grey=grey, gray=np.repeat(grey[:, None], 3, 1), post=post, B=B,
              colour=_project(post, B))


@functools.cache
def class_problem():
  gmm = analytic.gmm([.5, .3, .2], [[-1., 0.], [1., .8], [0., -1.2]],
                     [[[.5, .2], [.2, .4]], [[.3, 0.], [0., .6]], [[.4, -.1], [-.1, .3]]])
  labels = np.repeat(np.arange(3), N_SAMPLES // 3)
  return dict(gmm=gmm, labels=labels)


def component(params, k):
  return analytic.gmm([1.], np.asarray(params['means'])[k:k + 1], _covs(params)[k:k + 1])


def classify(params, x):
  """The most likely component of x0 (t = 0, exact posterior)."""
  return np.asarray(jnp.argmax(analytic.gmm_class_logits(sde_lib.VPSDE(), params, x, 0.), -1))


# ---------------------------------------------------------------- statistics


@jax.jit
def _log_density(params, x):
  return analytic.gmm_log_prob(sde_lib.VPSDE(), params, x, 0.)


def log_density(params, x):
  """log of the unperturbed mixture: VP at t = 0 has m = 1, s = 0 exactly."""
  return _log_density(params, jnp.asarray(x))


def reference(params, n=100_000, seed=123):
  x = jax.jit(analytic.gmm_sample, static_argnums=2)(jax.random.PRNGKey(seed), params, n)
  logp = log_density(params, x)
  w = np.exp(np.asarray(params['log_weights']))
  mu = np.asarray(params['means'])
  mean = w @ mu
  cov = np.einsum('k,kij->ij', w, _covs(params) + mu[:, :, None] * mu[:, None, :]) - np.outer(
      mean, mean)
  c = np.asarray(x) - mean
  return dict(mean=mean, cov=cov, logp=float(logp.mean()), logp_sd=float(logp.std()),
              prod_sd=(c[:, :, None] * c[:, None, :]).std(0), n=n, x=np.asarray(x))


_references = {}


def check_statistics(x, params, key, rho):
  """Mean log-density, mean and covariance of x against the mixture `params` (module doc)."""
  if key not in _references:
    _references[key] = reference(params)
  check_moments(x, _references[key], lambda x: log_density(params, x), key, rho)


def _rho(method, corrector='langevin'):
  if method == 'ode':
    return RHO_ODE
  return RHO_DISCRETISATION + (SNR ** 2 if corrector == 'langevin' else 0.)


# ------------------------------------------------------------------- oracles


def _joint_log_prob(sde, params, A, y, x, t, noise_std):
  """log p(x_t, y) from the joint Gaussian of (x_t, y) per component, written out directly."""
  m, s = sde.marginal_prob(jnp.ones((1, 1)), jnp.full((1,), t))
  m, s = m[0, 0], s[0]
  A = np.asarray(A)
  w = np.exp(np.asarray(params['log_weights']))
  mu, covs = np.asarray(params['means']), _covs(params)
  d, k = mu.shape[1], A.shape[0]
  terms = []
  for j in range(len(w)):
    c = covs[j]
    joint = jnp.block([[m ** 2 * c + s ** 2 * jnp.eye(d), m * c @ A.T],
                       [m * A @ c, A @ c @ A.T + noise_std ** 2 * np.eye(k)]])
    mean = jnp.concatenate([m * mu[j], A @ mu[j]])
    terms.append(np.log(w[j]) + jax.scipy.stats.multivariate_normal.logpdf(
        jnp.concatenate([x, jnp.broadcast_to(y, x.shape[:1] + y.shape)], -1), mean, joint))
  return jax.nn.logsumexp(jnp.stack(terms), axis=0)


def _y_log_prob(params, A, y, noise_std):
  """log p(y) = log sum_k w_k N(y; A mu_k, A Sigma_k A^T + sigma^2 I)."""
  w = np.exp(np.asarray(params['log_weights']))
  mu, covs = np.asarray(params['means']), _covs(params)
  return float(jax.jit(lambda y: jax.nn.logsumexp(jnp.array([
      np.log(w[j]) + jax.scipy.stats.multivariate_normal.logpdf(
          y, A @ mu[j], A @ covs[j] @ A.T + noise_std ** 2 * np.eye(A.shape[0]))
      for j in range(len(w))])))(jnp.asarray(y)))


def _observations():
  p = inpaint_problem()
  c = color_problem()
  rs = np.random.RandomState(7)
  return {
      'mask': (p['gmm'], p['A'], p['y'], 0.),
      'mask+noise': (p['gmm'], p['A'], p['y'], 0.3),
      'channel_mean': (c['gmm'], c['A'], c['grey'], 0.),
      'projection+noise': (p['gmm'], rs.normal(size=(2, 4)), np.array([0.5, -1.]), 0.2),
  }


@pytest.mark.parametrize('case', ['mask+noise', 'projection+noise'])
def test_gmm_condition_is_bayes_rule(case):
  """log p(x0 | y) = log p(x0) + log N(y; A x0, sigma^2 I) - log p(y) at random x0 (sigma > 0)."""
  gmm, A, y, noise_std = _observations()[case]
  post = analytic.gmm_condition(gmm, A, y, noise_std)
  d = A.shape[1]
  x0 = jax.random.normal(jax.random.PRNGKey(0), (64, d), jnp.float64) * 1.5
  lik = jax.scipy.stats.multivariate_normal.logpdf(
      jnp.broadcast_to(y, (64, A.shape[0])), x0 @ A.T, noise_std ** 2 * np.eye(A.shape[0]))
  expected = log_density(gmm, x0) + lik - _y_log_prob(gmm, A, y, noise_std)
  np.testing.assert_allclose(np.asarray(log_density(post, x0)), np.asarray(expected),
                             rtol=1e-10, atol=1e-9)


def test_gmm_condition_on_coordinates_is_the_schur_complement():
  """noise_std = 0, mask: each component conditions by the Schur complement; known part exact."""
  p = inpaint_problem()
  gmm, post, known = p['gmm'], p['post'], p['mask'] > 0
  mu, covs = np.asarray(gmm['means']), _covs(gmm)
  w = np.exp(np.asarray(gmm['log_weights']))
  logw = []
  for k in range(3):
    s_kk = covs[k][np.ix_(known, known)]
    s_uk = covs[k][np.ix_(~known, known)]
    gain = s_uk @ np.linalg.inv(s_kk)
    mean_u = mu[k][~known] + gain @ (p['y'] - mu[k][known])
    cov_u = covs[k][np.ix_(~known, ~known)] - gain @ s_uk.T
    np.testing.assert_allclose(np.asarray(post['means'])[k][~known], mean_u, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(post['means'])[k][known], p['y'], rtol=1e-12)
    np.testing.assert_allclose(_covs(post)[k][np.ix_(~known, ~known)], cov_u, atol=1e-12)
    np.testing.assert_allclose(_covs(post)[k][known], 0., atol=1e-12)
    logw.append(np.log(w[k]) + float(jax.scipy.stats.multivariate_normal.logpdf(
        p['y'], mu[k][known], s_kk)))
  np.testing.assert_allclose(np.exp(np.asarray(post['log_weights'])),
                             np.exp(np.asarray(logw) - jax.nn.logsumexp(np.asarray(logw))),
                             rtol=1e-12)
  x = analytic.gmm_sample(jax.random.PRNGKey(0), post, 1000)
  np.testing.assert_allclose(np.asarray(x)[:, known], np.broadcast_to(p['y'], (1000, 2)),
                             rtol=0, atol=1e-12)


@pytest.mark.parametrize('sde_name', SDES)
@pytest.mark.parametrize('case', ['mask', 'channel_mean', 'projection+noise'])
def test_conditional_score_is_that_of_the_perturbed_conditional(sde_name, case):
  """log p_t(x_t | y) of the oracle = log p(x_t, y) - log p(y) from the joint Gaussians
  of (x_t, y), also where p(x0 | y) is degenerate (noise_std = 0); its score = the gradient
  of the latter (autodiff), for a shared y and for one y per example."""
  sde = make_sde(sde_name)
  gmm, A, y, noise_std = _observations()[case]
  d = A.shape[1]
  score_fn = analytic.gmm_conditional_score_fn(sde, A, noise_std)
  logp_y = _y_log_prob(gmm, A, y, noise_std)
  times = (0.01, 0.3, 0.9)
  x = 1.5 * jax.random.normal(jax.random.PRNGKey(1), (16, d), jnp.float64)
  ys = np.asarray(y) + 0.3 * np.random.RandomState(2).normal(size=(16, len(y)))

  # One compiled program for all of it (eager calls would compile op by op), compiled fast.
  def compute(x, y, ys):
    out = []
    for t in times:
      tt = jnp.full((16,), t)
      post = analytic.gmm_condition(gmm, A, y, noise_std)
      joint = functools.partial(_joint_log_prob, sde, gmm, A, y, t=t, noise_std=noise_std)
      out.append((analytic.gmm_log_prob(sde, post, x, tt), joint(x=x) - logp_y,
                  score_fn((gmm, y), x, tt), jax.grad(lambda x: jnp.sum(joint(x=x)))(x)))
    # One observation per example: example i scored under p_t(. | y_i).
    batched = score_fn((gmm, ys), x, tt)
    single = jnp.stack([score_fn((gmm, ys[i]), x[i:i + 1], tt[i:i + 1])[0] for i in range(4)])
    return out, batched[:4], single

  out, batched, single = fast_compile.compiled(compute, x, jnp.asarray(y), jnp.asarray(ys))
  for logp, expected, score, grad in out:
    np.testing.assert_allclose(np.asarray(logp), np.asarray(expected), rtol=1e-9, atol=1e-9)
    # Near t = 0 the known directions' scores are ~1/s^2 (1e5 for sub-VP at t = 0.01), and
    # both sides carry rounding of that size into the other entries: tolerance relative to it.
    np.testing.assert_allclose(np.asarray(score), np.asarray(grad),
                               rtol=1e-8, atol=1e-9 * float(np.abs(grad).max()))
  np.testing.assert_allclose(np.asarray(batched), np.asarray(single), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('sde_name', SDES)
def test_class_logits_are_bayes_and_their_gradient_exact(sde_name):
  """log p(k | x_t) = log w_k N(x_t; m mu_k, m^2 Sigma_k + s^2 I) - log p_t(x_t), written out;
  `gmm_class_grad` equals its autodiff gradient."""
  sde = make_sde(sde_name)
  gmm = class_problem()['gmm']
  logit_fn = analytic.gmm_class_logit_fn(sde)
  x = jax.random.normal(jax.random.PRNGKey(3), (12, 2), jnp.float64)
  labels = jnp.arange(12) % 3
  for t in (0.05, 0.5):
    m, s = sde.marginal_prob(jnp.ones((1, 1)), jnp.full((1,), t))
    m, s = float(m[0, 0]), float(s[0])
    w, mu, covs = np.exp(np.asarray(gmm['log_weights'])), np.asarray(gmm['means']), _covs(gmm)
    joint = np.stack([np.log(w[k]) + np.asarray(jax.scipy.stats.multivariate_normal.logpdf(
        x, m * mu[k], m ** 2 * covs[k] + s ** 2 * np.eye(2))) for k in range(3)], -1)
    expected = joint - np.asarray(jax.nn.logsumexp(joint, -1, keepdims=True))
    tt = jnp.full((12,), t)
    np.testing.assert_allclose(np.asarray(logit_fn(gmm, x, tt)), expected, rtol=1e-10)
    grad = jax.grad(lambda x: jnp.sum(jnp.take_along_axis(logit_fn(gmm, x, tt),
                                                          labels[:, None], 1)))(x)
    np.testing.assert_allclose(np.asarray(analytic.gmm_class_grad(sde, gmm, x, tt, labels)),
                               np.asarray(grad), rtol=1e-9, atol=1e-12)


# ------------------------------------------ samplers with the exact conditional score


def _every_sampler_and_sde(test):
  """Marks a slow test run for each SDE and each method, 'pc' and 'ode' (ids sde_name-method)."""
  test = pytest.mark.parametrize('sde_name', SDES)(test)
  test = pytest.mark.parametrize('method', ['pc', 'ode'])(test)
  return pytest.mark.slow(test)


def _inpaint(sde, method, score_fn, shape, **kw):
  if method == 'pc':
    return samplers.get_pc_inpainter(sde, score_fn, shape, snr=SNR, **kw)
  return samplers.get_ode_inpainter(sde, score_fn, shape, **kw)


@_every_sampler_and_sde
def test_inpainter_with_the_conditional_score_samples_the_conditional(sde_name, method):
  sde = make_sde(sde_name)
  p = inpaint_problem()
  inpaint = _inpaint(sde, method, analytic.gmm_conditional_score_fn(sde, p['A']), (N_SAMPLES, 4))
  x, nfe = inpaint(jax.random.PRNGKey(0), (p['gmm'], jnp.asarray(p['y'])),
                   jnp.broadcast_to(p['data'], (N_SAMPLES, 4)), p['mask'])
  x = np.asarray(x)
  assert x.dtype == np.float64
  if method == 'pc':
    assert int(nfe) == 2 * sde.N
  known = p['mask'] > 0
  np.testing.assert_array_equal(x[:, known], np.broadcast_to(p['y'], (N_SAMPLES, 2)))
  check_statistics(x[:, ~known], p['unknown'], 'inpaint', _rho(method))


@_every_sampler_and_sde
def test_colorizer_with_the_conditional_score_samples_the_conditional(sde_name, method):
  sde = make_sde(sde_name)
  c = color_problem()
  shape = (N_SAMPLES, 2, 3)
  score_fn = analytic.gmm_conditional_score_fn(sde, c['A'])
  if method == 'pc':
    colorize = samplers.get_pc_colorizer(sde, score_fn, shape, snr=SNR)
  else:
    colorize = samplers.get_ode_colorizer(sde, score_fn, shape)
  x, nfe = colorize(jax.random.PRNGKey(0), (c['gmm'], jnp.asarray(c['grey'])),
                    jnp.broadcast_to(c['gray'], shape))
  assert x.shape == shape and x.dtype == jnp.float64
  x = np.asarray(x).reshape(N_SAMPLES, 6)
  np.testing.assert_allclose(x @ c['A'].T, np.broadcast_to(c['grey'], (N_SAMPLES, 2)),
                             rtol=0, atol=1e-12)
  check_statistics(x @ c['B'].T, c['colour'], 'colour', _rho(method))


def _class_sampler(sde, method, shape, scale=1.):
  score_fn, logit_fn = analytic.gmm_score_fn(sde), analytic.gmm_class_logit_fn(sde)
  if method == 'pc':
    return samplers.get_pc_conditional_sampler(sde, score_fn, logit_fn, shape, snr=SNR,
                                               scale=scale)
  return samplers.get_ode_conditional_sampler(sde, score_fn, logit_fn, shape, scale=scale)


@functools.cache
def _agreement(k):
  """P(classify(x0) = k) for exact draws of component k, and its standard deviation per sample."""
  gmm = class_problem()['gmm']
  x = analytic.gmm_sample(jax.random.PRNGKey(11), component(gmm, k), 100_000)
  p = float(np.mean(classify(gmm, x) == k))
  return p, np.sqrt(p * (1 - p))


@_every_sampler_and_sde
def test_class_conditional_sampler_draws_from_the_component(sde_name, method):
  """Exact score + exact noisy classifier: each label's samples are its component's
  (moments, log-density) and are classified as it as often as exact draws are."""
  sde = make_sde(sde_name)
  c = class_problem()
  sample = _class_sampler(sde, method, (N_SAMPLES, 2))
  x, nfe = sample(jax.random.PRNGKey(0), c['gmm'], c['gmm'], jnp.asarray(c['labels']))
  x = np.asarray(x)
  if method == 'pc':
    assert int(nfe) == 2 * sde.N
  predicted = classify(c['gmm'], x)
  for k in range(3):
    group = c['labels'] == k
    p, sd = _agreement(k)
    freq = np.mean(predicted[group] == k)
    tol = Z * sd / np.sqrt(group.sum()) + 0.02
    assert abs(freq - p) <= tol, f"label {k}: classified as {k} {freq:.3f}, exact {p:.3f}"
    check_statistics(x[group], component(c['gmm'], k), f'class{k}', _rho(method))


def _agreement_of(x, labels):
  return float(np.mean(classify(class_problem()['gmm'], x) == labels))


@pytest.mark.slow
def test_guidance_scale():
  """scale = 0 is the unconditional PC sampler (same draws); the fraction classified as the
  label grows with the scale, from the unconditional one through the exact conditional one
  (scale 1) to above it (scale 4)."""
  sde = make_sde('vp', N=200)
  c = class_problem()
  shape = (N_SAMPLES, 2)
  labels = jnp.asarray(c['labels'])
  rng = jax.random.PRNGKey(5)
  x0, _ = _class_sampler(sde, 'pc', shape, scale=0.)(rng, c['gmm'], c['gmm'], labels)
  plain, _ = samplers.get_pc_sampler(sde, analytic.gmm_score_fn(sde), shape, snr=SNR)(
      rng, c['gmm'])
  np.testing.assert_allclose(np.asarray(x0), np.asarray(plain), rtol=1e-12, atol=1e-12)
  agree = {0.: _agreement_of(np.asarray(x0), c['labels'])}
  for scale in (1., 4.):
    x, _ = _class_sampler(sde, 'pc', shape, scale=scale)(rng, c['gmm'], c['gmm'], labels)
    agree[scale] = _agreement_of(np.asarray(x), c['labels'])
  exact = np.mean([_agreement(k)[0] for k in range(3)])
  se = 1. / np.sqrt(N_SAMPLES)
  assert agree[0.] < exact - 5 * se < agree[1.] < exact + 5 * se < agree[4.], (agree, exact)


# ---------------------------------- every predictor x corrector pair, inpainting, VP and VE


def _pairs():
  for s in ('vp', 've'):
    sde = make_sde(s)
    for p in ('euler_maruyama', 'reverse_diffusion', 'ancestral_sampling', 'none'):
      for c in ('langevin', 'ald', 'none'):
        if p == 'none' and c == 'none':
          continue
        if p == 'none' and (c == 'ald' and s != 've'):
          continue
        if p == 'ancestral_sampling' and not sde.has_ancestral_step:
          continue
        if (p, c) == ('reverse_diffusion', 'langevin'):
          continue   # tested above
        yield pytest.param(s, p, c, id=f'{s}-{p}-{c}')


@pytest.mark.slow
@pytest.mark.parametrize('sde_name,predictor,corrector', list(_pairs()))
def test_inpainter_every_pair(sde_name, predictor, corrector):
  """The replacement loop is right for every predictor x corrector pair (exact conditional
  score; corrector-only pairs with more Langevin steps, as in tests/test_samplers.py)."""
  sde = make_sde(sde_name)
  p = inpaint_problem()
  n_steps = {'langevin': 2, 'ald': 5}[corrector] if predictor == 'none' else 1
  inpaint = samplers.get_pc_inpainter(sde, analytic.gmm_conditional_score_fn(sde, p['A']),
                                      (N_SAMPLES, 4), predictor=predictor, corrector=corrector,
                                      snr=SNR, n_steps=n_steps)
  x, nfe = inpaint(jax.random.PRNGKey(1), (p['gmm'], jnp.asarray(p['y'])),
                   jnp.broadcast_to(p['data'], (N_SAMPLES, 4)), p['mask'])
  assert int(nfe) == sde.N * ((predictor != 'none') + (corrector != 'none') * n_steps)
  check_statistics(np.asarray(x)[:, p['mask'] == 0], p['unknown'], 'inpaint',
                   _rho('pc', corrector))


# ------------------------------- replacement with the UNCONDITIONAL score: its error, pinned


@functools.cache
def bimodal_problem():
  """(u, v) from two elongated modes, u = 0.5 observed: the conditional puts 0.88 of its weight
  on the upper mode (P(v > 0) = 0.918). In colour: (u, v, w) are the decoupled channels (grey,
  colour 1, colour 2) of one RGB pixel, w ~ N(0, 0.3) independent."""
  c = np.array([[1., .9], [.9, 1.]]) * 0.5
  gmm2 = analytic.gmm([.5, .5], [[-1., -1.5], [1., 1.5]], [c, c])
  c3 = np.zeros((3, 3))
  c3[:2, :2], c3[2, 2] = c, 0.3
  m3 = np.array([[-1., -1.5, 0.], [1., 1.5, 0.]])
  basis = controllable.COLOR_BASIS
  gmm_rgb = analytic.gmm([.5, .5], m3 @ basis.T, np.stack([basis @ c3 @ basis.T] * 2))
  A = analytic.mask_observation([1., 0.])
  post = analytic.gmm_condition(gmm2, A, np.array([0.5]))
  v = np.asarray(jax.jit(analytic.gmm_sample, static_argnums=2)(jax.random.PRNGKey(9), post,
                                                                 200_000))[:, 1]
  return dict(gmm2=gmm2, gmm_rgb=gmm_rgb, A=A, upper=float(np.mean(v > 0)), mean=float(v.mean()),
              sd=float(v.std()))


def _replacement_samples(task, method, conditional, n=4000):
  """The unobserved coordinate v of n samples given u = 0.5 (VP, N = 500)."""
  sde = make_sde('vp')
  b = bimodal_problem()
  if task == 'inpaint':
    score_fn, params = analytic.gmm_score_fn(sde), b['gmm2']
    if conditional:
      score_fn = analytic.gmm_conditional_score_fn(sde, b['A'])
      params = (b['gmm2'], jnp.array([.5]))
    inpaint = _inpaint(sde, method, score_fn, (n, 2))
    x, _ = inpaint(jax.random.PRNGKey(0), params, jnp.tile(jnp.array([[.5, 0.]]), (n, 1)),
                   np.array([1., 0.]))
    return np.asarray(x)[:, 1]
  get = samplers.get_pc_colorizer if method == 'pc' else samplers.get_ode_colorizer
  colorize = get(sde, analytic.gmm_score_fn(sde), (n, 1, 3), **({'snr': SNR} if method == 'pc'
                                                              else {}))
  gray = jnp.full((n, 1, 3), .5 / np.sqrt(3.))      # decoupled grey u = sqrt(3) * channel mean
  x, _ = colorize(jax.random.PRNGKey(0), b['gmm_rgb'], gray)
  return np.asarray(controllable.decouple(x))[:, 0, 1]


# Measured (n = 4000, VP, N = 500; reverse_diffusion + langevin at snr 0.16 / dopri5 at 1e-5):
# P(v > 0) minus the exact 0.918, mean of v minus the exact 0.906; the middle of the inpainting
# and colorization figures (docstring below).
REPLACEMENT_ERROR = {
    'pc': (-0.085, -0.131),
    'ode': (-0.346, -0.590),
}


@pytest.mark.slow
@pytest.mark.parametrize('task', ['inpaint', 'colorize'])
@pytest.mark.parametrize('method', ['pc', 'ode'])
def test_replacement_with_the_unconditional_score_is_an_approximation(method, task):
  """The original's replacement method with the EXACT unconditional score, on a bimodal
  mixture observed between its modes (u = 0.5): given u, P(v > 0) = 0.918 (the upper mode) and
  E[v] = 0.906. Replacement finds (VP, N = 500, n = 4000; standard errors 0.004 and 0.008):

                                        P(v > 0)           E[v]
                                    inpaint colorize  inpaint colorize
    PC (reverse_diffusion+langevin)  0.821   0.845     0.763   0.788
    probability-flow ODE (dopri5)    0.566   0.578     0.307   0.325

  (colorization is replacement in the decoupled colour space: there grey plays u and a colour
  coordinate v). The ODE is far worse: its known coordinates carry one fixed noise draw, which
  steers the unknown ones instead of being averaged over. This test pins each error to the
  middle of its two figures within 5 standard errors of a difference (either figure is an
  estimate), and checks that the exact conditional score in the same sampler is right:
  P(v > 0) 0.915 (PC), 0.917 (ODE); E[v] 0.904, 0.903."""
  b = bimodal_problem()
  v = _replacement_samples(task, method, conditional=False)
  n = len(v)
  upper_err, mean_err = np.mean(v > 0) - b['upper'], v.mean() - b['mean']
  se_upper, se_mean = np.sqrt(b['upper'] * (1 - b['upper']) / n), b['sd'] / np.sqrt(n)
  pinned_upper, pinned_mean = REPLACEMENT_ERROR[method]
  assert abs(upper_err - pinned_upper) <= Z * se_upper * np.sqrt(2), (upper_err, pinned_upper)
  assert abs(mean_err - pinned_mean) <= Z * se_mean * np.sqrt(2), (mean_err, pinned_mean)
  assert abs(pinned_upper) > 2 * Z * se_upper   # an approximation, well beyond sampling error
  if task == 'inpaint':
    v = _replacement_samples(task, method, conditional=True)
    assert abs(np.mean(v > 0) - b['upper']) <= Z * se_upper + 0.01
    assert abs(v.mean() - b['mean']) <= Z * se_mean + 0.02


# -------------------------------------------------------------------- bad input


def _small_inpainter(**kw):
  sde = make_sde('vp', N=50)
  return samplers.get_pc_inpainter(sde, analytic.gmm_score_fn(sde), (8, 4), **kw)


@pytest.mark.parametrize('mask,match', [
    (np.ones((8, 3)), r"mask has shape \(8, 3\); allowed: the data's shape \(8, 4\) or one "
                      r"example's \(4,\)"),
    (np.ones((2, 4)), r"mask has shape \(2, 4\)"),
    (np.full((4,), 0.5), r"mask holds values \[0.5\]; allowed: 0 \(to inpaint\) and 1 \(known\)"),
    (np.array([0., 1., 2., 1.]), r"mask holds values \[0.0, 1.0, 2.0\]"),
])
def test_inpainter_rejects_bad_masks(mask, match):
  inpaint = _small_inpainter()
  with pytest.raises(ValueError, match=match):
    inpaint(jax.random.PRNGKey(0), inpaint_problem()['gmm'], jnp.zeros((8, 4)), mask)


def test_inpainter_rejects_bad_data_and_arguments():
  inpaint = _small_inpainter()
  with pytest.raises(ValueError, match=r"data has shape \(8, 3\); the inpainter was built for "
                                       r"shape \(8, 4\)"):
    inpaint(jax.random.PRNGKey(0), inpaint_problem()['gmm'], jnp.zeros((8, 3)), np.ones(4))
  with pytest.raises(ValueError, match="predictor='heun' is not a predictor; allowed: "):
    _small_inpainter(predictor='heun')
  with pytest.raises(ValueError, match="n_steps=-1 must be an integer >= 0"):
    _small_inpainter(n_steps=-1)
  with pytest.raises(ValueError, match=r"eps=2.0 must be a number in \(0, T\)"):
    _small_inpainter(eps=2.)
  with pytest.raises(ValueError, match="predictor='none' with corrector='none'"):
    _small_inpainter(predictor='none', corrector='none')


def test_colorizer_rejects_one_channel_models_and_colour_input():
  sde = make_sde('vp', N=50)
  for get in (samplers.get_pc_colorizer, samplers.get_ode_colorizer):
    with pytest.raises(ValueError, match=r"shape=\(8, 4, 4, 1\): colorization needs RGB data, "
                                         r"channels last \(..., 3\); a 1-channel model"):
      get(sde, analytic.gmm_score_fn(sde), (8, 4, 4, 1))
  colorize = samplers.get_pc_colorizer(sde, analytic.gmm_score_fn(sde), (8, 2, 3))
  gmm = color_problem()['gmm']
  rgb = jnp.tile(jnp.array([0.1, 0.2, 0.3]), (8, 2, 1))
  with pytest.raises(ValueError, match="gray must have equal channels"):
    colorize(jax.random.PRNGKey(0), gmm, rgb)
  with pytest.raises(ValueError, match=r"gray has shape \(8, 6\); the colorizer was built for "
                                       r"shape \(8, 2, 3\)"):
    colorize(jax.random.PRNGKey(0), gmm, jnp.zeros((8, 6)))


def test_conditional_sampler_rejects_bad_labels_and_scales():
  sde = make_sde('vp', N=50)
  gmm = class_problem()['gmm']
  for get in (samplers.get_pc_conditional_sampler, samplers.get_ode_conditional_sampler):
    sample = get(sde, analytic.gmm_score_fn(sde), analytic.gmm_class_logit_fn(sde), (6, 2))
    with pytest.raises(ValueError, match=r"labels hold values in \[0, 3\]; the classifier has 3 "
                                         "classes: allowed 0 to 2"):
      sample(jax.random.PRNGKey(0), gmm, gmm, jnp.array([0, 1, 2, 3, 0, 1]))
    with pytest.raises(ValueError, match=r"labels hold values in \[-1, 2\]"):
      sample(jax.random.PRNGKey(0), gmm, gmm, jnp.array([0, 1, 2, -1, 0, 1]))
    with pytest.raises(ValueError, match=r"labels has shape \(5,\); it must be \(6,\)"):
      sample(jax.random.PRNGKey(0), gmm, gmm, jnp.arange(5) % 3)
    with pytest.raises(ValueError, match="labels has dtype float64; it must hold integer"):
      sample(jax.random.PRNGKey(0), gmm, gmm, jnp.zeros(6))
    with pytest.raises(ValueError, match=r"scale=-1.0 must be a finite number >= 0"):
      get(sde, analytic.gmm_score_fn(sde), analytic.gmm_class_logit_fn(sde), (6, 2), scale=-1.)
  # A classifier built for other data: the error says which call failed and why.
  sample = samplers.get_pc_conditional_sampler(sde, analytic.gmm_score_fn(sde),
                                               analytic.gmm_class_logit_fn(sde), (6, 3))
  with pytest.raises(ValueError, match=r"logit_fn\(classifier_params, x, t\) failed for x of "
                                       r"shape \(6, 3\)"):
    sample(jax.random.PRNGKey(0), color_problem()['gmm'], gmm, jnp.zeros(6, int))


def test_gmm_condition_rejects_bad_observations():
  p = inpaint_problem()
  gmm = p['gmm']
  with pytest.raises(ValueError, match=r"A has shape \(2, 3\); it must be \(m, d\) = \(m, 4\)"):
    analytic.gmm_condition(gmm, np.ones((2, 3)), np.zeros(2))
  with pytest.raises(ValueError, match=r"y has shape \(3,\); it must be \(2,\) or \(batch, 2\)"):
    analytic.gmm_condition(gmm, p['A'], np.zeros(3))
  with pytest.raises(ValueError, match=r"singular for component\(s\) \[0, 1, 2\]: with "
                                       "noise_std=0.0, A must have full row rank"):
    analytic.gmm_condition(gmm, np.array([[1., 0, 0, 0], [2., 0, 0, 0]]), np.zeros(2), 0.)
  with pytest.raises(ValueError, match="noise_std=-1.0 must be >= 0"):
    analytic.gmm_condition(gmm, p['A'], np.zeros(2), -1.)
  with pytest.raises(ValueError, match="mask must hold only 0 .unknown. and 1 .known."):
    analytic.mask_observation([0., 0.5])
  # The same degenerate observation with noise is well posed.
  post = analytic.gmm_condition(gmm, np.array([[1., 0, 0, 0], [2., 0, 0, 0]]), np.zeros(2), 0.1)
  assert np.all(np.isfinite(np.asarray(post['means'])))


# ------------------------------------------------------------ structure and jit


def test_inpainter_is_one_loop_jits_and_keeps_the_dtype():
  """One fori_loop of N steps inside one jit; the same draws under an outer jit; float32 params
  give float32 samples; different keys give different samples."""
  sde = make_sde('ve', N=20)
  gmm = inpaint_problem()['gmm']
  inpaint = samplers.get_pc_inpainter(sde, analytic.gmm_score_fn(sde), (8, 4), corrector='none')
  data, mask = jnp.zeros((8, 4)), np.array([1., 0., 1., 0.])
  jaxpr = jax.make_jaxpr(inpaint)(jax.random.PRNGKey(0), gmm, data, mask).jaxpr
  inner = jaxpr.eqns[-1].params['jaxpr'].jaxpr
  loops = [e for e in inner.eqns if e.primitive.name in ('scan', 'while')]
  assert len(loops) == 1 and loops[0].params.get('length') == sde.N
  x, nfe = inpaint(jax.random.PRNGKey(0), gmm, data, mask)
  x_jit, nfe_jit = jax.jit(inpaint)(jax.random.PRNGKey(0), gmm, data, mask)
  np.testing.assert_allclose(np.asarray(x), np.asarray(x_jit), rtol=1e-12)
  assert int(nfe) == int(nfe_jit) == sde.N
  x_other, _ = inpaint(jax.random.PRNGKey(1), gmm, data, mask)
  assert not np.allclose(np.asarray(x), np.asarray(x_other))
  gmm32 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), gmm)
  assert inpaint(jax.random.PRNGKey(0), gmm32, data, mask)[0].dtype == jnp.float32
