"""Daily-log PDF benchmark: time and peak memory to render one long day.

Each run happens in a fresh child process (``python -m bench.daily --child``), so
its peak resident memory belongs to that one render alone. The child builds a day
of N messages (user and assistant in turn: prose, lists, code blocks, a table now
and then, 20-300 words each) with the images attached to evenly spaced messages,
then renders it through ``core.export.render_day_pdf`` (Markdown → sanitised HTML →
WeasyPrint). A day this long is laid out in two parts at once: the first in the
child, the second in a part worker (``python -m core.export.worker``, a process
the render starts and waits for), then merged with page numbers. It reports:

- render s: wall time of ``render_day_pdf`` (HTML building, the worker's start and the
  merge included);
- CPU s: user + system CPU time during the render of the child and of the part
  workers it waited for (steadier than wall time when the machine is shared);
- peak RSS MB: the child's resident high-water mark at the end plus each part
  worker's: the sum of their peaks, so never less than what was resident at once;
- child MB / workers MB: the two terms of that sum. A worker's high-water mark
  (VmHWM) is sampled every 20 ms while it runs, and is at least the kernel's
  ``ru_maxrss`` of the waited-for children (which can carry the child's own peak
  at the worker's start: an over-estimate, never an under-estimate);
- before MB: the child's high-water mark just before rendering (Python, WeasyPrint
  and the document with its image bytes loaded);
- pages and PDF MB of the result.

Scenarios: ``small`` images are 640×480 PNG screenshots (~60 KB); ``photos`` are
4032×3024 JPEG phone photos (~2.7 MB: sensor-like noise, so they weigh what real
ones do). The parent writes the images to a temporary directory and the child
reads them, so making them does not count in the child's peak.

Run: ``python -m bench.daily [--messages 500] [--images 20] [--runs 3] [--scenarios small,photos]``
Target: under 10 s and under 500 MB peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

SCENARIOS = {"small": ("PNG", (640, 480)), "photos": ("JPEG", (4032, 3024))}
WORDS = ("anchor", "harbour", "rope", "tide", "deck", "sail", "chart", "wind", "keel", "mast", "galley", "port",
         "starboard", "log", "compass", "buoy", "current", "knot", "hull", "cabin")  # fmt: skip


def write_images(directory: Path, scenario: str, count: int) -> None:
    """Write `count` images of the scenario to `directory` (done in the parent: the child's peak stays its own)."""
    import numpy as np
    from PIL import Image

    fmt, (width, height) = SCENARIOS[scenario]
    rng = np.random.default_rng(7)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    for n in range(count):
        pixels = np.sin(x * (5 + n) + y * 3) * 60 + 120 + np.array([30, 0, -30], dtype=np.float32)
        if fmt == "JPEG":  # sensor noise: photos then weigh what phone photos weigh (~2.7 MB)
            pixels = pixels + rng.normal(0, 10, (height, width, 3)).astype(np.float32)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
        image.save(directory / f"{n:03d}.{fmt.lower()}", fmt, quality=85)


def _text(rng: random.Random, i: int) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 300)))
    kind = i % 7
    if kind == 1:
        return f"Steps for message {i}:\n\n" + "\n".join(f"{n}. {words[n * 7 : n * 7 + 40]}" for n in range(1, 6))
    if kind == 3:
        code = "\n".join(f"    result_{n} = compute('{words[:60]}', n={n})" for n in range(12))
        return f"Here is the script for {i}:\n\n```python\ndef main():\n{code}\n```\n\n{words[:200]}"
    if kind == 5:
        rows = "\n".join(f"| {w} | {n} | {n * 3.5:.1f} |" for n, w in enumerate(words.split()[:8]))
        return f"Table {i}:\n\n| item | count | weight |\n|---|--:|--:|\n{rows}\n\n**Total** for {i}."
    return f"{words.capitalize()}. Message {i} with *emphasis* and a [link](https://example.org/{i})."


