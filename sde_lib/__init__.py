"""Forward SDEs of score-based generative modelling (VP, sub-VP, VE) and their reversals."""
from sde_lib.base import SDE, ReverseSDE, batch_mul
from sde_lib.ve import VESDE
from sde_lib.vp import VPSDE, subVPSDE
from utils import config_checks

SDE_NAMES = config_checks.SDE_NAMES


def get_sde(config):
  """The SDE named by `config.training.sde`, with parameters from `config.model`.

  `vpsde`/`subvpsde` read `model.beta_min`, `model.beta_max`; `vesde` reads
  `model.sigma_min`, `model.sigma_max`; all read `model.num_scales` (N).
  """
  name = str(config.training.sde).lower()
  m = config.model
  if name == 'vpsde':
    return VPSDE(beta_min=m.beta_min, beta_max=m.beta_max, N=m.num_scales)
  if name == 'subvpsde':
    return subVPSDE(beta_min=m.beta_min, beta_max=m.beta_max, N=m.num_scales)
  if name == 'vesde':
    return VESDE(sigma_min=m.sigma_min, sigma_max=m.sigma_max, N=m.num_scales)
  raise ValueError(config_checks.not_allowed('config.training.sde', config.training.sde,
                                             SDE_NAMES, 'is not an SDE'))


__all__ = ['SDE', 'ReverseSDE', 'VPSDE', 'subVPSDE', 'VESDE', 'get_sde', 'batch_mul', 'SDE_NAMES']
