"""Checks of scalar arguments and config fields (bools, integers, reals), worded once.

Each `require_*` returns the value converted (bool, int, float) or raises a
ValueError `"{name}={value!r} must be {what is allowed}"`. A bool is never
taken for an integer or a number (Python's `True == 1` would let it through),
and numpy scalars count like Python ones. Imports nothing of the project.
"""
import numbers

import numpy as np


def is_bool(value) -> bool:
  return isinstance(value, (bool, np.bool_))


def is_int(value) -> bool:
  """An integer (Python or numpy) that is not a bool."""
  return isinstance(value, (int, np.integer)) and not is_bool(value)


def is_real(value) -> bool:
  """A real number (Python or numpy, integers included) that is not a bool."""
  return isinstance(value, numbers.Real) and not is_bool(value)


def must(name, value, allowed):
  """The one wording of a bad value: `name=value must be <allowed>`."""
  return ValueError(f"{name}={value!r} must be {allowed}")


def require_bool(name, value) -> bool:
  if not is_bool(value):
    raise must(name, value, 'True or False')
  return bool(value)


def int_wording(minimum, maximum=None) -> str:
  if maximum is not None:
    return f'an integer in [{minimum}, {maximum}]'
  if minimum == 1:
    return 'a positive integer'
  if minimum == 0:
    return 'an integer >= 0'
  return f'an integer >= {minimum}'


def require_int(name, value, minimum=1, why='', maximum=None) -> int:
  """`value` as an int in [minimum, maximum] (no upper bound by default); `why` is appended
  to the message."""
  if not is_int(value) or value < minimum or (maximum is not None and value > maximum):
    raise must(name, value, int_wording(minimum, maximum) + why)
  return int(value)


def require_positive_int(name, value) -> int:
  return require_int(name, value, 1)


def require_int_sequence(name, value, why='') -> tuple:
  """A non-empty tuple/list of positive integers, as a tuple of ints."""
  if not (isinstance(value, (tuple, list)) and len(value) > 0
          and all(is_int(n) and n > 0 for n in value)):
    raise must(name, value, 'a non-empty tuple of positive ints' + why)
  return tuple(int(n) for n in value)


def require_real(name, value, low=0, high=np.inf, low_open=False, allow_inf=False, why=''):
  """`value` as a float in [low, high] ((low, high] when `low_open`), finite unless `allow_inf`."""
  ok = is_real(value) and not np.isnan(value) and (allow_inf or np.isfinite(value)) and (
      low < value if low_open else low <= value) and value <= high
  if not ok:
    op = '>' if low_open else '>='
    span = f"in {'(' if low_open else '['}{low}, {high}]" if np.isfinite(high) else f"{op} {low}"
    raise must(name, value, f"a {'' if allow_inf else 'finite '}number {span}{why}")
  return float(value)
