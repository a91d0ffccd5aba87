"""The links an agent found, shown to the user even when the model's answer leaves them out.

Wikipedia and web search return their sources with the findings; the main
model is asked to show them, but may not.  The user must still see where the
facts came from, so the sources the answer does not already contain are listed
after it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_URL = re.compile(r"https?://[^\s<>()\[\]]+")


def unshown_sources(answer: str, links: Sequence[str]) -> str:
    """A "Sources:" paragraph for the ``links`` whose URL ``answer`` does not contain ("" when none is missing).

    ``links`` are as the agents give them: a URL, or "Title — URL".
    """
    missing: list[str] = []
    for link in dict.fromkeys(links):
        found = _URL.search(link)
        url = found.group(0).rstrip(".,;:") if found else link.strip()
        if url and url not in answer:
            missing.append(link.strip())
    if not missing:
        return ""
    return "\n\nSources:\n" + "\n".join(f"- {link}" for link in missing)
