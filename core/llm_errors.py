"""Model failures as one sentence for the user: what went wrong, never request data or keys.

Only network and API failures become such sentences. Any other exception met while calling the model
is a bug of ours (a ``TypeError`` in our code, say): it is logged with its traceback and the user gets
one line, :data:`OUR_BUG`, instead of a sentence blaming the network.
"""

from __future__ import annotations

import logging
import re

import aiohttp
import httpx
import openai

log = logging.getLogger(__name__)

OUR_BUG = "Something went wrong on my side; it is in the log."
# What a call to the model service can raise when the service or the way to it fails.
_TRANSPORT_ERRORS = (openai.APIError, httpx.HTTPError, httpx.StreamError, aiohttp.ClientError, OSError, TimeoutError)


class ModelError(Exception):
    """A model call failed. ``user_message`` is one sentence fit for the user; ``kind`` is for code."""

    def __init__(self, kind: str, user_message: str, *, detail: str = "") -> None:
        super().__init__(f"{kind}: {user_message}" + (f" ({detail})" if detail else ""))
        self.kind = kind
        self.user_message = user_message
        self.detail = detail


def is_transport_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure of the model service or the network (not a bug of ours)."""
    return isinstance(exc, _TRANSPORT_ERRORS)


def our_bug(exc: BaseException, *, doing: str) -> ModelError:
    """Log ``exc`` as a bug, with its traceback; the :class:`ModelError` (kind ``bug``) says one line to the user."""
    log.error("bug while %s: %s", doing, type(exc).__name__, exc_info=exc)
    return ModelError("bug", OUR_BUG, detail=type(exc).__name__)


def describe_api_error(exc: BaseException) -> ModelError:
    """Turn an exception from the openai client (or its transport) into a :class:`ModelError`.

    An exception that is neither (a bug of ours) is logged with its traceback and becomes :data:`OUR_BUG`.
    """
    if isinstance(exc, ModelError):
        return exc
    if not is_transport_error(exc):
        return our_bug(exc, doing="calling the model service")
    status = getattr(exc, "status_code", None)
    detail = f"{type(exc).__name__}" + (f" {status}" if status else "")
    if isinstance(exc, openai.AuthenticationError):
        return ModelError("auth", "The model service refused the API key; check OPENAI_API_KEY.", detail=detail)
    if isinstance(exc, openai.PermissionDeniedError):
        return ModelError("auth", "The model service denied access to this model.", detail=detail)
    if isinstance(exc, openai.RateLimitError):
        return ModelError(
            "rate_limit", "The model service is over its rate limit right now; try again in a minute.", detail=detail
        )
    if isinstance(exc, openai.NotFoundError):
        return ModelError(
            "not_found", "The model service does not know this model; check the model settings.", detail=detail
        )
    if isinstance(exc, openai.BadRequestError):
        message = _error_message(exc) or "it refused the request"
        return ModelError("bad_request", f"The model service could not take this request: {message}", detail=detail)
    if isinstance(exc, openai.APITimeoutError):
        return ModelError("timeout", "The model service took too long to answer.", detail=detail)
    if isinstance(exc, openai.APIConnectionError):
        return ModelError(
            "unreachable", "The model service cannot be reached; check OPENAI_BASE_URL and the network.", detail=detail
        )
    if isinstance(exc, openai.APIStatusError):
        return ModelError("unavailable", f"The model service failed (HTTP {status}); try again shortly.", detail=detail)
    return ModelError(
        "broken_stream", "The connection to the model broke off in the middle of the answer.", detail=detail
    )


def _is_timeout(exc: BaseException) -> bool:
    """Whether a failure while reading the stream was a read timeout (whatever HTTP library raised it)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError | openai.APITimeoutError) or "Timeout" in type(seen).__name__:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# Upstream error text is shown to users: anything that looks like request data or a credential goes.
_REQUEST_DATA = re.compile(
    r"(?:sk-|xox[abp]-|xapp-|Bearer\s+)[\w\-.]+"  # keys and tokens
    r"|https?://\S+"  # URLs (they can carry queries and signed parameters)
    r"|[\[{].*[\]}]",  # JSON fragments (echoed request bodies)
    re.IGNORECASE | re.DOTALL,
)
MAX_UPSTREAM_MESSAGE = 200


def _error_message(exc: openai.APIStatusError) -> str:
    """The service's own one-line reason, cut short and cleaned of anything that looks like request data."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return clean_upstream_text(inner["message"])
    return ""


def clean_upstream_text(text: str) -> str:
    """``text`` from another service, fit to show a user: one line, no request data, at most 200 characters."""
    cleaned = _REQUEST_DATA.sub("…", " ".join(text.split()))
    if len(cleaned) > MAX_UPSTREAM_MESSAGE:
        cleaned = cleaned[: MAX_UPSTREAM_MESSAGE - 1].rstrip() + "…"
    return cleaned
