"""Controllable generation with an unconditional score model (Song et al., 2021, Section 5).

Three inverse problems, each as a predictor-corrector sampler (one jitted
`fori_loop`, any SDE, any valid predictor x corrector pair, like
`get_pc_sampler`) and on the probability-flow ODE (one diffrax solve, like
`get_ode_sampler`):

  - inpainting (`mask`: 1 = known): the original's replacement method. After
    every corrector and predictor update, the known pixels are replaced by the
    data pushed through the forward SDE to the time the state is at.
  - colorization: the same replacement in the decoupled colour space x @ M,
    M orthonormal with first column (1, 1, 1) / sqrt(3), where the grey image
    is channel 0 and the two other channels carry the colour.
  - class-conditional sampling: the score plus `scale` times the gradient of
    a noise-conditional classifier's log p(label | x_t); scale = 1 is the
    exact conditional score nabla log p_t(x | label) when the classifier is
    exact (Bayes), scale != 1 the usual guidance.

Replacement is exact when the score is the exact conditional one
(`models.analytic.gmm_conditional_score_fn`): given y, the known coordinates
of x_t are m(t) y + s(t) z independently of the rest, which is what the
replacement draws. With the unconditional score it is an approximation (the
unknown pixels see noised data, not y); tests/test_controllable.py measures
its error on a bimodal mixture.

Differences from the original's code (controllable_generation.py): the known
pixels are noised to the time the state is at after a predictor step (the
next time; the original used the current one, one step off) and are exactly
the data after the last step; the denoised output keeps the unknown pixels'
mean (the original's `x_mean` took them from the noisy `x`, so its
`denoise=True` did not denoise them); the initial known pixels are noised to
T, not clean.

On the probability-flow ODE, replacement becomes: the known coordinates
follow their exact flow given y, m(t) y + s(t) z_known with one fixed draw
z_known (the probability flow of N(m(t) y, s(t)^2 I)), the unknown ones the
probability flow of the model's score. That is the probability flow of
p_t(x | y) when the score is the exact conditional one, and an approximation
otherwise, as for PC.
"""
import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from samplers import _common
from samplers.ode import get_ode_sampler
from samplers.pc import check_pc_args, get_pc_sampler
from sde_lib import batch_mul
from utils import checks

# The original's orthonormal colour basis, exactly: columns (1,1,1)/sqrt3, (-2,1,1)/sqrt6,
# (0,1,-1)/sqrt2. decouple(x) = x @ M puts grey (sqrt(3) times the channel mean) in channel 0.
COLOR_BASIS = np.stack([np.array([1., 1., 1.]) / np.sqrt(3.),
                        np.array([-2., 1., 1.]) / np.sqrt(6.),
                        np.array([0., 1., -1.]) / np.sqrt(2.)], axis=1)


def decouple(x):
  """RGB (last axis) to the decoupled colour space x @ M: grey in channel 0."""
  return jnp.einsum('...i,ij->...j', x, jnp.asarray(COLOR_BASIS, x.dtype))


def couple(x):
  """The inverse of `decouple` (M is orthonormal: x @ M^T)."""
  return jnp.einsum('...j,ij->...i', x, jnp.asarray(COLOR_BASIS, x.dtype))


def _identity(x):
  return x


def _default_eps(sde, eps):
  if eps is None:
    from samplers import default_eps   # the package's one home of the convention; lazy: no cycle
    return default_eps(sde)
  return _common.check_eps(eps, sde)


def _concrete(x):
  return not isinstance(x, jax.core.Tracer)


def _check_data_mask(shape, data, mask):
  """data of `shape`; mask of `shape` or `shape[1:]` (one mask for the batch), values in {0, 1}."""
  if jnp.shape(data) != shape:
    raise ValueError(f"data has shape {jnp.shape(data)}; the inpainter was built for shape {shape}")
  if jnp.shape(mask) not in (shape, shape[1:]):
    raise ValueError(f"mask has shape {jnp.shape(mask)}; allowed: the data's shape {shape} or "
                     f"one example's {shape[1:]} (1 = known, 0 = to inpaint)")
  if _concrete(mask):
    values = np.unique(np.asarray(mask))
    if not np.all((values == 0) | (values == 1)):
      raise ValueError(f"mask holds values {values[:8].tolist()}; allowed: 0 (to inpaint) and "
                       "1 (known) only")
  return data, jnp.broadcast_to(jnp.asarray(mask) != 0, shape)


