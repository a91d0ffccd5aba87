"""The terminal has no buttons: the command each offered button runs is printed under the answer."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from adapters.terminal.answer_view import AnswerView
from core.reminders.buttons import undo_button
from core.types import ButtonsOffered, TextDelta, TurnDone


def test_an_offered_undo_button_prints_the_command_to_type(tmp_path: Path) -> None:
    out = io.StringIO()
    view = AnswerView(Console(file=out, width=120), files_dir=tmp_path, live=False)
    view.begin()
    for event in (
        TextDelta("Will do.\n\n_⏰ Friday 11 December, 10:00 Lisbon time: call Ana_"),
        ButtonsOffered((undo_button(3),)),
        TurnDone(1, "Will do."),
    ):
        view.show(event)

    lines = out.getvalue().splitlines()
    assert lines[-1] == "Undo: /reminders undo 3"
    assert "call Ana" in lines[-2]
