"""The sources line added under an answer that left an agent's links out."""

from __future__ import annotations

from core.agents.sources import unshown_sources


def test_only_the_links_missing_from_the_answer_are_listed_once_each() -> None:
    links = [
        "https://en.wikipedia.org/wiki/Ada_Lovelace",
        "Tour 2026 — https://cycling.example/tdf",
        "https://a.example/x",
    ]

    line = unshown_sources("Ada was a mathematician (https://a.example/x).", [*links, links[0]])

    assert line == (
        "\n\nSources:\n- https://en.wikipedia.org/wiki/Ada_Lovelace\n- Tour 2026 — https://cycling.example/tdf"
    )


def test_nothing_is_added_when_the_answer_shows_every_link() -> None:
    assert unshown_sources("See https://cycling.example/tdf.", ["Tour — https://cycling.example/tdf"]) == ""
    assert unshown_sources("No links here.", []) == ""
