"""The fused ranking against its two inputs, on a small fixed set of questions (core/memory/fusion.py)."""

from __future__ import annotations

from dataclasses import replace

from core.memory.fusion import Candidate, SearchOptions, rank

OPTIONS = SearchOptions(floor=0.40, text_match=0.35)


def row(item: int, share: float, cosine: float, *, question: bool = False, said: str | None = None) -> Candidate:
    return Candidate(("message", item), share, cosine, question, said)


def ids(candidates: list[Candidate], options: SearchOptions = OPTIONS) -> list[int]:
    return [c.key[1] for _, c in rank(candidates, options)]


# (what the case is, candidates, the ids that answer it; none for a question about something never said)
CASES: list[tuple[str, list[Candidate], set[int]]] = [
    (
        "a name asked by keyword: the vectors point elsewhere",
        [row(1, 0.62, 0.05), row(2, 0.0, 0.38), row(3, 0.16, 0.30)],
        {1},
    ),
    (
        "a paraphrase: no word in common, the meaning close",
        [row(11, 0.0, 0.55), row(12, 0.22, 0.20), row(13, 0.18, 0.31)],
        {11},
    ),
    (
        "two turns: one strong keyword hit, the other only close in meaning",
        [row(21, 0.50, 0.30), row(22, 0.05, 0.37), row(23, 0.20, 0.10), row(24, 0.17, 0.12)],
        {21, 22},
    ),
    (
        "two rows hold the same words: the closer meaning wins the tie, not the newer row",
        [row(31, 0.46, 0.45), row(32, 0.46, 0.20)],
        {31},
    ),
    (
        "the answer ranks above the user's earlier asking of the same question",
        [row(41, 0.80, 0.70, question=True), row(42, 0.50, 0.50)],
        {42},
    ),
    (
        "a question about something never said",
        [row(51, 0.30, 0.35), row(52, 0.24, 0.20), row(53, 0.0, 0.38)],
        set(),
    ),
]


def measure(mode: str, k: int = 2) -> tuple[float, float, int]:
    """Recall@k and MRR over the answered cases, and how many unanswerable cases found nothing."""
    opts = replace(OPTIONS, mode=mode)
    recall = reciprocal = 0.0
    answered = nothing = 0
    for _, candidates, answer in CASES:
        found = [c.key[1] for _, c in rank(candidates, opts)]
        if not answer:
            nothing += not found
            continue
        answered += 1
        recall += len(answer & set(found[:k])) / len(answer)
        first = next((i for i, item in enumerate(found) if item in answer), None)
        reciprocal += 0.0 if first is None else 1.0 / (first + 1)
    return recall / answered, reciprocal / answered, nothing


def test_the_fused_ranking_is_never_worse_than_either_input_and_better_than_both_here() -> None:
    text, vector, fused = measure("text"), measure("vector"), measure("fused")

    assert fused[0] >= max(text[0], vector[0]) and fused[1] >= max(text[1], vector[1])
    assert fused[0] > max(text[0], vector[0]), (text, vector, fused)
    assert fused[1] > max(text[1], vector[1]), (text, vector, fused)
    assert fused[2] == text[2] == vector[2] == 1, "the question about nothing finds nothing, whatever the method"


def test_a_strong_keyword_hit_counts_whatever_the_vectors_say() -> None:
    found = rank([row(1, 0.40, -0.2), row(2, 0.0, 0.10)], OPTIONS)

    assert [c.key[1] for _, c in found] == [1]


def test_once_something_is_found_weaker_rows_that_hold_part_of_the_question_follow() -> None:
    found = rank([row(1, 0.50, 0.2), row(2, 0.20, 0.1), row(3, 0.05, 0.33), row(4, 0.05, 0.2)], OPTIONS)

    assert [c.key[1] for _, c in found] == [1, 3, 2], "row 4 holds too little of either"


def test_a_vector_where_unrelated_texts_sit_leaves_the_full_text_order_alone() -> None:
    # All cosines more than vector_span under the floor: the fused order is full text's.
    candidates = [row(1, 0.36, 0.05), row(2, 0.70, 0.18), row(3, 0.50, 0.12)]

    fused = [c.key[1] for _, c in rank(candidates, OPTIONS)]

    assert fused == [c.key[1] for _, c in rank(candidates, replace(OPTIONS, mode="text"))] == [2, 3, 1]


def test_the_users_earlier_question_takes_no_place_on_a_weak_match() -> None:
    found = rank([row(1, 0.60, 0.3), row(2, 0.50, 0.3, question=True), row(3, 0.90, 0.5, question=True)], OPTIONS)

    assert [c.key[1] for _, c in found] == [1, 3], "0.50 x 0.5 is no strong match; 0.90 x 0.5 is"


def test_a_weaker_keyword_hit_counts_when_both_inputs_single_out_the_same_line() -> None:
    # "What did the skin prick test reveal?" against "allergy test results: birch": one word in common.
    candidates = [row(1, 0.25, 0.22), row(2, 0.16, 0.12), row(3, 0.0, 0.18)]

    assert ids(candidates) == [1, 2]
    assert ids(candidates, replace(OPTIONS, mode="text")) == [], "full text alone: under its found line"
    assert ids(candidates, replace(OPTIONS, mode="vector")) == [], "the vectors alone: under the floor"


def test_no_corroboration_when_several_lines_hold_the_same_words_or_the_vectors_prefer_another() -> None:
    # "What's my grandmother's maiden name?": "name" is in several lines, none about her.
    assert ids([row(1, 0.27, 0.31, said="ziggy is her name"), row(2, 0.27, 0.10, said="cute name")]) == []
    assert ids([row(1, 0.27, 0.20), row(2, 0.0, 0.31)]) == [], "the nearest line is another one"
    assert ids([row(1, 0.18, 0.31)]) == [], "under `corroborated`, a shared word is not enough"
    assert ids([row(1, 0.27, 0.31, question=True), row(2, 0.0, 0.1)]) == [], "an earlier asking corroborates nothing"


def test_identical_lines_are_one_line_when_both_inputs_single_it_out() -> None:
    said = "allergy test results: birch"

    assert sorted(ids([row(1, 0.25, 0.22, said=said), row(2, 0.25, 0.22, said=said), row(3, 0.0, 0.1)])) == [1, 2]
