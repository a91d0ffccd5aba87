"""WeasyPrint, imported when a PDF is first rendered instead of when the program starts.

WeasyPrint loads the Pango libraries (a system package, not a Python one) while it is
imported, and without them the import raises OSError. Importing it here, on first use,
lets the bot, the terminal chat and ``doctor`` start without them: only rendering a PDF
fails, with one sentence that says what to install (`PdfUnavailable`).
"""

from __future__ import annotations

import contextlib
import io
import sys
from types import ModuleType

APT_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0"
INSTALL_DOCS = "https://doc.courtbouillon.org/weasyprint/stable/first_steps.html#installation"


class PdfUnavailable(RuntimeError):
    """WeasyPrint cannot be loaded: ``str(exc)`` is one sentence for the user, `detail` the import error for the log."""

    def __init__(self, message: str, detail: str = "") -> None:
        # Both in args: the exception is pickled back from the render process.
        super().__init__(message, detail)

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def detail(self) -> str:
        """What the import said (the library that could not be opened), for the log."""
        return str(self.args[1]) if len(self.args) > 1 else ""


def install_hint() -> str:
    """What to install for WeasyPrint's system libraries on this kind of machine, as one sentence."""
    if sys.platform == "darwin":
        return "PDF export needs the Pango libraries: brew install pango"
    if sys.platform == "win32":
        return f"PDF export needs the Pango libraries: see {INSTALL_DOCS}"
    return f"PDF export needs the Pango libraries: sudo apt install {APT_PACKAGES}"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def weasyprint() -> ModuleType:
    """The `weasyprint` module, imported now on first use; raises `PdfUnavailable` when it cannot load."""
    loaded = sys.modules.get("weasyprint")
    if loaded is not None:
        return loaded
    # On a missing library WeasyPrint prints a banner to stdout before raising: it would land in
    # the terminal chat or in doctor's report. The sentence of PdfUnavailable replaces it.
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            import weasyprint
        except OSError as exc:  # cffi could not open gobject, pango, harfbuzz or fontconfig
            raise PdfUnavailable(install_hint(), _one_line(exc)) from exc
        except ImportError as exc:
            raise PdfUnavailable(
                "PDF export needs the Python package WeasyPrint: pip install weasyprint", _one_line(exc)
            ) from exc
    return weasyprint


def pdf_problem() -> PdfUnavailable | None:
    """Why PDFs cannot be rendered here, or None when WeasyPrint loads (``doctor`` asks this)."""
    try:
        weasyprint()
    except PdfUnavailable as exc:
        return exc
    return None
