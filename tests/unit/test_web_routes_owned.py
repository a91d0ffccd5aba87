"""Every web route that takes an id of something a person owns is tried with another person's id somewhere.

The tests that do it are named here, route by route; a new route with an id in its path fails this test until
it is added to the table with the test file that tries another person's id on it (and gets 404)."""

from __future__ import annotations

from pathlib import Path

from bot.web import create_app

TESTS = Path(__file__).resolve().parents[1]

# Routes whose path parameter is a single-use link's token, not something a person owns.
LINKS = ("/link/{token}", "/settings/{token}", "/signin/{token}", "/signin/approve/{token}")

TRIED_BY = {
    ("POST", "/memories/{memory_id}/delete"): "integration/test_web_app.py",
    ("POST", "/memories/{memory_id}/edit"): "integration/test_web_app.py",
    ("GET", "/daily/{day}.pdf"): "integration/test_web_app.py",
    ("POST", "/tokens/{token_id}/revoke"): "integration/test_web_app.py",
    ("GET", "/api/v1/conversations/{conversation_id}/messages"): "integration/test_web_app.py",
    ("GET", "/api/v1/messages/{message_id}"): "integration/test_web_app.py",
    ("PUT", "/api/v1/memories/{memory_id}"): "integration/test_web_app.py",
    ("DELETE", "/api/v1/memories/{memory_id}"): "integration/test_web_app.py",
    ("POST", "/daily/{day}/again"): "integration/test_web_daily_again.py",
    ("POST", "/api/v1/daily-logs/{day}/again"): "integration/test_web_daily_again.py",
    ("DELETE", "/api/v1/accounts/{account_id}"): "integration/test_web_api_accounts.py",
    ("DELETE", "/api/v1/tokens/{token_id}"): "integration/test_web_api_accounts.py",
    ("POST", "/reminders/{reminder_id}/{action}"): "integration/test_web_reminders.py",
    ("GET", "/api/v1/reminders/{reminder_id}"): "integration/test_web_reminders.py",
    ("PATCH", "/api/v1/reminders/{reminder_id}"): "integration/test_web_reminders.py",
    ("POST", "/api/v1/reminders/{reminder_id}/cancel"): "integration/test_web_reminders.py",
    ("POST", "/api/v1/reminders/{reminder_id}/pause"): "integration/test_web_reminders.py",
    ("POST", "/api/v1/reminders/{reminder_id}/resume"): "integration/test_web_reminders.py",
    ("POST", "/api/v1/reminders/{reminder_id}/snooze"): "integration/test_web_reminders.py",
}


def _routes_with_ids() -> set[tuple[str, str]]:
    app = create_app(signin=None, settings_page=None)
    found: set[tuple[str, str]] = set()
    stack = list(app.routes)
    while stack:
        route = stack.pop()
        included = getattr(route, "original_router", None)  # FastAPI's lazily included router
        if included is not None:
            stack.extend(included.routes)
            continue
        path = getattr(route, "path", "")
        if "{" in path and path not in LINKS:
            found.update((method, path) for method in getattr(route, "methods", None) or ("WEBSOCKET",))
    return found


def test_every_route_with_an_id_is_tried_with_another_persons_id() -> None:
    routes = _routes_with_ids()
    assert routes, "the web app's routes were found"
    missing = sorted(routes - TRIED_BY.keys())
    assert not missing, f"add these routes to TRIED_BY with the test that tries another person's id: {missing}"
    assert not sorted(TRIED_BY.keys() - routes), "a route named here no longer exists"
    for (_method, path), test_file in TRIED_BY.items():
        prefix = path.split("{", 1)[0]
        assert prefix in (TESTS / test_file).read_text(), f"{test_file} never calls {path}"
