"""Entry point of a part worker: ``python -m core.export.worker`` (see `core.export.workers`).

Takes the caller's pid as its argument and ends when the caller does. Reads a pickled
`DayDocument` (its messages are the part's slice, never the first part) and the
`SafeImages` that opens its images (with a decode gate of this process) from stdin;
writes the part's page count on one line once it is laid out, then the pickled
`RenderedPart`, to stdout.
"""

from __future__ import annotations

import os
import pickle
import sys

from core.export.engine import weasyprint
from core.export.parts import draw_part, lay_out_part
from core.parent_watch import exit_with_parent


def main() -> None:
    """Render the part read from stdin."""
    exit_with_parent(int(sys.argv[1]) if len(sys.argv) > 1 else None)
    # Keep stdout for the answer: whatever a library prints goes to stderr instead.
    answer = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    weasyprint()  # loaded before the input is read, while the caller's sender thread writes it
    doc, images = pickle.load(sys.stdin.buffer)
    document = lay_out_part(doc, doc.messages, first=False, images=images)
    answer.write(f"{len(document.pages)}\n".encode())
    answer.flush()
    pickle.dump(draw_part(document), answer, protocol=pickle.HIGHEST_PROTOCOL)
    answer.close()
    sys.stderr.flush()
    # Tearing down the laid-out document object by object takes a third of a second the caller would wait for.
    os._exit(0)


if __name__ == "__main__":
    main()
