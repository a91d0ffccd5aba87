"""A machine without the Pango libraries, as WeasyPrint meets it: its import prints a banner and raises OSError.

`without_pango` does it in this process (a finder ahead of the real one); `shadow_weasyprint`
writes a stand-in package for a child process's PYTHONPATH (or a spawned worker's sys.path).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

MISSING = (
    "cannot load library 'gobject-2.0-0': gobject-2.0-0: cannot open shared object file: No such file or directory. "
    "Additionally, ctypes.util.find_library() did not manage to locate a library called 'gobject-2.0-0'"
)
# What WeasyPrint prints to stdout before raising (text/ffi.py); it must never reach the user.
BANNER = "WeasyPrint could not import some external libraries."

_STAND_IN = f"""print("\\n-----\\n\\n{BANNER} Please carefully follow the installation steps\\n\\n-----\\n")
raise OSError({MISSING!r})
"""


def shadow_weasyprint(folder: Path) -> Path:
    """A folder holding a `weasyprint` package that fails like the real one without Pango; put it first on the path."""
    package = folder / "weasyprint"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(_STAND_IN, encoding="utf-8")
    return folder


class _NoPango(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> None:
        if fullname == "weasyprint" or fullname.startswith("weasyprint."):
            print(f"\n-----\n\n{BANNER}\n\n-----\n")
            raise OSError(MISSING)


@contextlib.contextmanager
def without_pango() -> Iterator[None]:
    """While inside, ``import weasyprint`` fails in this process as it does without Pango; the module is put back."""
    saved = {name: module for name, module in sys.modules.items() if name == "weasyprint"}
    sys.modules.pop("weasyprint", None)
    finder = _NoPango()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        sys.modules.update(saved)
