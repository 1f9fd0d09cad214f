"""The pure parts of benchmarks/compare_pytorch.py and its port-side stand-ins (and of
benchmarks/profile_step.py: HLO parsing and op attribution).

No test runs the PyTorch port or times anything: the machine-share
arithmetic, busy marking and row/JSON formatting run on fake measurements,
the commands are checked for agreeing settings on both sides, and the
pure-torch stand-in for the port's CUDA `upfirdn2d` is checked against our
JAX `models.upfirdn2d`.
"""
import argparse
import importlib.util
import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(name):
  spec = importlib.util.spec_from_file_location(f'_bench_{name}',
                                                os.path.join(ROOT, 'benchmarks', f'{name}.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


cp = _load('compare_pytorch')

PROC_STAT = """cpu  1000 20 300 5000 40 6 7 8 9 10
cpu0 500 10 150 2500 20 3 3 4 5 5
cpu1 500 10 150 2500 20 3 4 4 4 5
intr 12345 0 0
ctxt 999
btime 1700000000
"""


def _opts(**kw):
  base = dict(port='/somewhere/score_sde_pytorch', repeats=1, train_steps=2, pc_N=20,
              pc_repeats=1, likelihood_repeats=1, likelihood_tol=1e-5, threads=2,
              port_ops='port_cpu')
  base.update(kw)
  return argparse.Namespace(**base)


def _run(value, others, key='step_s', **extra):
  return dict(result={key: value, **extra}, wall_s=10., cpu_s=15., others=others)


def test_parse_proc_stat_counts_busy_ticks_and_cpus():
  """Busy = user + nice + system + irq + softirq + steal of the `cpu` line; CPUs = cpuN lines."""
  busy, ncpu = cp.parse_proc_stat(PROC_STAT)
  assert busy == 1000 + 20 + 300 + 6 + 7 + 8
  assert ncpu == 2
  with pytest.raises(ValueError, match='/proc/stat'):
    cp.parse_proc_stat('intr 1 2 3\n')


def test_others_share_is_machine_busy_time_less_own_cpu_over_capacity():
  """3 s busy (300 ticks at 100 Hz), 1 s our own, 2 s on 2 CPUs: others took 2 / 4 = 0.5."""
  assert cp.others_share(300, 100, 1., 2., 2) == pytest.approx(0.5)
  # Tick rounding can make our own time exceed the machine's: clipped at 0, and at 1.
  assert cp.others_share(100, 100, 1.2, 2., 2) == 0.
  assert cp.others_share(10_000, 100, 0., 1., 2) == 1.
  with pytest.raises(ValueError, match='wall_s'):
    cp.others_share(100, 100, 1., 0., 2)


def test_busy_threshold():
  """A side is busy only above BUSY_SHARE; a missing share (failed run) is not busy."""
  assert not cp.is_busy(cp.BUSY_SHARE)
  assert cp.is_busy(cp.BUSY_SHARE + 1e-6)
  assert not cp.is_busy(0.)
  assert not cp.is_busy(None)


def test_pair_row_ratio_busy_marking_and_json():
  """ratio = port / ours; busy if either side's others' share exceeds the threshold; valid JSON."""
  row = cp.ROWS[0]
  quiet = cp.pair_row(row, 0, _run(0.30, 0.01), _run(0.375, 0.02), _opts())
  assert quiet['kind'] == 'pair' and quiet['row'] == row.name and quiet['unit'] == 's/step'
  assert quiet['port'] == 0.30 and quiet['ours'] == 0.375
  assert quiet['ratio'] == pytest.approx(0.8)
  assert quiet['port_others'] == 0.01 and quiet['ours_others'] == 0.02
  assert quiet['busy'] is False
  busy = cp.pair_row(row, 1, _run(0.9, 0.35), _run(0.4, 0.0), _opts())
  assert busy['busy'] is True and busy['ratio'] == pytest.approx(2.25)
  busy_ours = cp.pair_row(row, 1, _run(0.3, 0.0), _run(0.4, 0.2), _opts())
  assert busy_ours['busy'] is True
  for r in (quiet, busy):
    assert json.loads(json.dumps(r, allow_nan=False)) == r


def test_pair_row_figure_and_likelihood_extras():
  """The figure text carries the options; the likelihood row reports each side's bits/dim."""
  pc = next(r for r in cp.ROWS if r.kind == 'pc')
  assert 'N = 20' in cp.pair_row(pc, 0, _run(.03, 0), _run(.02, 0), _opts(pc_N=20))['figure']
  lik = next(r for r in cp.ROWS if r.kind == 'likelihood')
  pair = cp.pair_row(lik, 0, _run(2.0, 0., 'per_example_s', bpd=15.5754, nfe=200),
                     _run(1.0, 0., 'per_example_s', bpd_256=15.5753, nfe=100), _opts())
  assert pair['unit'] == 's/example' and pair['ratio'] == pytest.approx(2.)
  assert pair['port_bpd'] == 15.5754 and pair['ours_bpd'] == 15.5753
  assert pair['port_nfe'] == 200 and pair['ours_nfe'] == 100
  assert 'rtol = atol = 1e-05' in pair['figure']


def test_pair_row_failed_side_gives_nulls_and_the_error():
  """A failed side: null figure and ratio, its error kept, the row still valid JSON."""
  failed = dict(result=None, wall_s=3., cpu_s=1., others=0.0, error='exit status 1: boom')
  pair = cp.pair_row(cp.ROWS[0], 0, failed, _run(0.4, 0.0), _opts())
  assert pair['port'] is None and pair['ratio'] is None and pair['ours'] == 0.4
  assert pair['port_error'] == 'exit status 1: boom' and 'ours_error' not in pair
  json.dumps(pair, allow_nan=False)


def test_summary_row_medians_keeps_busy_repeats_and_reports_quiet_ones():
  """Medians over all repeats; busy repeats counted, not dropped; `quiet` medians when mixed."""
  row = cp.ROWS[0]
  pairs = [cp.pair_row(row, 0, _run(0.30, 0.01), _run(0.40, 0.01), _opts()),
           cp.pair_row(row, 1, _run(1.50, 0.50), _run(0.60, 0.30), _opts()),
           cp.pair_row(row, 2, _run(0.32, 0.02), _run(0.38, 0.00), _opts())]
  s = cp.summary_row(row, pairs, _opts())
  assert s['kind'] == 'row' and s['repeats'] == 3
  assert s['port'] == pytest.approx(0.32) and s['ours'] == pytest.approx(0.40)
  assert s['ratio'] == pytest.approx(0.8)
  assert s['busy'] is True and s['busy_repeats'] == 1
  assert s['port_others'] == 0.5 and s['ours_others'] == 0.3
  assert s['quiet'] == dict(repeats=2, port=pytest.approx(0.31), ours=pytest.approx(0.39),
                            ratio=pytest.approx(0.31 / 0.39))
  all_quiet = cp.summary_row(row, [pairs[0], pairs[2]], _opts())
  assert all_quiet['busy'] is False and 'quiet' not in all_quiet
  json.dumps(s, allow_nan=False)


def test_select_rows():
  """All rows by default, in the table's order; unknown names name the allowed ones."""
  assert cp.select_rows('') == cp.ROWS
  picked = cp.select_rows('likelihood_ddpmpp_vp, train_ddpmpp_vp')
  assert [r.name for r in picked] == ['train_ddpmpp_vp', 'likelihood_ddpmpp_vp']
  with pytest.raises(ValueError, match='unknown row.*nope.*allowed: train_ddpmpp_vp'):
    cp.select_rows('train_ddpmpp_vp,nope')


def _flag(cmd, name):
  values = [a.split('=', 1)[1] for a in cmd if a.startswith(f'--{name}=')]
  assert len(values) == 1, (name, cmd)
  return values[0]


@pytest.mark.parametrize('row', cp.ROWS, ids=lambda r: r.name)
def test_both_sides_run_the_same_config_batch_and_reductions(row):
  """Each row's two commands: the same config file, batch, network reductions and row settings."""
  opts = _opts(pc_N=37, train_steps=3, likelihood_tol=1e-4)
  ours = cp.ours_command(row, opts, python='py')
  port = cp.port_command(row, opts, inputs='/tmp/x.npy', python='py')
  assert os.path.isfile(ours[1]) and os.path.isfile(port[1])
  assert os.path.isfile(os.path.join(cp.ROOT, row.config))
  assert _flag(ours, 'config') == os.path.join(cp.ROOT, row.config)
  assert _flag(port, 'config') == row.config and _flag(port, 'port') == opts.port
  assert _flag(ours, 'batch') == _flag(port, 'batch') == str(row.batch)
  assert _flag(port, 'ops') == 'port_cpu'
  assert _flag(cp.port_command(row, _opts(port_ops='standin'), inputs='/x.npy'), 'ops') == 'standin'
  overrides = [a.split('=', 1)[1] for a in port if a.startswith('--override=')]
  assert overrides == ['model.nf=32', 'model.ch_mult=(1,2,2)', 'model.num_res_blocks=1']
  assert [a for a in ours if a.startswith('--config.model.')] == [
      '--config.model.nf=32', '--config.model.ch_mult=(1,2,2)', '--config.model.num_res_blocks=1']
  if row.kind == 'train':
    assert _flag(ours, 'steps') == _flag(port, 'steps') == '3'
  elif row.kind == 'pc':
    assert _flag(ours, 'N') == _flag(port, 'N') == '37'
    assert _flag(ours, 'predictor') == _flag(port, 'predictor') == 'euler_maruyama'
    assert _flag(ours, 'corrector') == _flag(port, 'corrector') == 'none'
  else:
    assert _flag(ours, 'tol') == _flag(port, 'tol') == '0.0001'
    assert _flag(port, 'inputs') == '/tmp/x.npy'
    with pytest.raises(ValueError, match='inputs'):
      cp.port_command(row, opts, inputs=None)


def test_last_json_skips_log_lines():
  """The result is the last JSON object line of a side's stdout, whatever else it logged."""
  out = 'loading\n{"a": 1}\nwarning: {not json\n{"step_s": 0.3}\ndone\n'
  assert cp.last_json(out) == {'step_s': 0.3}
  assert cp.last_json('no json here\n') is None


def test_parse_args_rejects_bad_values(tmp_path):
  """A missing or wrong --port, unknown rows and non-positive counts are usage errors."""
  port = tmp_path / 'port'
  (port / 'models').mkdir(parents=True)
  (port / 'models' / 'ncsnpp.py').write_text('')
  assert cp.parse_args(['--port', str(port)]).rows == cp.ROWS
  for argv in ([], ['--port', str(tmp_path)], ['--port', str(port), '--rows', 'x'],
               ['--port', str(port), '--repeats', '0'],
               ['--port', str(port), '--port_ops', 'cuda'],
               ['--port', str(port), '--likelihood_tol', '0']):
    with pytest.raises(SystemExit):
      cp.parse_args(argv)


# The port side's stand-ins for its CUDA ops (pure torch; the port itself is not imported).

@pytest.fixture(name='port_side', scope='module')
def _port_side():
  pytest.importorskip('torch')
  return _load('compare_pytorch_port')


@pytest.mark.parametrize('up,down,pad', [(2, 1, (2, 1)), (1, 2, (1, 1)), (1, 1, (1, 1)),
                                         (1, 1, (2, 2)), (2, 1, (-1, 2)), (1, 2, (0, -1))])
def test_upfirdn2d_standin_matches_our_jax_upfirdn2d(port_side, up, down, pad):
  """The stand-in (NCHW, 2-D kernel) equals models.upfirdn2d (NHWC) for the port's call patterns.

  An asymmetric kernel, so a missing flip (convolution vs correlation) shows;
  negative pads crop.
  """
  import torch  # pylint: disable=import-outside-toplevel
  from models import upfirdn2d as fir  # pylint: disable=import-outside-toplevel
  k1 = np.array([1., 2., 5., 3.])
  x = np.random.default_rng(0).normal(size=(2, 3, 7, 6))
  got = port_side.upfirdn2d(torch.from_numpy(x), torch.from_numpy(np.outer(k1, k1)),
                            up=up, down=down, pad=pad).numpy()
  want = np.asarray(fir.upfirdn2d(x.transpose(0, 2, 3, 1), k1, up=up, down=down, pad=pad))
  assert got.shape == want.transpose(0, 3, 1, 2).shape
  np.testing.assert_allclose(got, want.transpose(0, 3, 1, 2), rtol=1e-12, atol=1e-12)


def test_fused_leaky_relu_standin(port_side):
  """leaky_relu(x + bias over channels, 0.2) * sqrt(2), the op the port's CUDA kernel fuses."""
  import torch  # pylint: disable=import-outside-toplevel
  x = np.random.default_rng(1).normal(size=(2, 3, 4, 4))
  b = np.array([0.5, -1., 2.])
  y = x + b[None, :, None, None]
  want = np.where(y > 0, y, 0.2 * y) * np.sqrt(2.)
  got = port_side.fused_leaky_relu(torch.from_numpy(x), torch.from_numpy(b)).numpy()
  np.testing.assert_allclose(got, want, rtol=1e-12)


def test_install_op_standins_provides_the_ports_imports(port_side):
  """`from op import upfirdn2d` and `op.fused_act.FusedLeakyReLU` resolve to the stand-ins."""
  names = ('op', 'op.upfirdn2d', 'op.fused_act')
  saved = {n: sys.modules.get(n) for n in names}
  try:
    port_side.install_op_standins()
    from op import upfirdn2d  # pylint: disable=import-outside-toplevel,import-error
    from op.fused_act import FusedLeakyReLU  # pylint: disable=import-outside-toplevel,import-error
    assert upfirdn2d is port_side.upfirdn2d
    assert FusedLeakyReLU is port_side.FusedLeakyReLU
  finally:
    for n, m in saved.items():
      if m is None:
        sys.modules.pop(n, None)
      else:
        sys.modules[n] = m


_FAKE_PORT_OP = """
from torch.utils.cpp_extension import load
fused = load("fused", sources=["fused_bias_act.cpp", "fused_bias_act_kernel.cu"])

def double(x):
  if x.device.type == "cpu":
    return 2 * x
  return fused.double(x)

def cuda_only(x):
  return fused.double(x)
"""


def test_port_ops_names_agree(port_side):
  """The driver's --port_ops values are the port side's --ops values, default first."""
  assert tuple(port_side.OPS) == cp.PORT_OPS


def _without_op_modules():
  saved = {n: m for n, m in sys.modules.items() if n == 'op' or n.startswith('op.')}
  for n in saved:
    del sys.modules[n]
  return saved


def test_install_port_cpu_ops_imports_the_ports_op_with_the_cuda_build_skipped(port_side,
                                                                               tmp_path):
  """--ops port_cpu: the port's own `op` package is imported (its CPU branches run), the CUDA
  build is never started (a stub stands for it and fails, naming the extension, if called),
  and cpp_extension.load is restored; an `op` found outside the port is refused."""
  import torch  # pylint: disable=import-outside-toplevel
  from torch.utils import cpp_extension  # pylint: disable=import-outside-toplevel
  port = tmp_path / 'port'
  (port / 'op').mkdir(parents=True)
  (port / 'op' / '__init__.py').write_text(_FAKE_PORT_OP)
  real_load = cpp_extension.load
  saved = _without_op_modules()
  sys.path.insert(0, str(port))
  try:
    op = port_side.install_port_cpu_ops(str(port))
    assert cpp_extension.load is real_load
    assert op.__file__ == str(port / 'op' / '__init__.py')
    assert torch.equal(op.double(torch.arange(3.)), torch.tensor([0., 2., 4.]))
    with pytest.raises(RuntimeError, match="'fused' was not built.*'double'"):
      op.cuda_only(torch.ones(1))
    with pytest.raises(SystemExit, match='not from the port'):
      port_side.install_port_cpu_ops(str(tmp_path / 'elsewhere'))
    assert cpp_extension.load is real_load
  finally:
    sys.path.remove(str(port))
    _without_op_modules()
    sys.modules.update(saved)


def test_parse_override(port_side):
  """Port config overrides: Python literals, bare strings, and a clear error without '='."""
  assert port_side.parse_override('model.ch_mult=(1,2,2)') == (['model', 'ch_mult'], (1, 2, 2))
  assert port_side.parse_override('model.nf=32') == (['model', 'nf'], 32)
  assert port_side.parse_override('training.sde=vesde') == (['training', 'sde'], 'vesde')
  with pytest.raises(SystemExit, match='FIELD=VALUE'):
    port_side.parse_override('model.nf')


# benchmarks/profile_step.py: the HLO parsing and the attribution of trace events to ops.
_HLO = """HloModule jit_train_step

%fused_computation.1 (param_0: f32[2,4,4,8], param_1: f32[3,3,8,8]) -> f32[2,2,2,8] {
  %param_0 = f32[2,4,4,8]{3,2,1,0} parameter(0)
  %param_1 = f32[3,3,8,8]{3,2,1,0} parameter(1)
  %convolution.7 = f32[2,4,4,8]{3,2,1,0} convolution(%param_0, %param_1), window={size=3x3 pad=1_1x1_1}, dim_labels=b01f_01io->b01f, metadata={op_name="jit(train_step)/transpose(jvp(NCSNpp))/ResnetBlockBigGANpp_3/Conv_0/conv_general_dilated"}
  ROOT %reduce.2 = f32[2,2,2,8]{3,2,1,0} reduce(%convolution.7, %c), dimensions={2,4}, metadata={op_name="jit(train_step)/transpose(jvp(NCSNpp))/ResnetBlockBigGANpp_3/reduce_sum"}
}

%fused_computation.2 (param_0.1: f32[2,4,4,8]) -> f32[8,4,4,2] {
  %param_0.1 = f32[2,4,4,8]{3,2,1,0} parameter(0)
  %transpose.3 = f32[8,4,4,2]{3,2,1,0} transpose(%param_0.1), dimensions={3,1,2,0}
  ROOT %copy.4 = f32[8,4,4,2]{3,2,1,0} copy(%transpose.3), metadata={op_name="jit(train_step)/jvp(NCSNpp)/AttnBlockpp_0/GroupNorm_0/mul"}
}

ENTRY %main.9 (Arg_0.1: f32[2,4,4,8], Arg_1.2: f32[3,3,8,8]) -> f32[8,4,4,2] {
  %Arg_0.1 = f32[2,4,4,8]{3,2,1,0} parameter(0)
  %Arg_1.2 = f32[3,3,8,8]{3,2,1,0} parameter(1)
  %ynn_fusion.5 = f32[2,2,2,8]{3,2,1,0} fusion(%Arg_0.1, %Arg_1.2), kind=kCustom, calls=%fused_computation.1, backend_config={"fusion_config":{"kind":"__ynn_fusion"}}
  %convolution.8 = f32[2,4,4,8]{3,2,1,0} convolution(%Arg_0.1, %Arg_1.2), window={size=3x3 pad=1_1x1_1}, dim_labels=b01f_01io->b01f, metadata={op_name="jit(train_step)/jvp(NCSNpp)/Conv_0/conv_general_dilated"}
  ROOT %transpose_copy_fusion.6 = f32[8,4,4,2]{3,2,1,0} fusion(%Arg_0.1), kind=kLoop, calls=%fused_computation.2
}
"""


def test_profile_step_classifies_ops_and_sums_trace_events():
  """Each op is named by kind (what its fusion holds, YNNPACK or XLA), module path (numbers
  dropped) and direction (backward = under transpose(jvp)); events of the same op are summed
  per step; events that are not HLO ops (the executor's own) are left out."""
  prof = _load('profile_step')
  instructions, computations = prof.parse_hlo(_HLO)
  assert prof.classify('ynn_fusion.5', instructions, computations) == (
      'fusion[ynn]:convolution+reduce', 'ResnetBlockBigGANpp', 'backward')
  assert prof.classify('transpose_copy_fusion.6', instructions, computations) == (
      'fusion[xla]:transpose', 'AttnBlockpp/GroupNorm', 'forward')
  assert prof.classify('convolution.8', instructions, computations) == (
      'convolution', 'Conv', 'forward')
  assert prof.classify('ThunkExecutor::Execute', instructions, computations) is None
  events = [{'ph': 'M', 'name': 'thread_name', 'pid': 1, 'tid': 2, 'args': {'name': 'eigen'}},
            {'ph': 'X', 'name': 'ynn_fusion.5', 'pid': 1, 'tid': 2, 'dur': 3000.},
            {'ph': 'X', 'name': 'ynn_fusion.5', 'pid': 1, 'tid': 2, 'dur': 1000.},
            {'ph': 'X', 'name': 'convolution.8', 'pid': 1, 'tid': 3, 'dur': 500.},
            {'ph': 'X', 'name': 'ThunkExecutor::Execute', 'pid': 1, 'tid': 2, 'dur': 9000.}]
  by_kind, counts, by_layer, by_op, busy = prof.op_times(events, instructions, computations,
                                                         steps=2)
  assert by_kind == {'fusion[ynn]:convolution+reduce': 2.0, 'convolution': 0.25}
  assert counts['fusion[ynn]:convolution+reduce'] == 2
  assert by_layer == {('backward', 'ResnetBlockBigGANpp'): 2.0, ('forward', 'Conv'): 0.25}
  assert by_op['ynn_fusion.5'] == 2.0
  assert busy == {'eigen': 2.0, '?': 0.25}
