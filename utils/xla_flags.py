"""XLA flags that make CPU runs faster, keyed to the jaxlib versions they were measured on.

jaxlib 0.10.2 sends every f32 convolution on CPU to YNNPACK, which is slower
than XLA's own convolutions on the machines we test on; the flag below turns
that off (bit-identical results). jaxlib 0.12.0.1 knows the flag but gains
nothing from it. Reduced DDPM++ training step (benchmarks/train_step.py, batch
16, 2 quiet cores, s/step with / without the flag): jaxlib 0.10.2 0.360 / 0.530;
jaxlib 0.12.0.1 0.408 / 0.402, 0.412 / 0.559, 0.361 / 0.358 (three interleaved
pairs). So it is set on 0.10.2 only. XLA aborts the process on a flag it does
not know, so a flag is set only for the jaxlib versions listed with it; any
other version runs with XLA's defaults (tests/test_xla_flags.py checks that
each listed version accepts its flags). Call `configure()` before the first JAX computation
(XLA reads XLA_FLAGS when the backend starts).
"""
import os

# Compiler options for a program that runs once (a model's initial state, a test's single
# call): no backend (LLVM) optimisation. On CPU it compiles 2-3x faster; the same bits for
# integer and exactly rounded float ops. Not for loops that run many steps (slower code).
ONE_OFF_COMPILE = {'xla_backend_optimization_level': 0}

_NO_YNN_CONVS = '--xla_cpu_experimental_ynn_fusion_type=-individual_convolution'

CPU_FLAGS = {
    '0.10.2': [_NO_YNN_CONVS],
}


def installed_jaxlib():
  """The installed jaxlib's version string, or None when it is not installed as a distribution."""
  try:
    from importlib.metadata import PackageNotFoundError, version
  except ImportError:  # pragma: no cover
    return None
  try:
    return version('jaxlib')
  except PackageNotFoundError:
    return None


def flags_for(jaxlib_version):
  """The CPU flags measured for `jaxlib_version` ([] for any version not listed)."""
  return list(CPU_FLAGS.get(jaxlib_version, []))


def configure(jaxlib_version=None):
  """Adds the CPU flags for the installed (or given) jaxlib to XLA_FLAGS; idempotent.

  A flag whose name the user already set in XLA_FLAGS is left as the user set it.
  Returns the flags added.
  """
  jaxlib_version = jaxlib_version or installed_jaxlib()
  current = os.environ.get('XLA_FLAGS', '')
  present = {f.split('=')[0] for f in current.split()}
  extra = [f for f in flags_for(jaxlib_version) if f.split('=')[0] not in present]
  if extra:
    os.environ['XLA_FLAGS'] = ' '.join([current] + extra).strip()
  return extra
