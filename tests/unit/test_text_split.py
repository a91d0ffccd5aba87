"""Splitting long answers: nothing lost or doubled, code fences kept valid, stable while streaming."""

from __future__ import annotations

import random

from adapters.text import Splitter, find_cut, split_text


def sample_answer(seed: int) -> str:
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(rng.randint(5, 40)):
        kind = rng.random()
        if kind < 0.2:
            lang = rng.choice(["python", "", "js"])
            lines = [f"x{n} = {rng.randint(0, 10**6)}" for n in range(rng.randint(1, 120))]
            out.append(f"```{lang}\n" + "\n".join(lines) + "\n```")
        elif kind < 0.3:
            out.append("y" * rng.randint(1, 5000))  # a "word" longer than a message
        else:
            out.append(
                " ".join(
                    rng.choice(["alpha", "beta", "gamma", "δέλτα", "🙂", "epsilon"]) for _ in range(rng.randint(1, 400))
                )
            )
    return "\n\n".join(out)


def test_parts_join_back_to_the_exact_answer_and_fit_the_limit() -> None:
    for seed in range(60):
        text = sample_answer(seed)
        for limit in (2000, 4000):
            pieces = Splitter(limit, reserve=160).pieces(text)
            assert "".join(p.body for p in pieces) == text
            assert all(len(p.render()) <= limit - 160 for p in pieces)


def test_a_code_block_cut_in_two_is_closed_and_reopened_in_its_language() -> None:
    code = "```python\n" + "".join(f"print({n})\n" for n in range(400)) + "```\nDone."
    first, second, *rest = Splitter(2000).pieces(code)

    assert first.render().startswith("```python\n") and first.render().endswith("\n```")
    assert second.render().startswith("```python\nprint(")
    assert (rest[-1] if rest else second).render().endswith("```\nDone.")
    assert first.body.endswith("\n"), "cut at a line boundary inside code"


def test_cuts_prefer_paragraphs_then_lines_then_words() -> None:
    paragraph = "word " * 300
    assert find_cut(paragraph + "\n\n" + paragraph, 2000) == len(paragraph) + 2
    assert find_cut("a " * 1500, 2000) == 2000
    assert find_cut("a" * 5000, 2000) == 2000


def test_sealed_pieces_never_change_while_the_answer_grows() -> None:
    text = sample_answer(7) * 3
    splitter = Splitter(2000, reserve=160)
    sealed_seen: list[str] = []
    for end in range(0, len(text) + 1, 97):
        pieces = splitter.pieces(text[:end])
        sealed = [p.render() for p in pieces[:-1]]
        assert sealed[: len(sealed_seen)] == sealed_seen
        sealed_seen = sealed
    final = splitter.pieces(text)
    assert "".join(p.body for p in final) == text


def test_split_text_of_a_short_answer_is_one_message() -> None:
    assert split_text("hello", 2000) == ["hello"]
