"""Converts pytorch-fid's FID Inception weights (a torch state_dict) to our Flax .npz.

Usage:
  python -m evaluation.tools.convert_inception pt_inception-2015-12-05-6726825d.pth inception_fid.npz

The input is pytorch-fid's published weight file (see
`evaluation.inception.FID_WEIGHTS_URL`; fetch it yourself, nothing here
downloads). torch is needed to read it, and only here.

Every torchvision `BasicConv2d` (conv without bias, BatchNorm with eps 1e-3,
ReLU) becomes one convolution with a bias: in float64,
  scale = gamma / sqrt(running_var + 1e-3),
  kernel = weight * scale (per output channel), bias = beta - running_mean * scale,
then stored as float32 with the kernel transposed from OIHW to HWIO. The
final Linear layer's weight is transposed to (in, out).
"""
from __future__ import annotations

import argparse
import os
from typing import Mapping

import numpy as np

from evaluation import inception
from utils import extras

BATCH_NORM_EPS = 1e-3  # torchvision's BasicConv2d
# Present in the published file or in a torchvision state_dict, unused by the FID network.
_IGNORED_SUFFIXES = ('.num_batches_tracked',)
_IGNORED_PREFIXES = ('AuxLogits.',)


def convert_state_dict(state_dict: Mapping[str, np.ndarray]) -> dict:
  """Our parameter pytree from a pytorch-fid state_dict given as numpy arrays.

  Raises ValueError naming the keys if the state_dict is not the FID Inception's.
  """
  state = {k: np.asarray(v, dtype=np.float64) for k, v in state_dict.items()
           if not k.endswith(_IGNORED_SUFFIXES) and not k.startswith(_IGNORED_PREFIXES)}
  flat = {}
  used = set()

  def take(key):
    if key not in state:
      raise ValueError(f"state_dict has no key {key!r}: not pytorch-fid's FID Inception weights?")
    used.add(key)
    return state[key]

  for path in inception.flatten_params(inception.param_shapes()):
    module, leaf = path.rsplit('/', 1)
    if leaf != 'kernel':
      continue  # each bias is written with its kernel
    torch_name = module.replace('/', '.')
    if module == 'fc':
      flat['fc/kernel'] = take('fc.weight').T
      flat['fc/bias'] = take('fc.bias')
      continue
    weight = take(f'{torch_name}.conv.weight')  # (out, in, kh, kw)
    gamma = take(f'{torch_name}.bn.weight')
    beta = take(f'{torch_name}.bn.bias')
    mean = take(f'{torch_name}.bn.running_mean')
    var = take(f'{torch_name}.bn.running_var')
    if np.any(var < 0):
      raise ValueError(f"{torch_name}.bn.running_var has negative entries")
    scale = gamma / np.sqrt(var + BATCH_NORM_EPS)
    flat[f'{module}/kernel'] = np.transpose(weight * scale[:, None, None, None], (2, 3, 1, 0))
    flat[f'{module}/bias'] = beta - mean * scale
  unused = sorted(set(state) - used)
  if unused:
    raise ValueError(f"state_dict has keys the FID Inception network does not use: {unused[:8]}"
                     f"{' ...' if len(unused) > 8 else ''}")
  return inception.unflatten_params(flat)


def load_torch_state_dict(path) -> dict:
  """Reads a torch state_dict file into numpy arrays (imports torch)."""
  torch = extras.require('torch', 'converting the FID Inception weights')
  state_dict = torch.load(os.fspath(path), map_location='cpu', weights_only=True)
  if not isinstance(state_dict, Mapping):
    raise ValueError(f"{path} does not hold a state_dict (a mapping of names to tensors), "
                     f"but a {type(state_dict).__name__}")
  return {k: v.detach().cpu().double().numpy() for k, v in state_dict.items()}


def convert_file(src, dst):
  """Converts pytorch-fid's weight file `src` to the .npz `dst`."""
  params = convert_state_dict(load_torch_state_dict(src))
  inception.save_params(params, dst)
  return params


def main(argv=None):
  parser = argparse.ArgumentParser(
      prog='python -m evaluation.tools.convert_inception',
      description="Convert pytorch-fid's FID Inception weights (.pth) to the .npz that "
                  "evaluation.inception.load_params reads. Get the .pth from "
                  + inception.FID_WEIGHTS_URL)
  parser.add_argument('src', help='pytorch-fid weight file, pt_inception-2015-12-05-6726825d.pth')
  parser.add_argument('dst', help='output .npz path')
  args = parser.parse_args(argv)
  if not os.path.isfile(args.src):
    parser.error(f"{args.src} does not exist. {inception.HOW_TO_GET_WEIGHTS}")
  params = convert_file(args.src, args.dst)
  count = sum(v.size for v in inception.flatten_params(params).values())
  print(f"wrote {args.dst}: {count} parameters")


if __name__ == '__main__':
  main()
