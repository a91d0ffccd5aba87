"""The day's PDF: what a reader finds in it (text via pypdf), and what it refuses to load."""

from __future__ import annotations

import io
import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import IndirectObject
from weasyprint import HTML

from core.export import DayDocument, DayMessage, StoredImage, render_day_pdf
from core.export.fetcher import DayImageFetcher
from core.media.safe_image import SafeImages

PARIS = ZoneInfo("Europe/Paris")
DAY = date(2026, 3, 14)


def _image_bytes(color: tuple[int, int, int], fmt: str = "PNG", size: tuple[int, int] = (120, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


def _doc(messages: list[DayMessage], summary: str = "Talked about the boat.") -> DayDocument:
    return DayDocument(day=DAY, assistant_name="Captain", timezone=PARIS, summary_markdown=summary, messages=messages)


def _at(hour: int, minute: int) -> datetime:
    """A UTC time on DAY (Paris is UTC+1 in March)."""
    return datetime(2026, 3, 14, hour, minute, tzinfo=UTC)


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _image_xobjects(pdf: bytes) -> int:
    """Distinct image XObjects drawn on the pages, looking inside form XObjects too."""
    seen: set[tuple[int, int]] = set()

    def walk(resources: object) -> None:
        xobjects = resources.get("/XObject") if resources else None
        if not xobjects:
            return
        for ref in xobjects.get_object().values():
            obj = ref.get_object()
            key = (ref.idnum, ref.generation) if isinstance(ref, IndirectObject) else (id(obj), 0)
            if key in seen:
                continue
            seen.add(key)
            if obj.get("/Subtype") == "/Image":
                count[0] += 1
            elif obj.get("/Subtype") == "/Form":
                walk(obj.get("/Resources"))

    count = [0]
    for page in PdfReader(io.BytesIO(pdf)).pages:
        walk(page.get("/Resources"))
    return count[0]


def _link_uris(pdf: bytes) -> list[str]:
    uris = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for annot in page.get("/Annots") or []:
            action = annot.get_object().get("/A")
            if action is not None and "/URI" in action:
                uris.append(str(action["/URI"]))
    return uris


async def test_date_and_summary_first_then_every_message_in_order_with_local_time_and_speaker() -> None:
    messages = [
        DayMessage(at=_at(7, 5 + i), speaker="Alice" if i % 2 == 0 else "Captain",
                   role="user" if i % 2 == 0 else "assistant", text=f"Message number {i:03d} about *knots*.")
        for i in range(40)
    ]  # fmt: skip
    # Handed over out of order: the PDF still follows the clock.
    shuffled = messages[20:] + messages[:20]
    pdf = await render_day_pdf(_doc(shuffled, summary="## Decisions\n- Buy **rope**\n- Call the harbour"))

    text = _text(pdf)
    assert pdf.startswith(b"%PDF")
    assert text.startswith("Saturday 14 March 2026")
    assert text.index("Buy rope") < text.index("Call the harbour") < text.index("Message number 000")
    position = 0
    for i, message in enumerate(messages):
        local = message.at.astimezone(PARIS)
        header = f"{local:%H:%M} {message.speaker}\nMessage number {i:03d} about knots."
        found = text.find(header, position)
        assert found > position, f"message {i} missing or out of order"
        position = found
    assert "08:05 Alice" in text  # 07:05 UTC shown in Paris time
    assert "Page 1 of" in text


async def test_images_sent_and_made_are_embedded_and_unsupported_files_are_named() -> None:
    red = StoredImage("att/1/photo.png", "image/png", _image_bytes((200, 20, 20)))
    green = StoredImage("att/2/shot.jpg", "image/jpeg", _image_bytes((20, 200, 20), "JPEG"))
    made = StoredImage("gen/3/boat.png", "image/png", _image_bytes((20, 20, 200), size=(1600, 900)))
    svg = StoredImage("att/4/logo.svg", "image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    messages = [
        DayMessage(_at(9, 0), "Alice", "user", "Here are two photos", [red, green]),
        DayMessage(_at(9, 1), "Captain", "assistant", "I drew the boat for you.", [made]),
        DayMessage(_at(9, 2), "Alice", "user", "Same photo again, and a logo", [red, svg]),
    ]
    pdf = await render_day_pdf(_doc(messages))

    assert _image_xobjects(pdf) == 3
    text = _text(pdf)
    assert "[image/svg+xml file not shown: att/4/logo.svg]" in text
    assert "I drew the boat for you." in text


@pytest.fixture
def loopback_image_server() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 that serves a valid PNG and records every request."""
    requests: list[str] = []
    png = _image_bytes((0, 0, 0))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


async def test_hostile_markdown_loads_nothing_and_runs_nothing(
    loopback_image_server: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, requests = loopback_image_server
    local_png = tmp_path / "local.png"
    local_png.write_bytes(_image_bytes((255, 255, 0)))
    monkeypatch.chdir(tmp_path)  # so a relative path would find local.png if it were resolved
    hostile = "\n\n".join([
        "![passwd](file:///etc/passwd)",
        f"![real file](file://{local_png})",
        "![random](file:///dev/urandom)",
        f"![web]({base}/x.png)",
        "![relative](local.png)",
        f'<img src="{base}/raw.png" onerror="alert(1)">',
        f'<link rel="stylesheet" href="{base}/style.css"><style>@import url("{base}/i.css");</style>',
        "<script>alert('pwned')</script>",
        "[click me](javascript:alert(1)) and [a real link](https://example.org/docs)",
        f"![data](data:image/png;base64,{__import__('base64').b64encode(_image_bytes((1, 2, 3))).decode()})",
    ])  # fmt: skip
    messages = [
        DayMessage(_at(10, 0), "Mallory", "user", hostile),
        DayMessage(_at(10, 1), "Captain", "assistant", "I will not open those."),
    ]
    pdf = await render_day_pdf(_doc(messages, summary=f"![sum]({base}/summary.png) <script>x()</script>"))

    assert requests == []
    assert _image_xobjects(pdf) == 0
    text = _text(pdf)
    # What Mallory typed is shown as text, as the chat showed it, never run.
    assert "<script>alert('pwned')</script>" in text
    assert "I will not open those." in text
    assert _link_uris(pdf) == ["https://example.org/docs"]


def test_the_fetcher_serves_only_the_days_images_even_when_html_asks_for_more(
    loopback_image_server: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sanitiser already drops these URLs; the fetcher is the second wall, so feed it raw HTML.
    base, requests = loopback_image_server
    local_png = tmp_path / "local.png"
    local_png.write_bytes(_image_bytes((255, 255, 0)))
    monkeypatch.chdir(tmp_path)
    own = StoredImage("att/9/own.png", "image/png", _image_bytes((9, 9, 9)))
    html = (
        f'<img src="file://{local_png}"><img src="file:///dev/urandom"><img src="local.png">'
        f'<img src="{base}/a.png"><div style="background: url({base}/bg.png)">x</div>'
        f'<link rel="stylesheet" href="{base}/s.css"><img src="cl-image:att%2F9%2Fown.png">'
        '<img src="cl-image:not-a-key">'
    )
    fetcher = DayImageFetcher([own], SafeImages())
    pdf = HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf()

    assert requests == []
    assert _image_xobjects(pdf) == 1
    assert "cl-image:not-a-key" in fetcher.refused


async def test_long_code_lines_wrap_instead_of_running_off_the_page() -> None:
    long_line = "".join(f"segment{i:03d}-" for i in range(60))  # 660 characters, no spaces
    long_word = "https://example.org/" + "a" * 400
    text = f"Here is the log line:\n\n```\n{long_line}\nshort line\n```\n\nAnd a long word {long_word} in prose."
    pdf = await render_day_pdf(_doc([DayMessage(_at(11, 0), "Alice", "user", text)]))

    extracted = _text(pdf)
    compact = "".join(extracted.split())
    assert long_line in compact
    assert long_word in compact
    # Wrapped: no extracted line is anywhere near the length of the long ones.
    assert max(len(line) for line in extracted.splitlines()) < 200


async def test_a_day_without_summary_or_messages_still_renders_a_readable_page() -> None:
    pdf = await render_day_pdf(_doc([], summary=""))
    text = _text(pdf)
    assert text.startswith("Saturday 14 March 2026")
    assert "No summary." in text
    assert "No messages." in text


def test_a_message_time_without_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone aware"):
        DayMessage(datetime(2026, 3, 14, 10, 0), "Alice", "user", "hi")


async def test_times_follow_the_users_time_zone_across_a_dst_change() -> None:
    # 2026-03-29 is the night Paris moves from UTC+1 to UTC+2.
    day = date(2026, 3, 29)
    messages = [
        DayMessage(datetime(2026, 3, 29, 0, 30, tzinfo=UTC), "Alice", "user", "before"),
        DayMessage(datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "Alice", "user", "after"),
    ]
    doc = DayDocument(day=day, assistant_name="Captain", timezone=PARIS, summary_markdown="s", messages=messages)
    text = _text(await render_day_pdf(doc))
    assert "01:30 Alice\nbefore" in text
    assert "03:30 Alice\nafter" in text


async def test_the_render_can_run_in_a_separate_process() -> None:
    photo = StoredImage("att/1/photo.jpg", "image/jpeg", _image_bytes((20, 90, 200), "JPEG"))
    doc = _doc([DayMessage(_at(12, 0), "Alice", "user", "From another process", [photo])])
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pdf = await render_day_pdf(doc, executor=pool)
    assert "13:00 Alice\nFrom another process" in _text(pdf)
    assert _image_xobjects(pdf) == 1


def _image_sizes(pdf: bytes) -> set[tuple[int, int]]:
    """Width and height of the images embedded (WeasyPrint shares one resource dictionary between pages)."""
    sizes = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        xobjects = (page.get("/Resources") or {}).get("/XObject") or {}
        for ref in xobjects.values():
            obj = ref.get_object()
            if obj.get("/Subtype") == "/Image":
                sizes.add((int(obj["/Width"]), int(obj["/Height"])))
    return sizes


async def test_a_phone_photo_is_upright_and_no_larger_than_print_needs() -> None:
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned; show it rotated 90° clockwise
    Image.new("RGB", (3000, 2000), (200, 120, 40)).save(buffer, "JPEG", exif=exif)
    photo = StoredImage("att/1/IMG_0001.jpg", "image/jpeg", buffer.getvalue())
    pdf = await render_day_pdf(_doc([DayMessage(_at(12, 0), "Alice", "user", "Look", [photo])]))

    assert _image_xobjects(pdf) == 1
    [(width, height)] = _image_sizes(pdf)
    assert height > width  # portrait, as the phone showed it
    # Shrunk to 1,000 pixels (127 dpi at the 200 mm max-height) and embedded as made: not resampled again.
    assert (width, height) == (667, 1000)


async def test_a_phone_jpeg_with_a_second_image_mpo_is_shrunk_as_a_jpeg() -> None:
    buffer = io.BytesIO()
    main, depth_map = Image.new("RGB", (3000, 2000), (40, 120, 200)), Image.new("RGB", (750, 500), (9, 9, 9))
    main.save(buffer, "MPO", save_all=True, append_images=[depth_map])
    assert Image.open(io.BytesIO(buffer.getvalue())).format == "MPO"
    photo = StoredImage("att/1/IMG_0002.jpg", "image/jpeg", buffer.getvalue())
    pdf = await render_day_pdf(_doc([DayMessage(_at(12, 0), "Alice", "user", "Depth photo", [photo])]))

    [image] = [
        ref.get_object()
        for page in PdfReader(io.BytesIO(pdf)).pages
        for ref in ((page.get("/Resources") or {}).get("/XObject") or {}).values()
        if ref.get_object().get("/Subtype") == "/Image"
    ]
    # A JPEG as the phone made it, not a PNG several times its size.
    assert (image["/Filter"], image["/Width"], image["/Height"]) == ("/DCTDecode", 1000, 667)


async def test_a_small_jpeg_is_embedded_as_sent_not_encoded_again() -> None:
    sent = _image_bytes((20, 90, 200), "JPEG", size=(640, 480))
    photo = StoredImage("att/1/small.jpg", "image/jpeg", sent)
    pdf = await render_day_pdf(_doc([DayMessage(_at(12, 0), "Alice", "user", "Small one", [photo])]))

    embedded = [
        ref.get_object()
        for page in PdfReader(io.BytesIO(pdf)).pages
        for ref in ((page.get("/Resources") or {}).get("/XObject") or {}).values()
        if ref.get_object().get("/Subtype") == "/Image"
    ]
    assert [image["/Filter"] for image in embedded] == ["/DCTDecode"]
    assert embedded[0]._data == sent  # the JPEG's own bytes: no quality lost, no time spent


async def test_an_unreadable_image_is_named_instead_of_breaking_the_pdf() -> None:
    broken = StoredImage("att/1/broken.png", "image/png", b"\x89PNG\r\n\x1a\nnot really")
    pdf = await render_day_pdf(_doc([DayMessage(_at(12, 0), "Alice", "user", "Broken one", [broken])]))

    assert _image_xobjects(pdf) == 0
    text = _text(pdf)
    assert "Broken one" in text
    assert "att/1/broken.png" in text


async def test_a_photo_with_damaged_exif_is_still_shown_in_the_pdf() -> None:
    """Damaged EXIF (an editor's or camera's bug) made the header read raise SyntaxError, which broke the day's PDF."""
    buffer = io.BytesIO()
    Image.new("RGB", (3000, 2000), (200, 120, 40)).save(buffer, "JPEG", exif=b"Exif\x00\x00not a TIFF header")
    photo = StoredImage("att/1/IMG_0003.jpg", "image/jpeg", buffer.getvalue())

    pdf = await render_day_pdf(_doc([DayMessage(_at(12, 0), "Alice", "user", "Odd camera", [photo])]))

    assert "Odd camera" in _text(pdf)
    assert _image_sizes(pdf) == {(1000, 667)}  # shown, shrunk for print, upright as stored
