"""DDPM, NCSN and NCSNv2 networks and their normalisation layers.

Normalisation layers are checked in float64 against direct numpy formulas.
Networks are checked on tiny variants (every option value at least once):
shapes, finiteness, what `conditional` and `scale_by_sigma` do, the two
label conventions, bfloat16 against float32, and a tiny DDPM that learns
scikit-learn's 8x8 digits. Compilation dominates the cost on CPU, so each
network variant is compiled once, several label values travel in one batch,
and most checks run on random parameters (shapes from `jax.eval_shape`,
values from numpy) instead of a compiled `init`.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
import sde_lib
from configs.default_cifar10_configs import get_default_configs
from models import config_utils, normalization
from fast_compile import compiled

# ----------------------------------------------------------------------------
# helpers


def tiny_config(name, **model_fields):
  """A small network of the given family; `centered` and `image_size` go to config.data."""
  config = get_default_configs()
  m = config.model
  m.name = name
  if name == 'ddpm':
    m.update(dict(nf=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,), dropout=0.1,
                  resamp_with_conv=True, conditional=True, scale_by_sigma=False,
                  nonlinearity='swish', normalization='GroupNorm'))
    config.data.image_size = 8
  else:
    m.update(dict(nf=8, normalization='InstanceNorm++', nonlinearity='elu',
                  interpolation='bilinear', scale_by_sigma=False, num_scales=10, sigma_max=1.))
    config.data.image_size = 16
  for key in ('centered', 'image_size'):
    if key in model_fields:
      config.data[key] = model_fields.pop(key)
  m.update(model_fields)
  return config


def random_variables(model, x, labels, seed=0):
  """Parameters of the model's shapes with fan-in-scaled random values (numpy, no compile).

  Unlike the real init (whose zero-initialised output layers make outputs
  ~1e-10), every path then carries signal, so a broken connection shows.
  """
  shapes = jax.eval_shape(lambda: model.init({'params': jax.random.PRNGKey(0),
                                              'dropout': jax.random.PRNGKey(1)}, x, labels))
  rng = np.random.default_rng(seed)

  def leaf(path, s):
    name = str(getattr(path[-1], 'key', path[-1]))
    if name == 'embedding':                      # class tables: [scales | biases]
      v = 1. + 0.1 * rng.normal(size=s.shape)
    elif len(s.shape) >= 2:                      # kernels
      v = rng.normal(size=s.shape) / np.sqrt(np.prod(s.shape[:-1]))
    elif name in ('scale', 'gamma', 'alpha'):
      v = 1. + 0.1 * rng.normal(size=s.shape)
    else:
      v = 0.1 * rng.normal(size=s.shape)
    return jnp.asarray(v, s.dtype)

  return jax.tree_util.tree_map_with_path(leaf, shapes)


def images(n, size, seed=1):
  return jax.random.uniform(jax.random.PRNGKey(seed), (n, size, size, 3), jnp.float32)




def apply(config, variables, x, labels, train=False, rng=None):
  """The config's network applied to a batch (one compile per call: callers batch labels)."""
  model = models.get_model(config)
  rngs = {'dropout': rng} if train else {}
  return compiled(lambda v, x, l: model.apply(v, x, l, train=train, rngs=rngs), variables, x, labels)


def rel_err(a, b):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return np.linalg.norm(a - b) / np.linalg.norm(b)


# ----------------------------------------------------------------------------
# normalisation layers, float64, against numpy


def _x64(seed=0, shape=(3, 5, 4, 6)):
  rng = np.random.default_rng(seed)
  return rng.normal(size=shape) * rng.uniform(0.5, 3., size=shape[-1]) + rng.normal(size=shape[-1])


def _np_standardize(x, center=True):
  mu = x.mean(axis=(1, 2), keepdims=True)
  var = x.var(axis=(1, 2), keepdims=True)
  return ((x - mu) if center else x) / np.sqrt(var + 1e-5), mu[:, 0, 0, :]


def _np_instance_norm_plus(x, gamma, alpha, beta):
  h, mu = _np_standardize(x)
  means_plus = (mu - mu.mean(-1, keepdims=True)) / np.sqrt(mu.var(-1, keepdims=True) + 1e-5)
  return gamma * (h + alpha * means_plus[:, None, None, :]) + beta


