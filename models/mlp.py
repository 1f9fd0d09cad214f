"""A residual MLP score network with a noise-level embedding, for vector (toy) data.

Reads `config.model`: `nf` (width), `num_layers` (residual blocks),
`embedding_type` ('fourier': Gaussian Fourier features of log(label), for VE
where the label is sigma; 'positional': sinusoidal features of the label, for
VP/sub-VP where it is t*(N-1)), `fourier_scale`, `scale_by_sigma` (divide the
output by the label, i.e. by sigma, for VE), and `config.data.dim`.
"""
import flax.linen as nn
import jax.numpy as jnp

from models import layers
from utils import config_checks

EMBEDDING_TYPES = config_checks.EMBEDDING_TYPES


class MLPScore(nn.Module):
  dim: int
  nf: int = 128
  num_layers: int = 3
  embedding_type: str = 'positional'
  fourier_scale: float = 16.
  scale_by_sigma: bool = False

  @nn.compact
  def __call__(self, x, labels, train=False):
    del train  # no dropout or normalisation statistics
    if self.embedding_type == 'fourier':
      emb = layers.GaussianFourierProjection(
          embedding_size=self.nf // 2, scale=self.fourier_scale)(jnp.log(labels))
    else:
      emb = layers.get_timestep_embedding(labels, self.nf)
    temb = nn.Dense(2 * self.nf)(emb)
    temb = nn.Dense(2 * self.nf)(nn.silu(temb))
    h = nn.Dense(self.nf)(x)
    for _ in range(self.num_layers):
      r = nn.Dense(self.nf)(nn.silu(h)) + nn.Dense(self.nf)(nn.silu(temb))
      h = h + nn.Dense(self.nf)(nn.silu(r))
    out = nn.Dense(self.dim, kernel_init=nn.initializers.zeros)(nn.silu(h))
    if self.scale_by_sigma:
      out = out / labels.reshape(-1, 1).astype(out.dtype)
    return out


def build(config):
  m = config.model
  if m.embedding_type not in EMBEDDING_TYPES:
    raise ValueError(config_checks.not_allowed('config.model.embedding_type', m.embedding_type,
                                               EMBEDDING_TYPES))
  return MLPScore(dim=config.data.dim, nf=m.nf, num_layers=m.num_layers,
                  embedding_type=m.embedding_type, fourier_scale=m.fourier_scale,
                  scale_by_sigma=m.scale_by_sigma)