def _check_gray(shape, gray):
  if jnp.shape(gray) != shape:
    raise ValueError(f"gray has shape {jnp.shape(gray)}; the colorizer was built for shape {shape}")
  if _concrete(gray):
    g = np.asarray(gray, np.float64)
    spread = np.max(np.abs(g - g.mean(-1, keepdims=True))) if g.size else 0.
    if spread > 1e-5 * (1. + np.max(np.abs(g))):
      raise ValueError(f"gray must have equal channels (a grey image repeated 3 times); they "
                       f"differ by up to {spread:.3g}")


def _check_color_shape(shape):
  if len(shape) < 2 or shape[-1] != 3:
    raise ValueError(f"shape={shape}: colorization needs RGB data, channels last (..., 3); a "
                     f"{shape[-1] if len(shape) > 1 else 'channel-less'}-channel model has no "
                     "colour to add")


def _inpainter(shape, run):
  """`inpaint(rng, params, data, mask)` over a replacement sampler `run` in the data space."""
  def inpaint(rng, params, data, mask):
    data, known = _check_data_mask(shape, data, mask)
    return run(rng, params, data, known)

  return inpaint


def _colorizer(shape, dtype, run):
  """`colorize(rng, params, gray)` over `run`, a replacement sampler in the decoupled space."""
  known = np.zeros(shape, bool)
  known[..., 0] = True

  def colorize(rng, params, gray):
    _check_gray(shape, gray)
    gray = jnp.asarray(gray)
    return run(rng, params, decouple(gray.astype(_common.sample_dtype(params, dtype))), known)

  return colorize


# ------------------------------------------------------------------ replacement, PC


def _pc_replacement(sde, score_fn, shape, predictor, corrector, snr, n_steps, probability_flow,
                    denoise, eps, dtype, to_obs, from_obs):
  """Jitted `run(rng, params, y, known) -> (x, nfe)`: PC, replacing `known` in the to_obs space.

  `y` is the data in the observation space (to_obs of the data), `known` a
  boolean array of `shape` marking the coordinates of that space that are given.
  """
  predictor_cls, corrector_cls, snr, n_steps, probability_flow, denoise = check_pc_args(
      sde, predictor, corrector, snr, n_steps, probability_flow, denoise)
  eps = _default_eps(sde, eps)

  def run(rng, params, y, known):
    x_dtype = _common.sample_dtype(params, dtype)
    y = jnp.asarray(y, x_dtype)
    score = _common.bind_score(score_fn, params)
    predictor_ = predictor_cls(sde, score, probability_flow)
    corrector_ = corrector_cls(sde, score, snr, n_steps)
    timesteps = jnp.linspace(sde.T, eps, sde.N, dtype=x_dtype)
    # The time the state is at after the predictor's step from timesteps[i]; 0 after the last.
    next_times = jnp.concatenate([timesteps[1:], jnp.zeros((1,), x_dtype)])

    def replace(rng, x, x_mean, t, clean):
      """Known coordinates <- the data noised to time t (exactly the data if `clean`)."""
      mean, std = sde.marginal_prob(y, jnp.full(shape[:1], t, x_dtype))
      mean = jnp.where(clean, y, mean)
      std = jnp.where(clean, 0., std)
      noisy = mean + batch_mul(std, jax.random.normal(rng, shape, x_dtype))
      x = from_obs(jnp.where(known, noisy, to_obs(x)))
      x_mean = from_obs(jnp.where(known, mean, to_obs(x_mean)))
      return x, x_mean

    prior_rng, init_rng, loop_rng = jax.random.split(rng, 3)
    x = sde.prior_sampling(prior_rng, shape, x_dtype)
    x, _ = replace(init_rng, x, x, timesteps[0], False)

    def body(i, val):
      x, x_mean = val
      t = jnp.full(shape[:1], timesteps[i], x_dtype)
      c_rng, cr_rng, p_rng, pr_rng = jax.random.split(jax.random.fold_in(loop_rng, i), 4)
      if corrector_.nfe:   # a corrector leaves the state at t: its known part goes back to t
        x, x_mean = corrector_.update_fn(c_rng, x, t)
        x, x_mean = replace(cr_rng, x, x_mean, timesteps[i], False)
      x, x_mean = predictor_.update_fn(p_rng, x, t)
      return replace(pr_rng, x, x_mean, next_times[i], i == sde.N - 1)

    x, x_mean = jax.lax.fori_loop(0, sde.N, body, (x, x))
    nfe = sde.N * (predictor_.nfe + corrector_.nfe)
    return (x_mean if denoise else x), jnp.asarray(nfe, jnp.int32)

  return jax.jit(run)