def _params(rng, c, names):
  return {n: rng.normal(size=(c,)) for n in names}


def test_instance_norm_plus_matches_formula():
  """InstanceNorm++ = gamma * (instance-normalised x + alpha * normalised channel means) + beta."""
  x = _x64()
  p = _params(np.random.default_rng(1), 6, ('gamma', 'alpha', 'beta'))
  out = normalization.InstanceNormPlus().apply({'params': p}, jnp.asarray(x))
  assert out.dtype == jnp.float64
  np.testing.assert_allclose(out, _np_instance_norm_plus(x, **p), rtol=1e-10, atol=1e-12)


def test_instance_norm_plus_keeps_what_instance_norm_drops():
  """Images differing only by per-channel offsets: instance norm maps them to the same output,
  InstanceNorm++ does not (its alpha term sees the channel means)."""
  x = _x64()
  shifted = x + np.random.default_rng(3).normal(size=(3, 1, 1, 6)) * 5.
  p = {'scale': np.ones(6), 'bias': np.zeros(6)}
  inorm = lambda v: normalization.InstanceNorm().apply({'params': p}, jnp.asarray(v))  # noqa: E731
  np.testing.assert_allclose(inorm(x), inorm(shifted), atol=1e-10)
  pp = {'gamma': np.ones(6), 'alpha': np.ones(6), 'beta': np.zeros(6)}
  plus = lambda v: normalization.InstanceNormPlus().apply({'params': pp}, jnp.asarray(v))  # noqa: E731
  assert np.abs(np.asarray(plus(x) - plus(shifted))).max() > 0.1


@pytest.mark.parametrize('use_bias', [True, False])
def test_instance_norm_matches_formula(use_bias):
  """InstanceNorm = scale * (x - mean_hw) / sqrt(var_hw + 1e-5) (+ bias), per image and channel."""
  x = _x64(2)
  p = _params(np.random.default_rng(4), 6, ('scale', 'bias') if use_bias else ('scale',))
  out = normalization.InstanceNorm(use_bias=use_bias).apply({'params': p}, jnp.asarray(x))
  expected = _np_standardize(x)[0] * p['scale'] + (p['bias'] if use_bias else 0.)
  np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


def test_variance_norm_matches_formula():
  """VarianceNorm = scale * x / sqrt(var_hw + 1e-5): no centring."""
  x = _x64(5)
  p = _params(np.random.default_rng(6), 6, ('scale',))
  out = normalization.VarianceNorm().apply({'params': p}, jnp.asarray(x))
  np.testing.assert_allclose(out, _np_standardize(x, center=False)[0] * p['scale'],
                             rtol=1e-10, atol=1e-12)


def test_group_norm_matches_formula():
  """GroupNorm(32 groups, eps 1e-6) normalises each group of channels over pixels and channels."""
  x = _x64(7, (2, 3, 3, 64))
  p = {'norm': _params(np.random.default_rng(8), 64, ('scale', 'bias'))}
  out = normalization.GroupNorm().apply({'params': p}, jnp.asarray(x))
  g = x.reshape(2, 3, 3, 32, 2)
  mu, var = g.mean(axis=(1, 2, 4), keepdims=True), g.var(axis=(1, 2, 4), keepdims=True)
  expected = ((g - mu) / np.sqrt(var + 1e-6)).reshape(x.shape) * p['norm']['scale'] + p['norm']['bias']
  np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-10)


CONDITIONAL_PAIRS = [
    (normalization.ConditionalInstanceNormPlus, normalization.InstanceNormPlus,
     ('gamma', 'alpha', 'beta')),
    (normalization.ConditionalInstanceNorm, normalization.InstanceNorm, ('scale', 'bias')),
    (normalization.ConditionalVarianceNorm, normalization.VarianceNorm, ('scale',)),
]


@pytest.mark.parametrize('cond_cls,plain_cls,names', CONDITIONAL_PAIRS,
                         ids=lambda v: getattr(v, '__name__', None))
