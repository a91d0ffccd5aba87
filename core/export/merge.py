"""The parts of a long day joined into one PDF: footers over the whole, one outline.

The parts were laid out without page footers; the footers ("<title>" on the left,
"Page X of Y" on the right) were laid out alone, one empty page per page, with the
same stylesheet (`core.export.parts.footer_pdf`); each one is drawn over its page.
The outline is rebuilt from the parts' headings as WeasyPrint builds it (an entry's
parent is the closest earlier entry of a lower level), so headings of later parts
nest as in a single render.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    Fit,
    FloatObject,
    IndirectObject,
    NameObject,
    StreamObject,
    TextStringObject,
)

from core.export.document import DayDocument
from core.export.parts import RenderedPart


def _stamp(writer: PdfWriter, page: PageObject, footer: PageObject) -> None:
    """Draw `footer` over `page`, as a form XObject of its own.

    Neither content stream is parsed and no resource is renamed (pypdf's merge_page does
    both: WeasyPrint names the footer's font as the parts' and shares one font dictionary
    between a part's pages, so each page would add one more name to it).
    """
    contents = footer.raw_get("/Contents").get_object()
    if not isinstance(contents, StreamObject):  # not how WeasyPrint writes a page: the general way
        page.merge_page(footer)
        return
    form = contents.clone(writer)
    form[NameObject("/Type")] = NameObject("/XObject")
    form[NameObject("/Subtype")] = NameObject("/Form")
    form[NameObject("/BBox")] = ArrayObject(FloatObject(v) for v in footer.mediabox)
    form[NameObject("/Resources")] = footer.raw_get("/Resources").clone(writer)
    resources = DictionaryObject(page["/Resources"].get_object())
    xobjects = DictionaryObject(resources.get("/XObject", DictionaryObject()).get_object())
    name = NameObject("/PageFooter")
    while name in xobjects:
        name = NameObject(name + "_")
    xobjects[name] = form.indirect_reference
    resources[NameObject("/XObject")] = xobjects
    page[NameObject("/Resources")] = resources
    content = page.get_contents()
    assert content is not None
    # The page's own drawing leaves its transformation in place: isolate it first.
    content.set_data(b"q\n" + content.get_data() + b"\nQ\n" + name.encode() + b" Do\n")
    page.replace_contents(content)


def _add_outline(writer: PdfWriter, parts: Sequence[RenderedPart]) -> None:
    ancestors: list[tuple[int, IndirectObject]] = []  # (level, entry) from the outermost
    offset = 0
    for part in parts:
        for mark in part.bookmarks:
            while ancestors and ancestors[-1][0] >= mark.level:
                ancestors.pop()
            entry = writer.add_outline_item(
                title=mark.label,
                page_number=offset + mark.page,
                parent=ancestors[-1][1] if ancestors else None,
                fit=Fit.xyz(left=mark.left, top=mark.top, zoom=0),
                is_open=mark.is_open,
            )
            ancestors.append((mark.level, entry))
        offset += part.pages


def merge_parts(doc: DayDocument, parts: Sequence[RenderedPart], footers: bytes) -> bytes:
    """One PDF of the parts in order, each page with its page of `footers` drawn over it; outline, title, language."""
    writer = PdfWriter()
    readers = [PdfReader(io.BytesIO(part.pdf)) for part in parts]
    for reader in readers:
        writer.append(reader, import_outline=False)
    for page, footer in zip(writer.pages, PdfReader(io.BytesIO(footers)).pages, strict=True):
        _stamp(writer, page, footer)
        page.compress_content_streams()
    _add_outline(writer, parts)
    producer = (readers[0].metadata or {}).get("/Producer", "WeasyPrint")
    writer.add_metadata({"/Title": doc.title, "/Producer": f"{producer} + pypdf"})
    writer.root_object[NameObject("/Lang")] = TextStringObject("en")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
