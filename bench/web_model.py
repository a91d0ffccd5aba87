"""The fake model of bench.web, in a process of their own: a remote model does not share the server's CPU.

    python -m bench.web_model WORDS_PER_SECOND FIRST_TOKEN_AFTER < texts.json

Queues one streamed reply per text (``Reply.at_rate``), prints its base URL on the first line, then
waits for a line on stdin and prints the streams it wrote as JSON: per stream its text and when each
content chunk was written (``time.perf_counter()``: the system's monotonic clock, comparable with
the server's and the browsers' stamps).
"""

from __future__ import annotations

import json
import sys

from tests.fakes.openai_server import FakeOpenAI, Reply


def main() -> None:
    rate, first = float(sys.argv[1]), float(sys.argv[2])
    texts = json.loads(sys.stdin.readline())
    with FakeOpenAI() as fake:
        for text in texts:
            fake.queue(Reply.at_rate(text, first_token_after=first, words_per_second=rate))
        print(fake.base_url, flush=True)
        sys.stdin.readline()  # the run is over
        streams = [{"text": r.text, "times": r.content_times} for r in fake.stream_log]
    print(json.dumps(streams), flush=True)


if __name__ == "__main__":
    main()
