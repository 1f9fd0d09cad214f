"""The one place that turns a network's output into a score, per SDE.

Conventions (the original score_sde's, so its checkpoints' semantics carry over):

| SDE            | noise label fed to the network         | score from output `out`      |
|----------------|----------------------------------------|------------------------------|
| VP, continuous | t * (N - 1)                            | -out / s(t) (marginal std)   |
| VP, discrete   | t * (N - 1)                            | -out / sqrt(1 - abar_i)      |
| sub-VP         | t * (N - 1) (always continuous)        | -out / s(t)                  |
| VE, continuous | sigma(t) (the marginal std)            | out                          |
| VE, discrete   | round((T - t) * (N - 1)), an int index | out                          |

VP-type networks predict the (scaled) noise; VE networks predict the score
itself (dividing by sigma inside when `model.scale_by_sigma`).

The discrete losses (SMLD, DDPM) train at the times `discrete_times(sde,
dtype)`, whose discrete labels are exactly the levels i = 0 .. N-1, and call
`get_score_fn(..., continuous=False)` there, so they feed the network nothing
but these labels.

Noise-conditional classifiers (`models.classifier`) receive the marginal
standard deviation s(t) of x_t for every SDE (`classifier_noise_labels`): the
original's `ve_noise_scale`, whatever the SDE.
"""
import jax.numpy as jnp
import numpy as np

from sde_lib import VESDE, VPSDE, batch_mul, subVPSDE


def noise_labels(sde, t, continuous: bool):
  """The conditioning input the network receives at time t: (batch,)."""
  t = jnp.asarray(t)
  if isinstance(sde, VPSDE):  # includes subVPSDE
    return t * (sde.N - 1)
  if isinstance(sde, VESDE):
    if continuous:
      return sde.sigma(t)
    return jnp.round((sde.T - t) * (sde.N - 1)).astype(jnp.int32)
  raise NotImplementedError(f"no scoring convention for SDE {type(sde).__name__}")


def discrete_times(sde, dtype=np.float32) -> np.ndarray:
  """Times t_0 .. t_{N-1} (host array of `dtype`) at which the discrete label is level i.

  VE (SMLD): t_i = T - i / (N - 1), so round((T - t_i)(N - 1)) == i: level i
  is the i-th largest sigma. VP (DDPM): the float of t_i nearest i / (N - 1)
  whose label t_i * (N - 1) is nearest i in `dtype`: exactly i where such a
  float exists (N = 1000 in float32, for one), else one ulp of i away (no
  float t gives i for some i and N; a lone t_i = i / (N - 1) can land two
  ulps away). `sde.discrete_index(t_i)` is i either way. Sub-VP has no
  discrete chain.
  """
  if isinstance(sde, subVPSDE) or not isinstance(sde, (VPSDE, VESDE)):
    raise NotImplementedError(f"{type(sde).__name__} has no discrete noise levels")
  dtype = np.dtype(dtype)
  n = sde.N
  levels = np.arange(n)
  if isinstance(sde, VESDE):
    t = (sde.T - levels / (n - 1)).astype(dtype)
    labels = np.round((dtype.type(sde.T) - t) * dtype.type(n - 1))
    ok = np.array_equal(labels, levels)
  else:
    # numpy multiplies as XLA does (one IEEE rounding), so the check holds on device.
    candidates = [(levels / (n - 1)).astype(dtype)]
    for direction in (np.inf, -np.inf):
      c = candidates[0]
      for _ in range(3):
        c = np.nextafter(c, dtype.type(direction))
        candidates.append(c)
    candidates = np.stack(candidates)
    error = np.abs(candidates * dtype.type(n - 1) - levels)
    t = candidates[np.argmin(error, axis=0), levels]
    ok = np.all(np.abs(t * dtype.type(n - 1) - levels) <= np.spacing(levels.astype(dtype)))
  if not ok:
    raise ValueError(f"no {dtype} time grid gives the discrete labels 0..{n - 1}")
  return t


def classifier_noise_labels(sde, t):
  """The conditioning input of a noise-conditional classifier at time t: s(t), (batch,)."""
  t = jnp.asarray(t)
  _, std = sde.marginal_prob(jnp.zeros_like(t), t)
  return std


def output_to_score(sde, out, t, continuous: bool):
  """Converts a network output at time t into the score."""
  t = jnp.asarray(t)
  if isinstance(sde, VPSDE):
    if continuous or isinstance(sde, subVPSDE):
      _, std = sde.marginal_prob(jnp.zeros_like(out), t)
    else:
      std = jnp.asarray(sde.sqrt_1m_alphas_cumprod, out.dtype)[sde.discrete_index(t)]
    return batch_mul(-1. / std, out)
  if isinstance(sde, VESDE):
    return out
  raise NotImplementedError(f"no scoring convention for SDE {type(sde).__name__}")


def get_score_fn(sde, model, continuous: bool = True, train: bool = False):
  """A pure score function of the network's variables.

  Returns `score_fn(variables, x, t, rng=None)`; `rng` feeds dropout and is
  required when `train=True`.
  """
  def score_fn(variables, x, t, rng=None):
    t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])
    labels = noise_labels(sde, t, continuous)
    if train:
      if rng is None:
        raise ValueError("score_fn built with train=True needs an rng for dropout")
      out = model.apply(variables, x, labels, train=True, rngs={'dropout': rng})
    else:
      out = model.apply(variables, x, labels, train=False)
    return output_to_score(sde, out.astype(x.dtype), t, continuous)
  return score_fn