def get_pc_inpainter(sde, score_fn, shape, predictor='reverse_diffusion', corrector='langevin',
                     snr=0.16, n_steps=1, probability_flow=False, denoise=True, eps=None,
                     dtype=None):
  """A PC inpainter: `inpaint(rng, params, data, mask) -> (x, nfe)`, the original's method.

  Args: as `get_pc_sampler` (`eps=None`: the original's per-SDE value,
    `samplers.default_eps`); `shape` is the batch's shape, batch first.
  Returns `inpaint(rng, params, data, mask)`: `data` of `shape` (its unknown
  pixels are ignored), `mask` of `shape` or of one example's shape `shape[1:]`,
  1 = known, 0 = to inpaint. x has the data's known pixels exactly and the
  rest sampled; nfe = N * (predictor's + corrector's evaluations per step).
  A concrete mask is checked to hold only 0 and 1.
  """
  shape = _common.check_shape(shape)
  return _inpainter(shape, _pc_replacement(
      sde, score_fn, shape, predictor, corrector, snr, n_steps, probability_flow, denoise, eps,
      dtype, _identity, _identity))


def get_pc_colorizer(sde, score_fn, shape, predictor='reverse_diffusion', corrector='langevin',
                     snr=0.16, n_steps=1, probability_flow=False, denoise=True, eps=None,
                     dtype=None):
  """A PC colorizer: `colorize(rng, params, gray) -> (x, nfe)`, the original's method.

  Arguments as `get_pc_inpainter`; `shape` must end in 3 channels (RGB).
  `gray` (of `shape`) is a grey image repeated in its 3 channels (checked when
  concrete). x has the mean over channels of `gray` (to rounding) and sampled
  colour: inpainting of channel 0 of the decoupled space `decouple(x)`.
  """
  shape = _common.check_shape(shape)
  _check_color_shape(shape)
  return _colorizer(shape, dtype, _pc_replacement(
      sde, score_fn, shape, predictor, corrector, snr, n_steps, probability_flow, denoise, eps,
      dtype, decouple, couple))


# ----------------------------------------------------------------- replacement, ODE


def _ode_replacement(sde, score_fn, shape, eps, dtype, to_obs, from_obs, ode_args):
  """Jitted `run(rng, params, y, known) -> (x, nfe)`: the probability-flow version of replacement.

  The score handed to the ODE solver is the model's on the unknown
  coordinates and the exact score -(x - m(t) y) / s(t)^2 of the known ones'
  law given y, so the known coordinates follow their exact flow. `ode_args`:
  `get_ode_sampler`'s solver arguments and `denoise`.
  """
  eps = _default_eps(sde, eps)

  def replaced_score_fn(aux, x, t):
    params, y, known = aux
    mean, std = sde.marginal_prob(y, t)
    known_score = -batch_mul(1. / std ** 2, to_obs(x) - mean)
    return from_obs(jnp.where(known, known_score, to_obs(score_fn(params, x, t))))

  ode = get_ode_sampler(sde, replaced_score_fn, shape, eps=eps, dtype=dtype, **ode_args)

  def run(rng, params, y, known):
    x_dtype = _common.sample_dtype(params, dtype)
    y = jnp.asarray(y, x_dtype)
    prior_rng, known_rng, ode_rng = jax.random.split(rng, 3)
    mean, std = sde.marginal_prob(y, jnp.full(shape[:1], sde.T, x_dtype))
    z_known = mean + batch_mul(std, jax.random.normal(known_rng, shape, x_dtype))
    z = from_obs(jnp.where(known, z_known, to_obs(sde.prior_sampling(prior_rng, shape, x_dtype))))
    x, nfe = ode(ode_rng, (params, y, known), z)
    return from_obs(jnp.where(known, y, to_obs(x))), nfe

  return jax.jit(run)


