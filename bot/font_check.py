"""Whether the fonts the daily PDF needs for emoji and Chinese/Japanese text are installed.

WeasyPrint finds fonts through fontconfig; without a font that has the glyphs, the
PDF shows empty boxes. ``fc-list`` (fontconfig's own tool) answers which fonts
cover a set of code points.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Script:
    """A kind of text, code points that stand for it, and the Debian package with a font for it."""

    name: str
    code_points: tuple[int, ...]
    package: str


SCRIPTS = (
    Script("emoji", (0x1F44D, 0x1F680, 0x1F389), "fonts-noto-color-emoji"),
    Script("Chinese and Japanese", (0x4E2D, 0x6587, 0x3042), "fonts-noto-cjk"),
)


def uncovered_scripts(scripts: tuple[Script, ...] = SCRIPTS) -> list[Script] | None:
    """The scripts no installed font covers; None when fontconfig's ``fc-list`` is not there to ask."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    missing = []
    for script in scripts:
        charset = " ".join(f"{point:x}" for point in script.code_points)
        found = subprocess.run(
            [fc_list, f":charset={charset}", "family"], capture_output=True, text=True, timeout=20, check=False
        )
        if not found.stdout.strip():
            missing.append(script)
    return missing


def font_advice(missing: list[Script]) -> str:
    """One sentence: what shows as boxes and what to install."""
    names = " and ".join(script.name for script in missing)
    packages = " ".join(script.package for script in missing)
    return f"PDF fonts: {names} would show as empty boxes; install fonts for them (Debian: apt install {packages})"
