"""utils/malloc_tunables.py: which GLIBC_TUNABLES are added, when the process re-executes, and
that it does so once, as the same process."""
import os
import subprocess
import sys

import pytest

from utils import malloc_tunables as mt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = ':'.join(f'{k}={v}' for k, v in mt.TUNABLES)


def test_merged_adds_ours_and_keeps_the_users():
  """All four on an empty value; a name the user set keeps the user's value; other tunables
  stay; merging twice changes nothing."""
  assert mt.merged('') == mt.merged(None) == OURS
  user = 'glibc.malloc.hugetlb=0:glibc.malloc.arena_max=2'
  out = mt.merged(user)
  assert out.startswith(user + ':')
  assert 'glibc.malloc.hugetlb=1' not in out and 'glibc.malloc.mmap_threshold=33554432' in out
  assert mt.merged(out) == out


@pytest.mark.parametrize('environ,libc,thp', [
    ({mt.OPT_OUT: '1'}, (2, 36), 'madvise'),           # opted out
    ({}, None, 'madvise'),                             # not glibc
    ({}, (2, 31), 'madvise'),                          # glibc without the hugetlb tunable
    ({}, (2, 36), 'never'),                            # huge pages off in the kernel
    ({'GLIBC_TUNABLES': OURS}, (2, 36), 'madvise'),    # already running with them
])
def test_no_reexec_when_it_cannot_or_need_not_help(environ, libc, thp):
  assert mt.environment(environ, libc=libc, thp=thp) is None


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc tunables are Linux-only')
@pytest.mark.parametrize('thp', ['madvise', 'always'])
def test_reexec_environment_adds_the_tunables(thp):
  env = mt.environment({'PATH': '/bin', mt.OPT_OUT: '0'}, libc=(2, 36), thp=thp)
  assert env == {'PATH': '/bin', mt.OPT_OUT: '0', 'GLIBC_TUNABLES': OURS}


def test_thp_mode_reads_the_bracketed_mode(tmp_path):
  f = tmp_path / 'enabled'
  f.write_text('always [madvise] never\n')
  assert mt.thp_mode(str(f)) == 'madvise'
  assert mt.thp_mode(str(tmp_path / 'missing')) is None


_SCRIPT = r'''
import os, sys
sys.path.insert(0, {root!r})
print('start', os.getpid(), os.environ.get('GLIBC_TUNABLES', ''), sys.argv[1:], flush=True)
from utils import malloc_tunables
malloc_tunables.reexec_with_tunables()
print('run', os.getpid(), os.environ.get('GLIBC_TUNABLES', ''), flush=True)
'''


def test_reexec_runs_the_same_command_once_in_the_same_process(tmp_path):
  """Where the tunables apply, the script starts twice (the second time with GLIBC_TUNABLES,
  its arguments and PID unchanged) and runs its body once; opted out, once, without them."""
  script = tmp_path / 's.py'
  script.write_text(_SCRIPT.format(root=ROOT))
  env = {k: v for k, v in os.environ.items() if k not in ('GLIBC_TUNABLES', mt.OPT_OUT)}
  out = subprocess.run([sys.executable, '-u', str(script), 'a', '--b=c'], env=env, text=True,
                       capture_output=True, timeout=60, check=True).stdout.split('\n')
  lines = [l.split(' ', 2) for l in out if l]
  if mt.environment(env) is None:
    pytest.skip('this machine gains nothing from the tunables (no glibc >= 2.35 or THP never)')
  assert [l[0] for l in lines] == ['start', 'start', 'run']
  assert len({l[1] for l in lines}) == 1
  assert lines[0][2].startswith(" ['a'") and lines[1][2] == OURS + " ['a', '--b=c']"
  assert lines[2][2] == OURS
  out = subprocess.run([sys.executable, str(script)], env=dict(env, **{mt.OPT_OUT: '1'}),
                       text=True, capture_output=True, timeout=60, check=True).stdout
  assert [l.split(' ')[0] for l in out.split('\n') if l] == ['start', 'run']
