"""XLA flags that make CPU runs faster, tied to the jaxlib version they were measured on.

jaxlib 0.10.2 sends every f32 convolution on CPU to YNNPACK, which is 2-4x
slower than XLA's own convolutions on the machines we test on; the flag below
turns that off (bit-identical results). XLA aborts on a flag it does not
know, so it is set only for the jaxlib it exists in. Call before the first
JAX computation (XLA reads XLA_FLAGS when the backend starts).
"""
import os

CPU_FLAGS = {
    '0.10.2': ['--xla_cpu_experimental_ynn_fusion_type=-individual_convolution'],
}


def configure():
  """Adds the CPU flags for the installed jaxlib to XLA_FLAGS (idempotent)."""
  try:
    from importlib.metadata import version
    jaxlib_version = version('jaxlib')
  except Exception:  # not installed as a distribution: leave XLA alone
    return
  flags = os.environ.get('XLA_FLAGS', '')
  extra = [f for f in CPU_FLAGS.get(jaxlib_version, []) if f.split('=')[0] not in flags]
  if extra:
    os.environ['XLA_FLAGS'] = ' '.join([flags] + extra).strip()
