"""The PyTorch port's side of benchmarks/compare_pytorch.py: one figure of score_sde_pytorch.

    python benchmarks/compare_pytorch_port.py --port PATH --kind train \\
        --config configs/vp/cifar10_ddpmpp_continuous.py --batch 16 --steps 3 \\
        --override model.nf=32 --override 'model.ch_mult=(1,2,2)' --override model.num_res_blocks=1

PATH is a local checkout of the port; it is imported from there at run time
and none of its code is part of this repository. `--config` is a config file
of the port, relative to PATH (the port's configs mirror ours, same paths).
Prints one JSON line on stdout:

  --kind train       the port's own training step (`losses.get_step_fn` with
                     its optimization manager: loss, backward, clip, Adam,
                     EMA) on uniform random data of the config's shape:
                     `step_s`, median wall seconds of --steps steps after one
                     warm-up step, and `cpu_s_per_step`;
  --kind pc          the port's PC sampler (`sampling.get_pc_sampler`,
                     --predictor / --corrector, sde.N = --N): `step_s`, the
                     median over --repeats samplings / N (after one score
                     evaluation as warm-up), and the port's own `nfe` count
                     (N * (n_steps + 1), corrector 'none' included);
  --kind likelihood  the port's `likelihood.get_likelihood_fn` (Rademacher,
                     scipy RK45, rtol = atol = --tol) on the images in
                     --inputs (an .npy of NHWC images in the config's data
                     scaling, written by compare_pytorch.py with our
                     benchmark's function): `per_example_s` (min over
                     --repeats solves / batch), `nfe` and `bpd` (mean).

The port's CUDA ops (`op.upfirdn2d`, `op.fused_act`) are compiled with
torch.utils.cpp_extension when the port's `op` package is imported, which
fails on a CPU-only machine. --ops says how the port runs without them:
  port_cpu  (default) the port's own code, with only the CUDA build skipped
            (`install_port_cpu_ops`: its `op` modules are imported with
            cpp_extension.load replaced by a stub that refuses to be called).
            On CPU tensors the port's functions then take their own CPU
            branches: `upfirdn2d_native` (FIR resampling as a 1-channel
            convolution over every (example, channel) plane, zeros inserted
            for upsampling) and leaky_relu for the fused activation. This is
            how the port runs on a CPU, and how issue 16's table was measured.
  standin   `install_op_standins`: our pure-torch `op` package replaces the
            port's (FIR resampling as one depthwise convolution; the same fused
            bias + leaky ReLU), a stronger port than the one its users get:
            the same loss, and the reduced NCSN++ training step 0.70 -> 0.28 s
            on the 2-core machine of issue 16.
The port's files on disk are not touched. torch runs with --threads threads
(default 2, the cores of the machine the issue's table was measured on).
"""
import argparse
import ast
import importlib
import json
import os
import statistics
import sys
import time
import types

import numpy as np
import torch
import torch.nn.functional as F

KINDS = ('train', 'pc', 'likelihood')


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
  """StyleGAN2's upfirdn2d on NCHW images, as the port calls it (same up/down/pad on H and W).

  Inserts `up - 1` zeros after each sample, pads by `pad` (negative crops),
  convolves each channel with `kernel` (a true convolution: flipped) and
  keeps every `down`-th sample. Output: (N, C, (H*up + p0 + p1 - kh)//down + 1, ...).
  """
  n, c, h, w = x.shape
  kernel = torch.as_tensor(kernel, dtype=x.dtype, device=x.device)
  kh, kw = kernel.shape
  if up > 1:
    x = x.reshape(n, c, h, 1, w, 1)
    x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))   # zeros after each sample, both axes
    x = x.reshape(n, c, h * up, w * up)
  p0, p1 = pad
  x = F.pad(x, (p0, p1, p0, p1))                  # constant mode: negative pads crop
  weight = torch.flip(kernel, (0, 1)).expand(c, 1, kh, kw).contiguous()
  return F.conv2d(x, weight, stride=down, groups=c)