def test_conditional_norm_picks_the_class_row(cond_cls, plain_cls, names):
  """A conditional norm applied with class y equals its unconditional version whose
  parameters are row y of the class table, split [gamma | alpha | beta] in that order."""
  k, c = 4, 6
  x = _x64(9)
  table = np.random.default_rng(10).normal(size=(k, len(names) * c))
  y = np.array([2, 0, 3])
  out = cond_cls(num_classes=k).apply({'params': {'embedding': table}}, jnp.asarray(x), jnp.asarray(y))
  for i, cls in enumerate(y):
    row = {n: table[cls, j * c:(j + 1) * c] for j, n in enumerate(names)}
    expected = plain_cls().apply({'params': row}, jnp.asarray(x[i:i + 1]))
    np.testing.assert_allclose(out[i:i + 1], expected, rtol=1e-10, atol=1e-12)


def test_norm_initialisation():
  """Multiplicative parameters start at N(1, 0.02^2), additive ones at 0 (the NCSN init),
  in both the plain InstanceNorm++ and the class tables of the conditional one."""
  x = jnp.zeros((1, 2, 2, 512), jnp.float32)
  p = normalization.InstanceNormPlus().init(jax.random.key(0, impl='rbg'), x)['params']
  for name in ('gamma', 'alpha'):
    assert p[name].dtype == jnp.float32
    assert abs(float(p[name].mean()) - 1.) < 0.005 and 0.015 < float(p[name].std()) < 0.025
  assert not np.any(np.asarray(p['beta']))
  table = normalization.ConditionalInstanceNormPlus(num_classes=3).init(
      jax.random.key(1, impl='rbg'), x, jnp.array([0]))['params']['embedding']
  assert table.shape == (3, 3 * 512)
  assert abs(float(table[:, :1024].mean()) - 1.) < 0.005
  assert not np.any(np.asarray(table[:, 1024:]))


def test_norm_bfloat16():
  """bfloat16 in, bfloat16 out, statistics in float32: within bfloat16 rounding of float32."""
  x = _x64(11).astype(np.float32)
  p = _params(np.random.default_rng(12), 6, ('gamma', 'alpha', 'beta'))
  f32 = normalization.InstanceNormPlus().apply({'params': p}, jnp.asarray(x))
  b16 = normalization.InstanceNormPlus().apply({'params': p}, jnp.asarray(x, jnp.bfloat16))
  assert b16.dtype == jnp.bfloat16
  assert rel_err(b16, f32) < 1e-2


def test_get_normalization_from_config():
  """get_normalization maps config names to layers, conditional ones with num_scales rows,
  and names the field and the allowed values for anything else."""
  config = tiny_config('ncsn', num_scales=7)
  factory = normalization.get_normalization(config, conditional=True)
  assert factory().num_classes == 7 and isinstance(factory(), normalization.ConditionalInstanceNormPlus)
  config.model.normalization = 'GroupNorm'
  assert isinstance(normalization.get_normalization(config)(), normalization.GroupNorm)
  with pytest.raises(ValueError, match=r"config.model.normalization='GroupNorm'.*InstanceNorm\+\+"):
    normalization.get_normalization(config, conditional=True)
  config.model.normalization = 'BatchNorm'
  with pytest.raises(ValueError, match=r"config.model.normalization='BatchNorm'"):
    normalization.get_normalization(config)


def test_conditional_norm_rejects_non_integer_classes():
  """A conditional norm fed a float label fails loudly instead of truncating it."""
  layer = normalization.ConditionalInstanceNormPlus(num_classes=3)
  with pytest.raises(TypeError, match='integer class indices'):
    layer.apply({'params': {'embedding': jnp.ones((3, 12))}}, jnp.zeros((1, 2, 2, 4)), jnp.array([1.]))


# ----------------------------------------------------------------------------
# the noise-label conventions


