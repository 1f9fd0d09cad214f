"""The jaxlib-dependent settings: XLA CPU flags keyed to the installed jaxlib, mesh axis types."""
import os
import subprocess
import sys

import jax
import numpy as np

from utils import xla_flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CONV = """
import jax, jax.numpy as jnp, numpy as np, sys
x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 3), jnp.float32)
w = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 3, 4), jnp.float32)
y = jax.lax.conv_general_dilated(x, w, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
np.save(sys.argv[1], np.asarray(y))
"""


def _run_conv(tmp_path, name, xla_flags_value):
  env = dict(os.environ)
  env['XLA_FLAGS'] = xla_flags_value
  env['JAX_PLATFORMS'] = 'cpu'
  out = tmp_path / f'{name}.npy'
  proc = subprocess.run([sys.executable, '-c', _CONV, str(out)], env=env, cwd=ROOT,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, (
      f"XLA_FLAGS={xla_flags_value!r} made the process fail (XLA aborts on a flag the "
      f"installed jaxlib does not know):\n{proc.stderr[-2000:]}")
  return np.load(out)


def test_installed_jaxlib_accepts_its_flags_and_they_do_not_change_results(tmp_path):
  """The flags listed for the installed jaxlib start XLA (an unknown flag aborts the process:
  this test process runs with them, tests/conftest.py set them) and leave a convolution's
  result bit-identical to XLA's defaults (a subprocess without them)."""
  flags = xla_flags.flags_for(xla_flags.installed_jaxlib())
  assert all(f in os.environ.get('XLA_FLAGS', '').split() for f in flags)
  here = {}
  exec(_CONV.replace('np.save(sys.argv[1], np.asarray(y))', 'here["y"] = np.asarray(y)'),
       {'here': here})
  np.testing.assert_array_equal(here['y'], _run_conv(tmp_path, 'defaults', ''))


def test_every_listed_flag_is_known_to_the_installed_jaxlib_or_not_listed_for_it():
  """Flags are keyed by exact jaxlib version; a version not in the table gets none."""
  assert xla_flags.flags_for('0.0.0-not-a-release') == []
  for version, flags in xla_flags.CPU_FLAGS.items():
    assert all(f.startswith('--xla_') for f in flags), (version, flags)


def test_configure_adds_once_and_keeps_a_users_own_setting(monkeypatch):
  """configure() is idempotent and never overrides a flag the user set in XLA_FLAGS."""
  monkeypatch.setenv('XLA_FLAGS', '--xla_force_host_platform_device_count=2')
  added = xla_flags.configure('0.10.2')
  assert added == xla_flags.flags_for('0.10.2')
  assert xla_flags.configure('0.10.2') == []
  assert os.environ['XLA_FLAGS'].split() == ['--xla_force_host_platform_device_count=2'] + added
  name = xla_flags.flags_for('0.10.2')[0].split('=')[0]
  monkeypatch.setenv('XLA_FLAGS', f'{name}=+individual_convolution')
  assert xla_flags.configure('0.10.2') == []
  assert os.environ['XLA_FLAGS'] == f'{name}=+individual_convolution'
  monkeypatch.setenv('XLA_FLAGS', '')
  assert xla_flags.configure('0.0.0-not-a-release') == []
  assert os.environ['XLA_FLAGS'] == ''


def test_training_mesh_uses_automatic_sharding_axes():
  """`jax.make_mesh` defaults to explicit axes on current JAX; the training mesh asks for Auto."""
  import experiment
  mesh = experiment.make_mesh()
  assert mesh.axis_names == ('data',)
  assert tuple(mesh.axis_types) == (jax.sharding.AxisType.Auto,)
