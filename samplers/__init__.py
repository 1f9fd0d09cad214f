"""Samplers of score-based models: predictor-corrector and probability-flow ODE.

Each `get_*_sampler` returns a pure, jitted `sample(rng, params) -> (x, nfe)`;
`score_fn(params, x, t)` is a network's (`models.get_score_fn`) or an exact
one (`models.analytic.gmm_score_fn`).
"""
from sde_lib import VESDE
from samplers.controllable import (get_ode_colorizer, get_ode_conditional_sampler,
                                   get_ode_inpainter, get_pc_colorizer,
                                   get_pc_conditional_sampler, get_pc_inpainter)
from samplers.correctors import CORRECTORS, get_corrector
from samplers.ode import SOLVERS, get_ode_sampler
from samplers.pc import get_pc_sampler
from samplers.predictors import PREDICTORS, get_predictor

METHODS = ('pc', 'ode')


def default_eps(sde):
  """The original's last sampling time: 1e-5 for VE, 1e-3 for VP and sub-VP."""
  return 1e-5 if isinstance(sde, VESDE) else 1e-3


def get_sampler(config, sde, score_fn, shape):
  """The sampler `config.sampling` describes, for `sde` and `score_fn`.

  Reads `sampling.method` ('pc' | 'ode'); for 'pc' `sampling.predictor`,
  `sampling.corrector`, `sampling.snr`, `sampling.n_steps_each`,
  `sampling.probability_flow`, `sampling.noise_removal` and
  `training.continuous`; for 'ode' `sampling.noise_removal` and the optional
  `sampling.rtol`, `sampling.atol` (default 1e-5) and `sampling.ode_solver`
  (default 'dopri5'). The optional `sampling.eps` defaults to the original's
  per-SDE value (`default_eps`).
  """
  s = config.sampling
  method = str(s.method).lower()
  if method not in METHODS:
    raise ValueError(f"config.sampling.method={s.method!r} is not a sampling method; "
                     f"allowed: {', '.join(METHODS)}")
  eps = s.get('eps', default_eps(sde))
  try:
    if method == 'pc':
      return get_pc_sampler(
          sde, score_fn, shape, predictor=s.predictor, corrector=s.corrector, snr=s.snr,
          n_steps=s.n_steps_each, probability_flow=s.probability_flow,
          continuous=config.training.continuous, denoise=s.noise_removal, eps=eps)
    return get_ode_sampler(
        sde, score_fn, shape, rtol=s.get('rtol', 1e-5), atol=s.get('atol', 1e-5),
        solver=s.get('ode_solver', 'dopri5'), denoise=s.noise_removal, eps=eps)
  except ValueError as err:
    # The argument names map to fields: n_steps is sampling.n_steps_each,
    # denoise sampling.noise_removal, solver sampling.ode_solver.
    raise ValueError(f"config.sampling (method={method!r}): {err}") from err


__all__ = ['get_pc_sampler', 'get_ode_sampler', 'get_sampler', 'default_eps', 'get_predictor',
           'get_corrector', 'PREDICTORS', 'CORRECTORS', 'SOLVERS', 'METHODS',
           'get_pc_inpainter', 'get_pc_colorizer', 'get_pc_conditional_sampler',
           'get_ode_inpainter', 'get_ode_colorizer', 'get_ode_conditional_sampler']
