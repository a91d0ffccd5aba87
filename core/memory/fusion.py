"""How search decides what was found and in which order: full text and vectors fused.

Each candidate has two pieces of evidence: the share of the question's word weight
it holds (full text: names and rare words weigh most, core/memory/fts.py) and the
cosine of its vector with the question's.  Both are put on the scale of their own
"found" line before they are added, so neither input's raw numbers drown the other:

* full text: ``share / text_match`` (1.0 is a strong keyword hit);
* vectors: ``(cosine - (floor - vector_span)) / vector_span``, never below 0 (1.0 is a
  cosine at the similarity floor; a cosine ``vector_span`` under the floor adds nothing).

A vector that sits where unrelated texts sit adds nothing, so the fused order is the
full-text order and the cosine only breaks its ties; a vector far above the floor
outranks a weak keyword match.

"Nothing found" is decided for the question, not row by row: a question finds
something when one candidate is a strong keyword hit (``text_match``) or reaches the
similarity floor.  A strong full-text hit therefore always counts, whatever the vectors
say.  The fused search also counts a weaker keyword hit that both inputs single out
(``corroborated``): the one line holding the most of the question's word weight (no
other line holds as much) is also the one line nearest in meaning.  Two rankings that
look at different things (the question's rare words; the whole line's meaning or, for
a bag of words, its share of the line) rarely agree on one line by chance; an off-topic
question's best keyword match is a common word shared by several lines, or the vectors
prefer another line.  This needs no cosine scale, so it holds for any embedding model.

Once the question found something, the other candidates that hold part of it
(``partial_match`` of the words, or a cosine within half of ``vector_span`` under the
floor) fill the remaining places in fused order: a question's second half or a
paraphrased answer is often weaker than its best hit.

The user's own questions count ``question_weight`` of a statement on both inputs, and
only a strong one is kept: they repeat a question's words, not its answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.memory.vectors import Kind

Mode = Literal["fused", "text", "vector"]
_TIE = 1e-6  # scores this close are the same score


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """Ranking and what counts as found (see the module's docstring)."""

    floor: float = 0.30
    text_match: float = 0.35
    corroborated: float = 0.20
    partial_match: float = 0.15
    vector_span: float = 0.20
    text_weight: float = 0.5
    question_weight: float = 0.5
    mode: Mode = "fused"
    candidates: int = 50
    neighbours: bool = True


@dataclass(frozen=True, slots=True)
class Candidate:
    """One row either input proposed: its full-text share (0 when no word matched) and cosine.

    ``said`` is its text as compared for sameness (identical lines are one line); None: the key.
    """

    key: tuple[Kind, int]
    share: float
    cosine: float
    question: bool = False
    said: str | None = None

    @property
    def line(self) -> object:
        """What tells this line from others: its text when known."""
        return self.key if self.said is None else self.said


def rank(candidates: list[Candidate], opts: SearchOptions) -> list[tuple[float, Candidate]]:
    """The candidates that count, best first, each with its score; empty when the question found nothing."""
    weighed = [_weighed(c, opts) for c in candidates]
    found = any(_strong(c, opts) for c in weighed) or (opts.mode == "fused" and _corroborated(weighed, opts))
    if not found:
        return []
    scored = [(_score(c, opts), c) for c in weighed if _kept(c, opts)]
    if opts.mode == "text":
        # Full text alone knows no cosine: equal shares go newest first.
        scored.sort(key=lambda s: (-s[0], -s[1].key[1]))
    else:
        scored.sort(key=lambda s: (-s[0], -s[1].cosine, -s[1].key[1]))
    return scored


def _weighed(c: Candidate, opts: SearchOptions) -> Candidate:
    if not c.question:
        return c
    return Candidate(c.key, c.share * opts.question_weight, c.cosine * opts.question_weight, True, c.said)


def _corroborated(weighed: list[Candidate], opts: SearchOptions) -> bool:
    """Whether both inputs single out the same statement, holding at least ``corroborated`` of the words."""
    told = [c for c in weighed if not c.question]
    if not told:
        return False
    best_share = max(c.share for c in told)
    if best_share < opts.corroborated:
        return False
    best_cosine = max(c.cosine for c in told)
    by_text = {c.line for c in told if c.share >= best_share - _TIE}
    by_vector = {c.line for c in told if c.cosine >= best_cosine - _TIE}
    return len(by_text) == 1 and by_text == by_vector


def _strong(c: Candidate, opts: SearchOptions) -> bool:
    """Whether this candidate alone makes the question one that found something."""
    text = c.share >= opts.text_match
    vector = c.cosine >= opts.floor
    if opts.mode == "text":
        return text
    if opts.mode == "vector":
        return vector
    return text or vector


def _kept(c: Candidate, opts: SearchOptions) -> bool:
    if c.question:
        # An earlier asking fills no place on its own weak match: it holds the words, not the answer.
        return _strong(c, opts)
    text = c.share >= opts.partial_match
    vector = c.cosine >= opts.floor - opts.vector_span / 2
    if opts.mode == "text":
        return text
    if opts.mode == "vector":
        return vector
    return text or vector


def _score(c: Candidate, opts: SearchOptions) -> float:
    if opts.mode == "text":
        return c.share
    if opts.mode == "vector":
        return c.cosine
    text = c.share / opts.text_match if opts.text_match > 0 else c.share
    vector = max(c.cosine - (opts.floor - opts.vector_span), 0.0) / opts.vector_span if opts.vector_span > 0 else 0.0
    return opts.text_weight * text + (1.0 - opts.text_weight) * vector
