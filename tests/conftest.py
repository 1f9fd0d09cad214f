"""Shared test setup: the project root on sys.path, float64 available."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from utils import xla_flags  # noqa: E402

xla_flags.configure()

import jax  # noqa: E402

jax.config.update('jax_enable_x64', True)