def fused_leaky_relu(x, bias, negative_slope=0.2, scale=2 ** 0.5):
  """leaky_relu(x + bias, negative_slope) * scale, bias along dim 1."""
  shape = (1, bias.shape[0]) + (1,) * (x.ndim - 2)
  return F.leaky_relu(x + bias.view(shape), negative_slope) * scale


class FusedLeakyReLU(torch.nn.Module):
  """The port's `op.FusedLeakyReLU` interface over `fused_leaky_relu`."""

  def __init__(self, channel, negative_slope=0.2, scale=2 ** 0.5):
    super().__init__()
    self.bias = torch.nn.Parameter(torch.zeros(channel))
    self.negative_slope = negative_slope
    self.scale = scale

  def forward(self, x):
    return fused_leaky_relu(x, self.bias, self.negative_slope, self.scale)


def install_op_standins():
  """Registers the stand-in `op`, `op.upfirdn2d` and `op.fused_act` modules in sys.modules."""
  up_mod = types.ModuleType('op.upfirdn2d')
  up_mod.upfirdn2d = upfirdn2d
  act_mod = types.ModuleType('op.fused_act')
  act_mod.fused_leaky_relu = fused_leaky_relu
  act_mod.FusedLeakyReLU = FusedLeakyReLU
  op = types.ModuleType('op')
  op.__path__ = []          # a package, so `from op import upfirdn2d` and `op.fused_act` resolve
  op.upfirdn2d, op.fused_leaky_relu, op.FusedLeakyReLU = upfirdn2d, fused_leaky_relu, FusedLeakyReLU
  op.fused_act = act_mod
  sys.modules.update({'op': op, 'op.upfirdn2d': up_mod, 'op.fused_act': act_mod})


class _UnbuiltExtension:
  """What cpp_extension.load returns under `install_port_cpu_ops`: any use of the CUDA
  extension fails, naming it (the port's CPU branches never reach it)."""

  def __init__(self, name):
    self._name = name

  def __getattr__(self, attr):
    raise RuntimeError(f"the port's CUDA extension {self._name!r} was not built (CPU run), "
                       f"but its {attr!r} was called")


def install_port_cpu_ops(path):
  """Imports the port's own `op` package (from `path`) with its CUDA build skipped.

  cpp_extension.load is replaced, while `op` is imported, by a stub returning an
  `_UnbuiltExtension`; everything else is the port's code, whose functions take their
  `device.type == "cpu"` branches on CPU tensors. Returns the imported package.
  """
  from torch.utils import cpp_extension  # pylint: disable=import-outside-toplevel
  for name in [n for n in sys.modules if n == 'op' or n.startswith('op.')]:
    del sys.modules[name]
  real_load = cpp_extension.load
  cpp_extension.load = lambda name, *args, **kwargs: _UnbuiltExtension(name)
  try:
    op = importlib.import_module('op')
  finally:
    cpp_extension.load = real_load
  where = os.path.dirname(os.path.abspath(op.__file__))
  if where != os.path.join(os.path.abspath(path), 'op'):
    raise SystemExit(f"--ops=port_cpu: imported `op` from {where!r}, not from the port's "
                     f"{os.path.join(path, 'op')!r}")
  return op


OPS = {'port_cpu': install_port_cpu_ops, 'standin': lambda path: install_op_standins()}


def import_port(path, ops='port_cpu'):
  """Puts the port first on sys.path (and this directory off it) and imports its modules.

  This directory holds our likelihood.py, sampling.py, ... which would shadow
  the port's top-level modules of the same names.
  """
  path = os.path.abspath(path)
  if not os.path.isfile(os.path.join(path, 'models', 'ncsnpp.py')):
    raise SystemExit(f"--port={path!r} is not a checkout of yang-song/score_sde_pytorch "
                     "(no models/ncsnpp.py there)")
  here = os.path.dirname(os.path.abspath(__file__))
  sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != here]
  sys.path.insert(0, path)
  if ops not in OPS:
    raise SystemExit(f"--ops={ops!r}: allowed: {', '.join(OPS)}")
  OPS[ops](path)
  mods = types.SimpleNamespace()
  for name in ('sde_lib', 'losses', 'sampling', 'likelihood', 'models.utils', 'models.ema',
               'models.ncsnpp'):
    setattr(mods, name.replace('models.', 'm_'), importlib.import_module(name))
  return mods


