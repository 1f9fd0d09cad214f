"""Graceful stops: SIGTERM / SIGINT end a loop at a step boundary, not in the middle of one.

Cloud schedulers preempt a job with SIGTERM and a grace period; a person stops
it with Ctrl-C (SIGINT). Inside `with PreemptionWatch() as watch:` the first
such signal only sets a flag; the loop asks `watch.reached(step)` between
steps, writes its checkpoint and raises `Preempted`, which `main.py` turns
into one line and the exit status `EXIT_CODE`. A second signal stops the
process at once, as it would without the watch.

On several hosts (after `jax.distributed.initialize`), JAX's preemption
service catches SIGTERM and agrees on the step at which every host stops
(`multihost_utils.reached_preemption_sync_point`); the watch then asks it
rather than a local flag and installs no handler (SIGINT keeps its default:
a signal one host alone receives cannot stop all of them at the same step).

Used by the training loop, eval, and any other loop (e.g. the classifier's):

    with preemption.PreemptionWatch() as watch:
      for i, ... in enumerate(...):
        ...one step...
        if watch.reached(i):
          save(); raise preemption.Preempted('...')
"""
import signal
import sys
import threading

import jax
from jax.experimental import multihost_utils

# sysexits.h EX_TEMPFAIL ("temporary failure; the user is invited to retry"): a
# preempted run is not a failed one, and schedulers can requeue on this status.
EXIT_CODE = 75


class Preempted(Exception):
  """Raised by a loop that stopped cleanly on a signal; its message says what was kept."""


class PreemptionWatch:
  """Catches SIGTERM and SIGINT while active (main thread only; elsewhere it watches nothing)."""

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.signal_name = None
    self._previous = {}
    self._calls = 0

  def __enter__(self):
    if threading.current_thread() is not threading.main_thread():
      return self
    if jax.process_count() > 1:
      return self   # JAX's preemption service handles SIGTERM and syncs the hosts
    for sig in self.SIGNALS:
      self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc_info):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    if self.signal_name is not None:   # the second signal: stop now
      self.__exit__()
      signal.raise_signal(signum)
      return
    self.signal_name = signal.Signals(signum).name
    print(f'{self.signal_name} received: finishing the step in flight, then stopping '
          '(send it again to stop at once)', file=sys.stderr, flush=True)

  @property
  def requested(self):
    """Whether this host received a signal (no agreement between hosts)."""
    return self.signal_name is not None

  def reached(self, step=None):
    """True when the loop should stop now. Call it once per loop iteration on every host
    (the multi-host agreement counts calls, so `step` is informational)."""
    del step
    self._calls += 1
    if jax.process_count() > 1:
      if multihost_utils.reached_preemption_sync_point(self._calls):
        self.signal_name = self.signal_name or 'SIGTERM'
        return True
      return False
    return self.signal_name is not None
