"""The data scaling, written once: v in [0, 1] <-> model space x.

x = 2v - 1 in [-1, 1] when `config.data.centered`, else x = v. The data
pipeline (`data.transforms`, the config scalers of `data`), the dequantiser of
`likelihood.bpd` and the networks that centre uncentred input all call these;
it lives in `utils` so that every layer may. Works on numpy and JAX arrays and
keeps their dtype (Python-float constants are weakly typed).
"""


def to_model_space(v, centered: bool):
  """v in [0, 1] -> model space: 2v - 1 when `centered`, else v."""
  return v * 2. - 1. if centered else v


def from_model_space(x, centered: bool):
  """Model space -> v in [0, 1]: the inverse of `to_model_space`."""
  return (x + 1.) / 2. if centered else x