def parse_override(text):
  """'model.ch_mult=(1,2,2)' -> (['model', 'ch_mult'], (1, 2, 2)); values are Python literals."""
  if '=' not in text:
    raise SystemExit(f"--override={text!r}: expected FIELD=VALUE, e.g. model.nf=32")
  key, value = text.split('=', 1)
  try:
    value = ast.literal_eval(value)
  except (ValueError, SyntaxError):
    pass                    # a bare string, e.g. model.name=ncsnpp
  return key.split('.'), value


def load_config(port_path, config_file, overrides):
  rel = os.path.splitext(os.path.normpath(config_file))[0]
  if not os.path.isfile(os.path.join(port_path, rel + '.py')):
    raise SystemExit(f"--config={config_file!r}: no such config in the port at {port_path}")
  config = importlib.import_module(rel.replace(os.sep, '.')).get_config()
  for text in overrides:
    keys, value = parse_override(text)
    node = config
    for k in keys[:-1]:
      node = node[k]
    if keys[-1] not in node:
      raise SystemExit(f"--override={text!r}: the port's config has no field {'.'.join(keys)}")
    node[keys[-1]] = value
  config.device = torch.device('cpu')
  return config


def get_sde(port, config, n=None):
  n = n or config.model.num_scales
  name = config.training.sde.lower()
  if name == 'vpsde':
    return port.sde_lib.VPSDE(beta_min=config.model.beta_min, beta_max=config.model.beta_max, N=n)
  if name == 'subvpsde':
    return port.sde_lib.subVPSDE(beta_min=config.model.beta_min, beta_max=config.model.beta_max,
                                 N=n)
  if name == 'vesde':
    return port.sde_lib.VESDE(sigma_min=config.model.sigma_min, sigma_max=config.model.sigma_max,
                              N=n)
  raise SystemExit(f"config.training.sde={config.training.sde!r}: not vpsde, subvpsde or vesde")


def scalers(config):
  """The port's data scaler and inverse (datasets.py's, which imports tensorflow to load data)."""
  if config.data.centered:
    return (lambda x: 2. * x - 1.), (lambda x: (x + 1.) / 2.)
  return (lambda x: x), (lambda x: x)


def train_row(port, config, args):
  model = port.m_utils.create_model(config)
  ema = port.m_ema.ExponentialMovingAverage(model.parameters(), decay=config.model.ema_rate)
  optimizer = port.losses.get_optimizer(config, model.parameters())
  state = dict(optimizer=optimizer, model=model, ema=ema, step=0)
  sde = get_sde(port, config)
  step_fn = port.losses.get_step_fn(
      sde, train=True, optimize_fn=port.losses.optimization_manager(config),
      reduce_mean=config.training.reduce_mean, continuous=config.training.continuous,
      likelihood_weighting=config.training.likelihood_weighting)
  scaler, _ = scalers(config)
  size, ch = config.data.image_size, config.data.num_channels
  batch = scaler(torch.rand(args.batch, ch, size, size))
  loss = step_fn(state, batch)          # warm-up
  times, cpu = [], []
  for _ in range(args.steps):
    t0, c0 = time.perf_counter(), time.process_time()
    loss = step_fn(state, batch)
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
  return dict(step_s=statistics.median(times), cpu_s_per_step=statistics.median(cpu),
              steps=args.steps, loss=float(loss.detach()),
              params=sum(p.numel() for p in model.parameters()))


def pc_row(port, config, args):
  model = port.m_utils.create_model(config)
  model.eval()
  sde = get_sde(port, config, n=args.N)
  _, inverse_scaler = scalers(config)
  size, ch = config.data.image_size, config.data.num_channels
  sampler = port.sampling.get_pc_sampler(
      sde, (args.batch, ch, size, size), port.sampling.get_predictor(args.predictor),
      port.sampling.get_corrector(args.corrector), inverse_scaler, config.sampling.snr,
      n_steps=config.sampling.n_steps_each, probability_flow=False,
      continuous=config.training.continuous, denoise=config.sampling.noise_removal, eps=1e-3,
      device=config.device)
  # Warm-up: one score evaluation (torch has nothing to compile; this builds its kernels' plans).
  score_fn = port.m_utils.get_score_fn(sde, model, train=False,
                                       continuous=config.training.continuous)
  with torch.no_grad():
    score_fn(torch.randn(args.batch, ch, size, size), torch.full((args.batch,), 0.5))
  times = []
  for _ in range(args.repeats):
    t0 = time.perf_counter()
    _, nfe = sampler(model)
    times.append(time.perf_counter() - t0)
  return dict(step_s=statistics.median(times) / args.N, N=args.N, nfe=int(nfe),
              predictor=args.predictor, corrector=args.corrector, repeats=args.repeats)