def test_sigmas_and_label_mapping():
  """get_sigmas runs sigma_max -> sigma_min geometrically; integer labels index it, float
  labels are sigma itself, and a sigma maps to the index of its nearest level in log-space."""
  config = tiny_config('ncsn', sigma_min=0.01, sigma_max=1., num_scales=3)
  sigmas = config_utils.get_sigmas(config)
  np.testing.assert_allclose(sigmas, [1., 0.1, 0.01], rtol=1e-12)
  idx = jnp.array([0, 2, 1], jnp.int32)
  np.testing.assert_allclose(config_utils.label_sigmas(idx, sigmas), [1., 0.01, 0.1], rtol=1e-6)
  np.testing.assert_allclose(config_utils.label_sigmas(jnp.array([0.3]), sigmas), [0.3], rtol=1e-6)
  between = jnp.array([1., 0.5, 0.2, 0.05, 0.02, 0.01, 100., 1e-4])
  np.testing.assert_array_equal(config_utils.label_index(between, sigmas), [0, 0, 1, 1, 2, 2, 0, 2])
  # The discrete VE label of models.scoring indexes this table: t = T is sigma_max.
  sde = sde_lib.VESDE(0.01, 1., 3)
  t = jnp.array([1., 0.5, 0.])
  labels = models.noise_labels(sde, t, continuous=False)
  np.testing.assert_allclose(config_utils.label_sigmas(labels, sigmas), sde.sigma(t), rtol=1e-6)


# ----------------------------------------------------------------------------
# DDPM

DDPM_A = dict(conditional=True, resamp_with_conv=True, scale_by_sigma=False, centered=True,
              nonlinearity='swish', attn_resolutions=(4,))
DDPM_B = dict(conditional=False, resamp_with_conv=False, scale_by_sigma=True, centered=False,
              nonlinearity='elu', attn_resolutions=(8,), num_res_blocks=2, num_scales=10)


def test_ddpm_conditional_forward_dropout_and_bfloat16():
  """Conditional DDPM (resampling convs, attention at 4x4, centred input): float32 output of
  the input's shape, finite, different for different labels; train=True applies dropout;
  model.dtype='bfloat16' (float32 parameters, float32 output) stays within 5% relative L2
  error of float32 on the same parameters."""
  config = tiny_config('ddpm', **DDPM_A)
  model = models.get_model(config)
  x = jnp.concatenate([images(1, 8) * 2 - 1] * 3)
  labels = jnp.array([0., 0., 700.])
  variables = random_variables(model, x, labels)
  out = apply(config, variables, x, labels)
  assert out.shape == x.shape and out.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(out)))
  np.testing.assert_allclose(out[1], out[0], rtol=1e-5, atol=1e-6)
  assert rel_err(out[2], out[0]) > 1e-2             # same image, other label: the label enters
  out_train = apply(config, variables, x, labels, train=True, rng=jax.random.PRNGKey(3))
  assert rel_err(out_train, out) > 1e-3             # dropout is active in training
  config.model.dtype = 'bfloat16'
  out_bf16 = apply(config, variables, x, labels)
  assert out_bf16.dtype == jnp.float32
  assert all(v.dtype == jnp.float32 for v in jax.tree_util.tree_leaves(variables))
  assert rel_err(out_bf16, out) < 0.05


