"""Runs one real image path on images read from a file, in a process of its own, and reports its peak memory.

``python -m tests.bomb_child PATH COUNT OPENAI_BASE_URL MODE`` with MODE one of
``attachments`` (one message carrying COUNT copies of the image, read by ``read_attachments``),
``look`` (``look_at_image`` on it COUNT times at once) or ``pdf`` (the daily PDF of one message
carrying COUNT copies). Prints one JSON line: what the path gave the user or the model, and
``peak_mb``, this process's peak resident memory: VmHWM of /proc/self/status, not ru_maxrss,
which Linux carries over from the parent at exec (a test run's pytest process is larger than 300 MB).
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pypdf import PdfReader

from core.agents.vision import LookAtImageTool, VisionAgent
from core.db.repositories import UserRecord
from core.export import DayDocument, DayMessage, StoredImage, render_day_pdf
from core.llm import ModelNames, OpenAIModel
from core.media.incoming import read_attachments
from core.media.safe_image import ImageLimits, SafeImages, apply_pillow_limit
from core.media.voice import Transcriber
from core.tools.registry import ToolContext
from core.types import Attachment, AttachmentKind


async def main(path: Path, count: int, base_url: str, mode: str) -> dict[str, object]:
    """Run the path; return what it reported."""
    data = await asyncio.to_thread(path.read_bytes)
    limits = ImageLimits()
    apply_pillow_limit(limits)  # as the container does at start
    images = SafeImages(limits)
    model = OpenAIModel(api_key="sk-test", base_url=base_url, models=ModelNames(vision="vision-test"), max_retries=0)
    vision = VisionAgent(model, images=images)
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    try:
        if mode == "attachments":
            files = tuple(Attachment(AttachmentKind.IMAGE, f"bomb{n}.png", "image/png", data) for n in range(count))
            media = await read_attachments("look", files, transcriber=Transcriber(model), vision=vision)
            return {"notices": list(media.notices), "findings": [f.content for f in media.findings]}
        if mode == "look":

            async def loader(user_id: int, reference: str) -> bytes:
                return data

            tool = LookAtImageTool(vision, loader)
            user = UserRecord(id=1, display_name="Ada", timezone="UTC", settings={})
            context = ToolContext(user=user, conversation_id=1, now=at, timezone=ZoneInfo("UTC"))
            results = await asyncio.gather(
                *(tool.run({"image": f"image {n}", "question": "what is it?"}, context) for n in range(count))
            )
            return {"results": [r.content for r in results]}
        stored = [StoredImage(f"{n}-bomb.png", "image/png", data) for n in range(count)]
        doc = DayDocument(date(2026, 12, 1), "CaptainsLog", UTC, "", [DayMessage(at, "Ada", "user", "look", stored)])
        pdf = await render_day_pdf(doc, images=images)
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
        return {"pdf_text": text}
    finally:
        await model.close()


if __name__ == "__main__":
    report = asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]))
    status = Path("/proc/self/status").read_text()
    report["peak_mb"] = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
    print(json.dumps(report))
