"""Samplers of score-based models: predictor-corrector, probability-flow ODE, and fast ODE solvers.

The fast ones (DDIM, DPM-Solver(++), EDM's Heun) take a fixed number of steps
on the same probability-flow ODE, written through the SDE's m(t) and s(t).

Each `get_*_sampler` returns a pure, jitted `sample(rng, params) -> (x, nfe)`;
`score_fn(params, x, t)` is a network's (`models.get_score_fn`) or an exact
one (`models.analytic.gmm_score_fn`).
"""
from sde_lib import VESDE
from samplers.controllable import (get_ode_colorizer, get_ode_conditional_sampler,
                                   get_ode_inpainter, get_pc_colorizer,
                                   get_pc_conditional_sampler, get_pc_inpainter)
from samplers.correctors import CORRECTORS, get_corrector
from samplers.ddim import get_ddim_sampler
from samplers.dpm_solver import DPM_METHODS, DPM_ORDERS, get_dpm_solver_sampler
from samplers.edm import get_edm_sampler
from samplers._noise_schedule import PREDICTIONS, SCHEDULES
from samplers.ode import SOLVERS, get_ode_sampler
from samplers.pc import get_pc_sampler
from samplers.predictors import PREDICTORS, get_predictor
from utils import ode_solvers
from utils import config_checks

METHODS = config_checks.SAMPLING_METHODS


def default_eps(sde):
  """The original's last sampling time: 1e-5 for VE, 1e-3 for VP and sub-VP."""
  return 1e-5 if isinstance(sde, VESDE) else 1e-3


def get_sampler(config, sde, score_fn, shape):
  """The sampler `config.sampling` describes, for `sde` and `score_fn`.

  Reads `sampling.method` (`METHODS`); for 'pc' `sampling.predictor`,
  `sampling.corrector`, `sampling.snr`, `sampling.n_steps_each`,
  `sampling.probability_flow`, `sampling.noise_removal` and
  `training.continuous`; for 'ode' `sampling.noise_removal` and the optional
  `sampling.rtol`, `sampling.atol` (default 1e-5) and `sampling.ode_solver`
  (default 'dopri5'). The optional `sampling.eps` defaults to the original's
  per-SDE value (`default_eps`).

  The fast probability-flow samplers read optional fields, each defaulting to
  its function's default: 'ddim' `sampling.num_steps` (50), `sampling.eta`;
  'dpm_solver' `sampling.num_steps` (20), `sampling.order`,
  `sampling.dpm_method` (its `method`), `sampling.dpm_predict` (its
  `predict`), `sampling.schedule`; 'edm_heun' `sampling.num_steps` (18),
  `sampling.rho`, `sampling.s_churn`, `sampling.s_min`, `sampling.s_max`,
  `sampling.s_noise`. They always end with the denoising step (their papers'
  last step), whatever `sampling.noise_removal` says.
  """
  s = config.sampling
  method = str(s.method).lower()
  if method not in METHODS:
    raise ValueError(config_checks.not_allowed('config.sampling.method', s.method, METHODS,
                                               'is not a sampling method'))
  eps = s.get('eps', default_eps(sde))
  try:
    if method == 'ddim':
      return get_ddim_sampler(sde, score_fn, shape, num_steps=s.get('num_steps', 50),
                              eta=s.get('eta', 0.), eps=eps)
    if method == 'dpm_solver':
      return get_dpm_solver_sampler(
          sde, score_fn, shape, num_steps=s.get('num_steps', 20), order=s.get('order', 2),
          method=s.get('dpm_method', 'multistep'), predict=s.get('dpm_predict', 'data'),
          schedule=s.get('schedule', 'logsnr'), eps=eps)
    if method == 'edm_heun':
      return get_edm_sampler(
          sde, score_fn, shape, num_steps=s.get('num_steps', 18), rho=s.get('rho', 7.),
          s_churn=s.get('s_churn', 0.), s_min=s.get('s_min', 0.),
          s_max=s.get('s_max', float('inf')), s_noise=s.get('s_noise', 1.), eps=eps)
    if method == 'pc':
      return get_pc_sampler(
          sde, score_fn, shape, predictor=s.predictor, corrector=s.corrector, snr=s.snr,
          n_steps=s.n_steps_each, probability_flow=s.probability_flow,
          continuous=config.training.continuous, denoise=s.noise_removal, eps=eps)
    return get_ode_sampler(
        sde, score_fn, shape, rtol=s.get('rtol', 1e-5), atol=s.get('atol', 1e-5),
        solver=ode_solvers.solver_from_name(s.get('ode_solver', 'dopri5'),
                                            argument='sampling.ode_solver'),
        denoise=s.noise_removal, eps=eps)
  except ValueError as err:
    # The argument names map to fields: n_steps is sampling.n_steps_each,
    # denoise sampling.noise_removal, solver sampling.ode_solver; for dpm_solver
    # method is sampling.dpm_method and predict sampling.dpm_predict.
    raise ValueError(f"config.sampling (method={method!r}): {err}") from err


__all__ = ['get_pc_sampler', 'get_ode_sampler', 'get_sampler', 'default_eps', 'get_predictor',
           'get_corrector', 'PREDICTORS', 'CORRECTORS', 'SOLVERS', 'METHODS',
           'get_ddim_sampler', 'get_dpm_solver_sampler', 'get_edm_sampler', 'DPM_METHODS',
           'DPM_ORDERS', 'PREDICTIONS', 'SCHEDULES',
           'get_pc_inpainter', 'get_pc_colorizer', 'get_pc_conditional_sampler',
           'get_ode_inpainter', 'get_ode_colorizer', 'get_ode_conditional_sampler']
