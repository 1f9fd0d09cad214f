"""Shared test setup: the project root on sys.path, float64 available."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from utils import malloc_tunables, xla_flags  # noqa: E402

xla_flags.configure()

# The pytest-xdist workers, and the processes tests start, inherit this and start with glibc's
# malloc on huge pages, as main.py runs (utils/malloc_tunables.py); this process does not.
_env = malloc_tunables.environment()
if _env is not None:
  os.environ['GLIBC_TUNABLES'] = _env['GLIBC_TUNABLES']

import jax  # noqa: E402

jax.config.update('jax_enable_x64', True)


def pytest_collection_modifyitems(items):
  """Tests marked `slow` (tens of seconds each) run first, in collection order otherwise: the
  xdist workers then share them out at the start instead of one worker finishing alone."""
  items.sort(key=lambda item: item.get_closest_marker('slow') is None)
