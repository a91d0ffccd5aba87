"""Worker processes end with their parent: `exit_with_parent` is called first thing in a worker.

A worker blocked on its input queue never sees the queue close when the bot is
killed (a spawned ProcessPoolExecutor worker holds both ends of its own call
queue, and multiprocessing's resource tracker lives until every holder of its
pipe is gone), so without this an orphaned worker and the tracker run on for good.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.25


def _ask_kernel(parent: int) -> None:
    """On Linux the kernel sends SIGKILL when the parent ends (the polling thread remains the rule elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no libc symbol to call: the thread below still watches
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _watch(parent: int, interval: float) -> None:
    stopped = threading.Event()
    while not stopped.wait(interval):
        if os.getppid() != parent:
            # The parent is gone (this process was handed to init or a subreaper): nobody
            # will read what it computes, and its own exit handlers may wait on the parent.
            os._exit(1)


def exit_with_parent(parent: int | None = None, *, kernel: bool = False, interval: float = POLL_SECONDS) -> None:
    """End this process (at once, with status 1) when `parent` (default: the current parent) ends.

    Pass `parent` explicitly when the caller knows it (the pid that started the worker):
    a worker whose parent died while it was starting then exits too. `kernel=True` also
    asks Linux for SIGKILL at the parent's end, which stops even a long C call that keeps
    the polling thread from running; only for a single-threaded parent, because the
    kernel fires when the parent *thread* that forked this process ends.
    """
    expected = os.getppid() if parent is None else parent
    if expected <= 1:  # started by init itself: there is no parent to outlive
        return
    if os.getppid() != expected:
        os._exit(1)
    if kernel:
        _ask_kernel(expected)
    threading.Thread(target=_watch, args=(expected, interval), name="parent-watch", daemon=True).start()
