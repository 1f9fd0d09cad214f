"""The predictor-corrector sampler (Song et al., 2021, Algorithm 1), as one jitted loop.

At each of N times t_i = linspace(T, eps, N)[i], it runs the corrector (n_steps
Langevin steps towards p_{t_i}) and then the predictor (one reverse-SDE step).
The whole loop is a single `lax.fori_loop` inside one `jit`.
"""
import jax
import jax.numpy as jnp

from samplers import _common
from samplers.correctors import CORRECTORS, NoneCorrector, get_corrector
from samplers.predictors import PREDICTORS, NonePredictor, get_predictor
from utils import checks


def check_pc_args(sde, predictor, corrector, snr, n_steps, probability_flow, denoise):
  """The predictor-corrector arguments checked (every PC-type sampler's one check).

  Returns (predictor class, corrector class, snr, n_steps, probability_flow, denoise)
  or raises a ValueError naming the argument and what is allowed.
  """
  predictor_cls = get_predictor(predictor)
  corrector_cls = get_corrector(corrector)
  probability_flow = _common.check_bool('probability_flow', probability_flow)
  denoise = _common.check_bool('denoise', denoise)
  predictor_cls.check(sde, probability_flow)
  if predictor_cls is NonePredictor and corrector_cls is NoneCorrector:
    raise ValueError(
        "predictor='none' with corrector='none' never moves the prior sample; choose a "
        f"predictor ({', '.join(PREDICTORS)}) or a corrector ({', '.join(CORRECTORS)})")
  snr = _common.check_positive('snr', snr)
  n_steps = checks.require_int('n_steps', n_steps, 0, ' (corrector steps per time step)')
  return predictor_cls, corrector_cls, snr, n_steps, probability_flow, denoise


def get_pc_sampler(sde, score_fn, shape, predictor='reverse_diffusion', corrector='langevin',
                   snr=0.16, n_steps=1, probability_flow=False, continuous=True, denoise=True,
                   eps=1e-3, dtype=None):
  """A predictor-corrector sampler: a pure, jitted `sample(rng, params) -> (x, nfe)`.

  Args:
    sde: the forward SDE (`sde_lib`); its `N` is the number of time steps.
    score_fn: `score_fn(params, x, t) -> score shaped like x`, `t` of shape (batch,).
    shape: shape of the sample batch, batch first, e.g. `(64, 32, 32, 3)`.
    predictor: one of `predictors.PREDICTORS` ('euler_maruyama',
      'reverse_diffusion', 'ancestral_sampling', 'none').
    corrector: one of `correctors.CORRECTORS` ('langevin', 'ald', 'none').
    snr: the corrector's signal-to-noise ratio, > 0.
    n_steps: corrector steps per time step, >= 0 (`sampling.n_steps_each`).
    probability_flow: predict with the probability-flow ODE instead of the reverse SDE.
    continuous: accepted for compatibility with the original's signature and
      ignored: there it chose how the sampler built the score from the network;
      here `score_fn` is given, so the convention is already in it
      (`models.get_score_fn(sde, model, continuous)`).
    denoise: return the last step's mean, without its noise (the original's
      `noise_removal`).
    eps: the last time, in (0, T).
    dtype: dtype of the samples; None takes that of the floating leaves of
      `params` (float32 if none).

  Returns `sample(rng, params) -> (x, nfe)`: x of `shape`, in model space (no
  inverse scaling), and nfe, the number of score evaluations:
  N * (predictor's + corrector's evaluations per step), e.g. N * (n_steps + 1)
  for a predictor and a corrector.
  """
  _common.check_bool('continuous', continuous)
  predictor_cls, corrector_cls, snr, n_steps, probability_flow, denoise = check_pc_args(
      sde, predictor, corrector, snr, n_steps, probability_flow, denoise)
  shape = _common.check_shape(shape)
  eps = _common.check_eps(eps, sde)

  def sample(rng, params):
    x_dtype = _common.sample_dtype(params, dtype)
    score = _common.bind_score(score_fn, params)
    predictor_ = predictor_cls(sde, score, probability_flow)
    corrector_ = corrector_cls(sde, score, snr, n_steps)
    prior_rng, loop_rng = jax.random.split(rng)
    x = sde.prior_sampling(prior_rng, shape, x_dtype)
    timesteps = jnp.linspace(sde.T, eps, sde.N, dtype=x_dtype)

    def body(i, val):
      x, _ = val
      t = jnp.full(shape[:1], timesteps[i], x_dtype)
      corrector_rng, predictor_rng = jax.random.split(jax.random.fold_in(loop_rng, i))
      x, _ = corrector_.update_fn(corrector_rng, x, t)
      return predictor_.update_fn(predictor_rng, x, t)

    x, x_mean = jax.lax.fori_loop(0, sde.N, body, (x, x))
    nfe = sde.N * (predictor_.nfe + corrector_.nfe)
    return (x_mean if denoise else x), jnp.asarray(nfe, jnp.int32)

  return jax.jit(sample)
