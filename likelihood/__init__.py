"""Exact log-likelihood through the probability-flow ODE, and bits per dimension.

  loglik = likelihood.get_likelihood_fn(sde, score_fn, estimator='rademacher')
  logp, z, nfe = loglik(rng, params, x)          # nats, density of x in model space
  bpd = likelihood.bits_per_dim(logp, x.shape[1:], num_levels=256, centered=True)
"""
from likelihood.bpd import bits_per_dim, bpd_offset, dequantize
from likelihood.divergence import (ESTIMATORS, exact_divergence, hutchinson_divergence,
                                   value_and_divergence)
from likelihood.ode import SOLVERS, evaluations_per_solve, get_likelihood_fn

__all__ = ['get_likelihood_fn', 'bits_per_dim', 'bpd_offset', 'dequantize', 'ESTIMATORS',
           'SOLVERS', 'evaluations_per_solve', 'exact_divergence', 'hutchinson_divergence',
           'value_and_divergence']
