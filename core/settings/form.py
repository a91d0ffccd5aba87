"""The web settings form, as a view of the registry: one row per field, and a submitted form applied."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.settings.field import Asker
from core.settings.registry import Change, SettingsRegistry

WEB = "web"  # the platform name of a change made on the web


@dataclass(frozen=True, slots=True)
class FormRow:
    """One field on the form: ``value`` fills the input (or picks the choice); ``current`` says it in words."""

    name: str
    label: str
    hint: str
    value: str
    current: str
    placeholder: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    required: bool = False
    max_length: int = 200


class SettingsForm:
    """The rows to show a person and the changes their form asks for."""

    def __init__(self, registry: SettingsRegistry) -> None:
        self.registry = registry

    async def asker(self, user_id: int) -> Asker:
        """The person as stored now, changing settings on the web."""
        return await self.registry.asker(user_id, WEB)

    def rows(self, asker: Asker) -> list[FormRow]:
        """Every available field with its current value."""
        rows = []
        for setting in self.registry.fields():
            value = setting.shown(setting.read(asker.person))
            choices = tuple(setting.choices()) if setting.choices is not None else ()
            if choices:
                current = dict(choices).get(value, value)
            else:
                current = value or (f"{setting.placeholder} (default)" if setting.placeholder else "—")
            rows.append(
                FormRow(
                    name=setting.name,
                    label=setting.label,
                    hint=setting.form_hint,
                    value=value,
                    current=current,
                    placeholder=setting.placeholder,
                    choices=choices,
                    required=bool(setting.required),
                    max_length=setting.max_length,
                )
            )
        return rows

    async def apply(self, asker: Asker, form: Mapping[str, str]) -> Change:
        """Check every field of the submitted form, then store what changed (nothing when one is refused).

        A field missing from the form or left empty keeps its value; a value equal to the stored one is not
        stored again.
        """
        typed = {f.name: form[f.name] for f in self.registry.fields() if f.name in form}
        return await self.registry.change(asker, typed, skip_unchanged=True)