def test_ddpm_unconditional_scale_by_sigma():
  """Unconditional DDPM ignores the label except through scale_by_sigma: out * sigma(label)
  is the same for every label, integer labels index sigma_max..sigma_min, and a float label
  is the sigma it divides by. Also covers no resampling convs, elu, uncentred input,
  attention at full resolution and two blocks per level."""
  config = tiny_config('ddpm', **DDPM_B)
  model = models.get_model(config)
  x = jnp.concatenate([images(1, 8)] * 3)
  labels = jnp.array([0, 4, 9], jnp.int32)
  variables = random_variables(model, x, labels)
  out = apply(config, variables, x, labels)
  assert out.shape == x.shape and out.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(out)))
  sigmas = config_utils.get_sigmas(config)[np.asarray(labels)]
  unscaled = np.asarray(out) * sigmas[:, None, None, None]
  np.testing.assert_allclose(unscaled[1:], unscaled[:1].repeat(2, 0), rtol=2e-5, atol=1e-6)
  out_f = apply(config, variables, x, jnp.array([0.5, 2., 30.]))
  np.testing.assert_allclose(np.asarray(out_f) * np.array([0.5, 2., 30.])[:, None, None, None],
                             unscaled, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize('field,value,match', [
    ('normalization', 'InstanceNorm++', r"config.model.normalization='InstanceNorm\+\+'.*GroupNorm"),
    ('nf', 48, r'config.model.nf=48 must be a positive multiple of 32'),
    ('nonlinearity', 'tanh', r"config.model.nonlinearity='tanh'"),
    ('dtype', 'float16', r"config.model.dtype='float16'.*bfloat16"),
    ('ch_mult', (), r'config.model.ch_mult'),
    ('dropout', 1.5, r'config.model.dropout=1.5'),
])
def test_ddpm_bad_options_fail_naming_the_field(field, value, match):
  """A bad DDPM option fails when the network is built, naming the field and what is allowed."""
  config = tiny_config('ddpm', **{field: value})
  with pytest.raises(ValueError, match=match):
    models.get_model(config)


def test_ddpm_rejects_indivisible_image_size():
  """An image size that the levels cannot halve fails with the sizes involved."""
  model = models.get_model(tiny_config('ddpm', ch_mult=(1, 2, 2)))
  with pytest.raises(ValueError, match=r'6x6 is not divisible by 2\^\(len\(ch_mult\) - 1\) = 4'):
    jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 6, 6, 3)), jnp.zeros((1,))))


# ----------------------------------------------------------------------------
# NCSN / NCSNv2

# Each option value at least once: names, (conditional) normalisations, interpolations,
# activations, centring, scale_by_sigma. Unconditional VarianceNorm is covered by the layer test.
NCSN_VARIANTS = {
    'ncsn_instancenorm++': ('ncsn', dict()),
    'ncsn_instancenorm': ('ncsn', dict(normalization='InstanceNorm', nonlinearity='swish')),
    'ncsn_variancenorm': ('ncsn', dict(normalization='VarianceNorm', interpolation='nearest_neighbor',
                                       centered=True)),
    'ncsnv2_64_instancenorm++': ('ncsnv2_64', dict(nonlinearity='relu', centered=True,
                                                   scale_by_sigma=True)),
    'ncsnv2_128_groupnorm': ('ncsnv2_128', dict(nf=32, normalization='GroupNorm', nonlinearity='lrelu',
                                                interpolation='nearest_neighbor')),
    'ncsnv2_256_instancenorm': ('ncsnv2_256', dict(normalization='InstanceNorm', scale_by_sigma=True,
                                                   image_size=32)),
}
SIGMA_LABEL_CHECKS = ('ncsn_instancenorm++', 'ncsnv2_64_instancenorm++')
BFLOAT16_CHECKS = ('ncsn_instancenorm++',)


@pytest.mark.parametrize('variant', sorted(NCSN_VARIANTS))
def test_ncsn_forward(variant):
  """Each variant maps (B, H, W, 3) to a finite float32 array of the same shape. NCSN v1
  (conditional) gives different outputs for different noise indices and the same for equal
  ones; NCSNv2 sees the label only through scale_by_sigma: out * sigma(label) is the same
  for every label (and out itself when scale_by_sigma is off).

  For the paper's two networks also: continuous VE labels (sigma itself) give exactly the
  output of the discrete index of the same level, and NCSN v1 in bfloat16 (float32
  statistics and output) is within 5% relative L2 error of float32."""
  name, fields = NCSN_VARIANTS[variant]
  config = tiny_config(name, **fields)
  size = config.data.image_size
  model = models.get_model(config)
  x = jnp.concatenate([images(1, size)] * 3 + [images(1, size, seed=2)])
  labels = jnp.array([1, 1, 8, 8], jnp.int32)
  variables = random_variables(model, x, labels)
  out = apply(config, variables, x, labels)
  assert out.shape == x.shape and out.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(out)))
  np.testing.assert_allclose(out[1], out[0], rtol=1e-5, atol=1e-6)
  assert rel_err(out[3], out[2]) > 1e-2              # the input matters
  sigmas = config_utils.get_sigmas(config)[np.asarray(labels)]
  unscaled = np.asarray(out) * (sigmas[:, None, None, None] if config.model.scale_by_sigma else 1.)
  if name == 'ncsn':
    assert rel_err(unscaled[2], unscaled[0]) > 1e-2   # conditional normalisation sees the index
  else:
    np.testing.assert_allclose(unscaled[2], unscaled[0], rtol=2e-5, atol=1e-6)
  if variant in SIGMA_LABEL_CHECKS:
    out_sigma = apply(config, variables, x, jnp.asarray(sigmas, jnp.float32))
    np.testing.assert_allclose(out_sigma, out, rtol=1e-5, atol=1e-6)
  if variant in BFLOAT16_CHECKS:
    config.model.dtype = 'bfloat16'
    out_bf16 = apply(config, variables, x, labels)
    assert out_bf16.dtype == jnp.float32
    assert rel_err(out_bf16, out) < 0.05


