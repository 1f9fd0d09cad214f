"""Atomic file writes: a reader sees the old file or the whole new one, never a part.

Every output the project writes (JSON records, .npz arrays, PNG pictures,
parameter files) goes through `write_with`: the content is written to a
temporary file in the target's directory, flushed, and renamed over the target
(`os.replace`, atomic on POSIX within one file system). When writing fails,
or the process is interrupted (KeyboardInterrupt, SystemExit), the temporary
file is removed and the target is left as it was.

The temporary name is unique per writer (process id and a random token), so
several hosts writing the same file to a shared directory do not clobber each
other's partial files; it is created with mode 0o666 minus the umask, as
`open` would create the target itself.
"""
from __future__ import annotations

import json
import os
import secrets

import numpy as np


def _temporary(path):
  """(file descriptor, name) of a new temporary file beside `path`."""
  directory, base = os.path.split(os.path.abspath(path))
  while True:
    tmp = os.path.join(directory, f'.{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp')
    try:
      return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
    except FileExistsError:   # another writer drew the same token: draw again
      continue


def write_with(path, write, *, binary=True, make_dirs=True):
  """Calls `write(f)` on a temporary file object, then renames it over `path`.

  Args:
    path: the file to write (str or os.PathLike).
    write: a function of one open file object; what it writes becomes `path`.
    binary: open the temporary file in binary ('wb') or text ('w', UTF-8) mode.
    make_dirs: create the directory of `path` first when it is missing.
  Returns:
    `path` as a str.
  """
  path = os.fspath(path)
  if make_dirs:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fd, tmp = _temporary(path)
  try:
    with (os.fdopen(fd, 'wb') if binary else os.fdopen(fd, 'w', encoding='utf-8')) as f:
      write(f)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
  return path


def write_bytes(path, data: bytes):
  """Writes `data` to `path` atomically."""
  return write_with(path, lambda f: f.write(data))


def write_text(path, text: str):
  """Writes `text` (UTF-8) to `path` atomically."""
  return write_with(path, lambda f: f.write(text), binary=False)


def write_json(path, obj, indent=1):
  """Writes `obj` as JSON to `path` atomically (nothing is written if it does not serialise)."""
  return write_with(path, lambda f: json.dump(obj, f, indent=indent), binary=False)


def save_npz(path, **arrays):
  """`np.savez(path, **arrays)` atomically, to exactly `path` (no '.npz' is appended)."""
  return write_with(path, lambda f: np.savez(f, **arrays))