def get_ode_inpainter(sde, score_fn, shape, rtol=1e-5, atol=1e-5, solver=diffrax.Dopri5(),
                      denoise=False, eps=None, dtype=None, stepsize_controller=None, dt0=None,
                      max_steps=None):
  """A probability-flow ODE inpainter: `inpaint(rng, params, data, mask) -> (x, nfe)`.

  Arguments as `get_ode_sampler` (`eps=None`: `samplers.default_eps`), data
  and mask as `get_pc_inpainter`. The known coordinates ride their exact flow
  from one draw of the noised data (module docstring); nfe counts every score
  evaluation, as `get_ode_sampler`'s.
  """
  shape = _common.check_shape(shape)
  return _inpainter(shape, _ode_replacement(
      sde, score_fn, shape, eps, dtype, _identity, _identity,
      dict(rtol=rtol, atol=atol, solver=solver, denoise=denoise,
           stepsize_controller=stepsize_controller, dt0=dt0, max_steps=max_steps)))


def get_ode_colorizer(sde, score_fn, shape, rtol=1e-5, atol=1e-5, solver=diffrax.Dopri5(),
                      denoise=False, eps=None, dtype=None, stepsize_controller=None, dt0=None,
                      max_steps=None):
  """A probability-flow ODE colorizer: `colorize(rng, params, gray) -> (x, nfe)`.

  Arguments as `get_ode_inpainter`, `gray` as `get_pc_colorizer`'s.
  """
  shape = _common.check_shape(shape)
  _check_color_shape(shape)
  return _colorizer(shape, dtype, _ode_replacement(
      sde, score_fn, shape, eps, dtype, decouple, couple,
      dict(rtol=rtol, atol=atol, solver=solver, denoise=denoise,
           stepsize_controller=stepsize_controller, dt0=dt0, max_steps=max_steps)))


# ---------------------------------------------------------------- class-conditional


def _check_scale(scale):
  return checks.require_real('scale', scale, 0, why=" (1: the classifier's gradient as it "
                             "is, the paper's method; 0: unconditional)")


def _guided_score_fn(score_fn, logit_fn, scale):
  """`score((params, classifier_params, labels), x, t)`: score + scale grad log p(labels | x_t)."""
  def log_prob(classifier_params, labels, x, t):
    logits = logit_fn(classifier_params, x, t)
    if logits.ndim != 2 or logits.shape[0] != x.shape[0]:
      raise ValueError(f"logit_fn returned shape {logits.shape} for x of shape {x.shape}; it "
                       "must return (batch, classes)")
    logp = jax.nn.log_softmax(logits.astype(x.dtype), axis=-1)
    # Examples are independent, so the gradient of the sum is each one's gradient.
    return jnp.sum(jnp.take_along_axis(logp, labels[:, None], axis=1))

  def score(aux, x, t):
    params, classifier_params, labels = aux
    out = score_fn(params, x, t)
    if scale == 0.:
      return out
    return out + scale * jax.grad(log_prob, argnums=2)(classifier_params, labels, x, t)

  return score


def _check_labels(shape, logit_fn, classifier_params, labels, x_dtype):
  """labels: (batch,) ints in [0, classes), classes read off logit_fn's output shape."""
  if jnp.shape(labels) != shape[:1]:
    raise ValueError(f"labels has shape {jnp.shape(labels)}; it must be ({shape[0]},), one class "
                     "per sample")
  if not jnp.issubdtype(jnp.result_type(labels), jnp.integer):
    raise ValueError(f"labels has dtype {jnp.result_type(labels)}; it must hold integer classes")
  try:
    logits = jax.eval_shape(logit_fn, classifier_params, jax.ShapeDtypeStruct(shape, x_dtype),
                            jax.ShapeDtypeStruct(shape[:1], x_dtype))
  except (TypeError, ValueError) as err:
    raise ValueError(f"logit_fn(classifier_params, x, t) failed for x of shape {shape}: {err} "
                     "(was the classifier built for this data shape?)") from err
  if len(logits.shape) != 2 or logits.shape[0] != shape[0]:
    raise ValueError(f"logit_fn returned shape {logits.shape} for x of shape {shape}; it must "
                     "return (batch, classes)")
  classes = logits.shape[1]
  if _concrete(labels):
    values = np.asarray(labels)
    if values.size and (values.min() < 0 or values.max() >= classes):
      raise ValueError(f"labels hold values in [{values.min()}, {values.max()}]; the classifier "
                       f"has {classes} classes: allowed 0 to {classes - 1}")