@pytest.mark.parametrize('field,value,match', [
    ('interpolation', 'bicubic', r"config.model.interpolation='bicubic'.*nearest_neighbor"),
    ('normalization', 'LayerNorm', r"config.model.normalization='LayerNorm'"),
    ('nonlinearity', 'gelu', r"config.model.nonlinearity='gelu'"),
    ('sigma_min', 2., r'config.model.sigma_min < config.model.sigma_max'),
])
def test_ncsn_bad_options_fail_naming_the_field(field, value, match):
  """A bad NCSN option fails when the network is built, naming the field."""
  with pytest.raises(ValueError, match=match):
    models.get_model(tiny_config('ncsnv2_64', **{field: value}))


def test_ncsnv2_256_matches_original_param_count():
  """ncsnv2_256, used by no config, has the original's parameter count at nf=128 (the
  formula walk of tests/test_configs_ddpm_ncsn.py gives 94,132,611)."""
  config = tiny_config('ncsnv2_256', nf=128, image_size=256)
  variables = jax.eval_shape(lambda: models.init_model(jax.random.PRNGKey(0), config)[1])
  assert sum(int(np.prod(v.shape)) for v in jax.tree_util.tree_leaves(variables)) == 94132611


# ----------------------------------------------------------------------------
# a tiny DDPM learns


@pytest.mark.slow
def test_ddpm_learns_digits():
  """A small DDPM (real init, one level, attention in the middle) trained 100 Adam steps
  with the DDPM loss of training.losses on scikit-learn's 8x8 digits in [-1, 1]: the mean
  loss of the last 10 steps is below half the first step's (observed: about 1.0 -> 0.1; at
  init the output is ~0, so the loss starts at E|z|^2 = 1)."""
  from sklearn.datasets import load_digits
  from experiment import state as state_lib
  from training import losses

  digits = load_digits().images.astype(np.float32) / 16.          # (1797, 8, 8) in [0, 1]
  data = jnp.asarray(np.repeat(digits[..., None], 3, -1) * 2 - 1)  # centred, 3 channels
  config = tiny_config('ddpm', dropout=0., centered=True, ch_mult=(1,), attn_resolutions=())
  config.training.sde, config.training.continuous = 'vpsde', False
  config.training.reduce_mean = True
  config.optim.lr, config.optim.warmup = 2e-3, 0
  sde = sde_lib.get_sde(config)
  model = models.get_model(config)
  variables = compiled(lambda k: models.init_model(k, config)[1], jax.random.key(0, impl='rbg'))
  loss_fn = losses.get_loss_fn(config, sde, model, train=True)
  optimizer = state_lib.get_optimizer(config)

  @jax.jit  # default compile: the steps run much slower without backend optimisations
  def step(params, opt_state, rng):
    idx = jax.random.choice(jax.random.fold_in(rng, 1), data.shape[0], (32,), replace=False)
    loss, grads = jax.value_and_grad(lambda p: loss_fn(rng, p, data[idx]))(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return jax.tree.map(lambda p, u: p + u, params, updates), opt_state, loss

  params, opt_state, history = variables, optimizer.init(variables), []
  for rng in jax.random.split(jax.random.PRNGKey(1), 100):
    params, opt_state, loss = step(params, opt_state, rng)
    history.append(loss)
  history = np.asarray(history)
  first, last = history[0], history[-10:].mean()
  assert 0.8 < first < 1.2
  assert last < 0.5 * first
