"""glibc malloc settings that put the host's large buffers on transparent huge pages.

On the 2-core machine we test on (Linux 6.18 VM, THP in 'madvise' mode, glibc 2.36), a
training step of the reduced DDPM++ (benchmarks/train_step.py, batch 16) takes
0.30-0.35 s with glibc's defaults and 0.25-0.27 s with these settings (interleaved
processes, benchmarks/README.md): XLA allocates each step's temporaries with malloc,
glibc serves the large ones from fresh mmaps of 4 KiB pages, and the TLB misses and page
faults cost ~20% of the step. The settings:

* `glibc.malloc.hugetlb=1`: malloc marks its memory MADV_HUGEPAGE, so the kernel backs it
  with 2 MiB pages (glibc >= 2.35, THP 'madvise' or 'always');
* `glibc.malloc.mmap_threshold` 32 MiB (glibc's maximum), `trim_threshold` 1 GiB,
  `top_pad` 64 MiB: buffers up to 32 MiB come from the heap and freed memory stays there
  for the next step instead of being unmapped and faulted in again.

glibc reads GLIBC_TUNABLES only when a process starts, so `reexec_with_tunables()`
replaces the running process (same PID, arguments, standard streams) with a fresh
interpreter that has them; entry points (main.py, the benchmarks) call it first thing.
Tunables the user set keep the user's values. Set SCORE_SDE_GLIBC_DEFAULTS=1 to run with
glibc's defaults (no re-exec); nothing happens either on non-glibc systems, glibc < 2.35
or THP 'never'.
"""
import os
import platform
import sys

TUNABLES = (
    ('glibc.malloc.hugetlb', '1'),
    ('glibc.malloc.mmap_threshold', str(32 << 20)),
    ('glibc.malloc.trim_threshold', str(1 << 30)),
    ('glibc.malloc.top_pad', str(64 << 20)),
)
OPT_OUT = 'SCORE_SDE_GLIBC_DEFAULTS'
_THP_MODE_FILE = '/sys/kernel/mm/transparent_hugepage/enabled'


def merged(current):
  """GLIBC_TUNABLES `current` ('' or None for unset) with ours added for the names it lacks."""
  parts = [p for p in (current or '').split(':') if p]
  present = {p.split('=', 1)[0] for p in parts}
  return ':'.join(parts + [f'{k}={v}' for k, v in TUNABLES if k not in present])


def thp_mode(path=_THP_MODE_FILE):
  """The bracketed transparent-huge-page mode ('always', 'madvise', 'never'), None if unknown."""
  try:
    with open(path) as f:
      text = f.read()
  except OSError:
    return None
  start, end = text.find('['), text.find(']')
  return text[start + 1:end] if 0 <= start < end else None


def glibc_version():
  """(major, minor) of the C library when it is glibc, else None."""
  name, version = platform.libc_ver()
  if name != 'glibc' or not version:
    return None
  try:
    return tuple(int(v) for v in version.split('.')[:2])
  except ValueError:
    return None


_MACHINE = 'this machine'


def environment(environ=None, libc=_MACHINE, thp=_MACHINE):
  """The environment to re-execute with, or None when there is nothing to change.

  `libc` ((major, minor) of glibc, None for another C library) and `thp` (mode string)
  default to this machine's; `environ` to os.environ.
  """
  environ = dict(os.environ if environ is None else environ)
  if environ.get(OPT_OUT, '') not in ('', '0'):
    return None
  libc = glibc_version() if libc is _MACHINE else libc
  thp = thp_mode() if thp is _MACHINE else thp
  if not sys.platform.startswith('linux') or libc is None or libc < (2, 35) or thp == 'never':
    return None
  current = environ.get('GLIBC_TUNABLES', '')
  wanted = merged(current)
  if wanted == current:
    return None
  environ['GLIBC_TUNABLES'] = wanted
  return environ


def reexec_with_tunables():
  """Replace this process with the same command run with `environment()`; a no-op when that
  is None. Call it before anything else (nothing done before survives)."""
  env = environment()
  if env is None:
    return
  sys.stdout.flush()
  sys.stderr.flush()
  os.execve(sys.executable, list(getattr(sys, 'orig_argv', [sys.executable] + sys.argv)), env)