def likelihood_row(port, config, args):
  if not args.inputs:
    raise SystemExit('--kind likelihood needs --inputs (an .npy of NHWC images)')
  model = port.m_utils.create_model(config)
  model.eval()
  sde = get_sde(port, config)
  _, inverse_scaler = scalers(config)
  data = torch.from_numpy(np.load(args.inputs).astype(np.float32)).permute(0, 3, 1, 2)
  data = data.contiguous()
  if data.shape[0] != args.batch:
    raise SystemExit(f"--inputs={args.inputs!r} holds {data.shape[0]} images, "
                     f"--batch={args.batch}")
  likelihood_fn = port.likelihood.get_likelihood_fn(
      sde, inverse_scaler, hutchinson_type='Rademacher', rtol=args.tol, atol=args.tol,
      method='RK45', eps=1e-5)
  times = []
  for _ in range(args.repeats):
    t0 = time.perf_counter()
    bpd, _, nfe = likelihood_fn(model, data)
    times.append(time.perf_counter() - t0)
  return dict(per_example_s=min(times) / data.shape[0], batch_wall_s=min(times), nfe=int(nfe),
              bpd=float(bpd.mean()), rtol=args.tol, atol=args.tol,
              solver='scipy RK45', repeats=args.repeats)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--port', required=True, help='checkout of yang-song/score_sde_pytorch')
  parser.add_argument('--kind', required=True, choices=KINDS)
  parser.add_argument('--config', required=True, help="the port's config file, relative to --port")
  parser.add_argument('--override', action='append', default=[], help='FIELD=VALUE (repeatable)')
  parser.add_argument('--batch', type=int, required=True)
  parser.add_argument('--steps', type=int, default=5, help='train: timed steps')
  parser.add_argument('--repeats', type=int, default=1, help='pc / likelihood: timed runs')
  parser.add_argument('--N', type=int, default=100, help='pc: time steps')
  parser.add_argument('--predictor', default='euler_maruyama')
  parser.add_argument('--corrector', default='none')
  parser.add_argument('--inputs', help='likelihood: .npy of NHWC images, in the data scaling')
  parser.add_argument('--tol', type=float, default=1e-5, help='likelihood: rtol = atol')
  parser.add_argument('--threads', type=int, default=2, help='torch.set_num_threads')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--ops', choices=tuple(OPS), default='port_cpu',
                      help="the port's CUDA ops on CPU: its own CPU branches (port_cpu) or our "
                      "faster pure-torch stand-ins (standin)")
  args = parser.parse_args(argv)
  for name in ('batch', 'steps', 'repeats', 'N', 'threads'):
    if getattr(args, name) < 1:
      raise SystemExit(f"--{name}={getattr(args, name)}: must be >= 1")

  torch.set_num_threads(args.threads)
  torch.manual_seed(args.seed)
  port = import_port(args.port, args.ops)
  config = load_config(os.path.abspath(args.port), args.config, args.override)
  row = {'train': train_row, 'pc': pc_row, 'likelihood': likelihood_row}[args.kind](
      port, config, args)
  print(json.dumps(dict(side='port', kind=args.kind, config=args.config, batch=args.batch,
                        model={k: (list(v) if isinstance(v, tuple) else v)
                               for k, v in config.model.items()
                               if k in ('name', 'nf', 'ch_mult', 'num_res_blocks', 'fir')},
                        torch=torch.__version__, threads=torch.get_num_threads(), ops=args.ops,
                        **row)),
        flush=True)


if __name__ == '__main__':
  main()
