"""The model used for each role (kept apart from core.llm so reading the settings does not load openai)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelNames:
    """One model per role; any OpenAI-compatible endpoint's names work."""

    chat: str = "gpt-4o-mini"
    vision: str = "gpt-4o-mini"
    embedding: str = "text-embedding-3-small"
    image: str = "gpt-image-1"
    speech: str = "gpt-4o-mini-tts"
    transcription: str = "gpt-4o-mini-transcribe"
