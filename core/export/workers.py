"""Part workers: fresh interpreters that lay out the later parts of a long day.

Each one is ``python -m core.export.worker``, started for one render and gone at its
end, so its memory goes back to the system with it (and it imports only the export
code, not the bot that called it). Its stdin gets one pickled `DayDocument` whose
messages are the part's slice; its stdout gives the part's page count on one line as
soon as the part is laid out (the footers can then be laid out while it draws), then
the pickled `RenderedPart`. Both ends are this program, so pickle is safe here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from core.export.document import DayDocument, DayMessage
from core.export.parts import RenderedPart
from core.media.safe_image import SafeImages

log = logging.getLogger(__name__)

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _worker_env() -> dict[str, str]:
    paths = [str(_PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


class PartWorker:
    """One later part of the day, laid out and drawn in its own process. Call `pages`, then `result`, then `close`."""

    def __init__(self, doc: DayDocument, messages: Sequence[DayMessage], images: SafeImages) -> None:
        self.messages = list(messages)
        self._errors = tempfile.TemporaryFile()
        self._process: subprocess.Popen[bytes] | None = None
        self._sender: threading.Thread | None = None
        try:
            payload = pickle.dumps((replace(doc, messages=self.messages), images), protocol=pickle.HIGHEST_PROTOCOL)
            self._process = subprocess.Popen(
                [sys.executable, "-m", "core.export.worker", str(os.getpid())],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors, env=_worker_env(),
            )  # fmt: skip
        except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
            # No interpreter to start, or a time zone that does not pickle: the caller lays the part out itself.
            log.warning("PDF part worker could not start: %s", exc)
            return
        # The worker reads its input only once it has imported WeasyPrint: writing it
        # from here would hold the caller's own part back until then.
        self._sender = threading.Thread(target=self._send, args=(payload,), name="pdf-part-input", daemon=True)
        self._sender.start()

    def _send(self, payload: bytes) -> None:
        assert self._process is not None and self._process.stdin is not None
        stdin = self._process.stdin
        try:
            stdin.write(payload)
            stdin.close()
        except OSError:  # the worker is gone: pages() and result() say so
            pass

    def pages(self) -> int | None:
        """Wait until the part is laid out and return its page count; None if the worker failed."""
        if self._process is None:
            return None
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.strip().isdigit():
            log.warning("PDF part worker ended before laying out its part")
            return None
        return int(line)

    def result(self) -> RenderedPart | None:
        """Wait for the drawn part; None if the worker failed (what it wrote to stderr is logged by `close`)."""
        if self._process is None:
            return None
        assert self._process.stdout is not None
        data = self._process.stdout.read()
        if self._process.wait() != 0 or not data:
            log.warning("PDF part worker failed (exit status %s)", self._process.returncode)
            return None
        part = pickle.loads(data)
        return part if isinstance(part, RenderedPart) else None

    def close(self) -> None:
        """Stop the worker if it still runs (the caller failed) and log what it wrote to stderr."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            if self._sender is not None:
                self._sender.join()  # its write ends once the worker is gone
            for stream in (self._process.stdout, self._process.stdin):
                if stream is not None:
                    with contextlib.suppress(OSError):  # input left unsent to a worker that died
                        stream.close()
        self._errors.seek(0)
        for line in self._errors.read().decode(errors="replace").splitlines()[-40:]:
            log.warning("PDF part worker: %s", line)
        self._errors.close()
