"""One-off calls in tests: compile without XLA's backend optimisations.

Tests run many small programs once each; on CPU XLA's backend optimisations
cost more compile time than they save at these sizes (a tiny NCSN++ forward:
12.5 s compiled by default, 5.3 s without). Results agree to rounding. Not
for loops that run many steps: those run slower unoptimised.
"""
import jax

from utils.xla_flags import ONE_OFF_COMPILE as FAST_COMPILE


def compiled(fn, *args):
  """fn(*args) through jit, compiled for speed of compilation."""
  return jax.jit(fn).lower(*args).compile(compiler_options=FAST_COMPILE)(*args)