def _conditional(get_sampler, sde, score_fn, logit_fn, shape, scale, eps, dtype, **kwargs):
  """`sample(rng, params, classifier_params, labels, *rest)`: `get_sampler` with the guided score.

  `get_sampler(sde, score_fn, shape, eps=, dtype=, **kwargs)` is the PC or
  the ODE sampler. It draws in the dtype of the score's `params` (not of the
  classifier's), so it is built per dtype, at trace time; and once now, which
  checks the arguments before the first call.
  """
  shape = _common.check_shape(shape)
  guided = _guided_score_fn(score_fn, logit_fn, _check_scale(scale))
  eps = _default_eps(sde, eps)

  def make_sampler(x_dtype):
    return get_sampler(sde, guided, shape, eps=eps, dtype=x_dtype, **kwargs)

  make_sampler(None)
  built = {}

  def sample(rng, params, classifier_params, labels, *rest):
    x_dtype = _common.sample_dtype(params, dtype)
    _check_labels(shape, logit_fn, classifier_params, labels, x_dtype)
    if x_dtype not in built:
      built[x_dtype] = make_sampler(x_dtype)
    return built[x_dtype](rng, (params, classifier_params, jnp.asarray(labels)), *rest)

  return sample


def get_pc_conditional_sampler(sde, score_fn, logit_fn, shape, predictor='reverse_diffusion',
                               corrector='langevin', snr=0.16, n_steps=1, probability_flow=False,
                               denoise=True, eps=None, scale=1., dtype=None):
  """A class-conditional PC sampler: `sample(rng, params, classifier_params, labels) -> (x, nfe)`.

  The PC sampler (`get_pc_sampler`, same arguments; `eps=None`:
  `samplers.default_eps`) run with the score
  score_fn(params, x, t) + scale * nabla_x log softmax(logit_fn(classifier_params, x, t))[labels].
  `logit_fn(classifier_params, x, t) -> (batch, classes)` is a noise-conditional
  classifier of x_t; `labels` (batch,) ints in [0, classes) (checked when
  concrete). `scale` >= 0: 1 is the paper's method, 0 the unconditional sampler.
  nfe counts score evaluations (each comes with one classifier gradient when
  scale != 0).
  """
  return _conditional(get_pc_sampler, sde, score_fn, logit_fn, shape, scale, eps, dtype,
                      predictor=predictor, corrector=corrector, snr=snr, n_steps=n_steps,
                      probability_flow=probability_flow, denoise=denoise)


def get_ode_conditional_sampler(sde, score_fn, logit_fn, shape, rtol=1e-5, atol=1e-5,
                                solver=diffrax.Dopri5(), denoise=False, eps=None, scale=1.,
                                dtype=None, stepsize_controller=None, dt0=None, max_steps=None):
  """A class-conditional probability-flow ODE sampler.

  `sample(rng, params, classifier_params, labels, z=None) -> (x, nfe)`: the
  probability-flow ODE (`get_ode_sampler`, same arguments) of the guided
  score of `get_pc_conditional_sampler`. With scale = 1 and an exact
  classifier it is the probability flow of p_t(x | label), so z -> x is
  deterministic and invertible per class.
  """
  return _conditional(get_ode_sampler, sde, score_fn, logit_fn, shape, scale, eps, dtype,
                      rtol=rtol, atol=atol, solver=solver, denoise=denoise,
                      stepsize_controller=stepsize_controller, dt0=dt0, max_steps=max_steps)