def build_day(messages: int, image_dir: Path):  # -> DayDocument
    """The benchmark's day: `messages` messages, evenly spaced ones carrying the images of `image_dir`."""
    from core.export import DayDocument, DayMessage, StoredImage

    files = sorted(image_dir.iterdir())
    rng = random.Random(11)
    start = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    step = max(1, messages // max(len(files), 1))
    images = {}
    for n, path in enumerate(files):
        content_type = "image/png" if path.suffix == ".png" else "image/jpeg"
        images[n * step] = StoredImage(f"bench/{path.name}", content_type, path.read_bytes())
    day_messages = []
    for i in range(messages):
        attached = [images[i]] if i in images else []
        user = i % 2 == 0
        day_messages.append(
            DayMessage(
                at=start + timedelta(seconds=90 * i),
                speaker="Alice" if user else "Captain",
                role="user" if user else "assistant",
                text=_text(rng, i),
                images=attached,
            )
        )
    summary = "## Discussed\n- " + "\n- ".join(" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(8))
    return DayDocument(date(2026, 12, 1), "Captain", ZoneInfo("Europe/Paris"), summary, day_messages)


def _vmhwm_mb(pid: int | str = "self") -> float | None:
    """A process's resident high-water mark in MB (None once it has gone).

    VmHWM, not ru_maxrss: after fork and exec ru_maxrss keeps the parent's peak
    (the parent made 12-megapixel images), VmHWM starts afresh with the new program.
    """
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _maxrss_mb() -> float:
    """This process's resident high-water mark in MB."""
    hwm = _vmhwm_mb()
    if hwm is not None:
        return hwm
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: KiB on Linux, bytes on macOS


class WorkerPeaks:
    """Samples the VmHWM of this process's children (the render's part workers) every 20 ms while they run."""

    def __init__(self) -> None:
        self.peaks: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-peaks", daemon=True)

    def __enter__(self) -> WorkerPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for children in Path("/proc/self/task").glob("*/children"):
                try:
                    pids = children.read_text().split()
                except OSError:
                    continue
                for pid in map(int, pids):
                    hwm = _vmhwm_mb(pid)
                    if hwm is not None:
                        self.peaks[pid] = max(self.peaks.get(pid, 0.0), hwm)


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def child(messages: int, image_dir: Path) -> None:
    """Render one day in this process (and its part workers) and print the figures as JSON."""
    from core.export import render_day_pdf

    doc = build_day(messages, image_dir)
    before = _maxrss_mb()
    cpu_started = _cpu_seconds(resource.RUSAGE_SELF) + _cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with WorkerPeaks() as workers:
        pdf = asyncio.run(render_day_pdf(doc))
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds(resource.RUSAGE_SELF) + _cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_started
    own = _maxrss_mb()
    sampled = sorted(workers.peaks.values(), reverse=True)
    if sampled:  # the largest worker's peak is at least what the kernel kept for it
        sampled[0] = max(sampled[0], resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    from pypdf import PdfReader  # after the peaks are read: the benchmark's own use of pypdf

    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    figures = {"seconds": seconds, "cpu_seconds": cpu, "peak_mb": own + sum(sampled), "child_mb": own,
               "workers_mb": sum(sampled), "workers": len(sampled), "before_mb": before, "pages": pages}  # fmt: skip
    print(json.dumps({**figures, "pdf_bytes": len(pdf)}))


@dataclass
class Result:
    scenario: str
    runs: list[dict]


def run_child(messages: int, image_dir: Path) -> dict:
    """One measurement in a fresh interpreter."""
    argv = [sys.executable, "-m", "bench.daily", "--child", "--messages", str(messages), "--image-dir", str(image_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the render child failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(results: list[Result], messages: int, images: int, console: Console) -> None:
    table = Table(title=f"Day PDF: {messages} messages, {images} images (median of runs; peak = max)")
    columns = ("images", "runs", "render s", "CPU s", "peak RSS MB", "child MB", "workers MB", "before MB", "pages",
               "PDF MB")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "images" else "right")
    for result in results:
        runs = result.runs
        fmt, (width, height) = SCENARIOS[result.scenario]
        table.add_row(
            f"{result.scenario} ({width}×{height} {fmt})",
            str(len(runs)),
            f"{statistics.median(r['seconds'] for r in runs):.2f}",
            f"{statistics.median(r['cpu_seconds'] for r in runs):.2f}",
            f"{max(r['peak_mb'] for r in runs):.0f}",
            f"{max(r['child_mb'] for r in runs):.0f}",
            f"{max(r['workers_mb'] for r in runs):.0f} ({runs[0]['workers']})",
            f"{statistics.median(r['before_mb'] for r in runs):.0f}",
            str(runs[0]["pages"]),
            f"{runs[0]['pdf_bytes'] / 1e6:.1f}",
        )
    console.print(table)
    console.print("Target: render under 10 s, peak RSS (child + part workers) under 500 MB.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.daily", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenarios", default="small,photos")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--image-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    if args.child:
        child(args.messages, args.image_dir)
        return
    console = Console()
    results = []
    for scenario in scenarios:
        runs = []
        with tempfile.TemporaryDirectory(prefix="bench-daily-") as tmp:
            write_images(Path(tmp), scenario, args.images)
            for n in range(args.runs):
                console.print(f"{scenario}: run {n + 1}/{args.runs}…")
                runs.append(run_child(args.messages, Path(tmp)))
        results.append(Result(scenario, runs))
    print_table(results, args.messages, args.images, console)


if __name__ == "__main__":
    main()
