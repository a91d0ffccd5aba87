"""The model endpoint as the settings describe it: the key to send and the one OpenAI wrapper."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.errors import ConfigError
from core.context import ContextBuilder
from core.llm import OPENAI_DEFAULT_BASE_URL, OpenAIModel
from core.tokens import TokenCounter


def api_key_for(settings: Settings) -> str:
    """The key to send; local OpenAI-compatible servers (Ollama, vLLM, LM Studio) need none."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    if key:
        return key
    if settings.openai_base_url.rstrip("/") == OPENAI_DEFAULT_BASE_URL:
        here = Path.cwd()
        where = "" if (here / ".env").is_file() else f" There is no .env in {here}: run captainslog from its folder."
        raise ConfigError(
            "OPENAI_API_KEY is not set: put your key in .env (see .env.example), "
            "or set OPENAI_BASE_URL to a local OpenAI-compatible server." + where
        )
    return "not-needed"


def build_model(settings: Settings) -> OpenAIModel:
    """The OpenAI wrapper for the configured endpoint, models, timeout and retries."""
    return OpenAIModel(
        api_key=api_key_for(settings),
        base_url=settings.openai_base_url,
        models=settings.models,
        timeout=settings.openai_timeout,
        max_retries=settings.openai_max_retries,
    )


def build_context(settings: Settings) -> ContextBuilder:
    """The model's context builder (token counter, budget, the assistant's name) the answers and `speak` share."""
    return ContextBuilder(
        TokenCounter(settings.chat_model),
        token_budget=settings.context_token_budget,
        assistant_name=settings.assistant_name,
    )
