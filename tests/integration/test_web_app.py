"""The web app through the real FastAPI app (httpx ASGITransport), on SQLite and PostgreSQL.

Sign-in by a single-use link and a server-side session, the read pages, access tokens, the
REST API, and that every route answers 404 for another person's ids.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from core.db.database import Database
from core.db.models import Message
from core.db.models_web import AccessToken
from core.llm import OpenAIModel
from tests.conftest import TEST_NOW
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.memory_helpers import add_conversation, add_message
from tests.web_helpers import ADA, BOB, PDF, WebKit, csrf_of, web_kit


@pytest.fixture
async def kit(database: Database, model: OpenAIModel) -> WebKit:
    return web_kit(database, model)


async def test_a_link_opens_one_session_for_the_whole_app_and_works_once(kit: WebKit) -> None:
    link = await kit.sessions.link(ADA)
    assert link.startswith("https://bot.example.org/link/")
    async with kit.signed_in(ADA) as client:
        cookies = [c for c in client.cookies.jar if c.name == "captainslog_web"]
        assert len(cookies) == 1 and cookies[0].path == "/" and cookies[0].secure
        chat = await client.get("/chat")
        settings = await client.get("/settings")  # the same session opens the settings page
        timeline = await client.get("/timeline")
    assert chat.status_code == 200 and 'id="composer"' in chat.text
    assert chat.headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")
    assert "unsafe-inline" not in chat.headers["content-security-policy"]
    assert settings.status_code == 200 and "Your settings" in settings.text
    assert timeline.status_code == 200
    async with kit.client() as other:
        path = "/" + link.split("/", 3)[3]
        shown = await other.get(path)
        opened = await other.post(path, data={"csrf": csrf_of(shown.text)})
        spent = await other.get(path)
    assert opened.status_code == 200  # this link was not used yet
    assert spent.status_code == 400 and "already used" in spent.text
    assert "captainslog link" in spent.text  # where a new one comes from, not only /account


async def test_a_link_this_assistant_never_made_says_where_a_good_one_comes_from(kit: WebKit) -> None:
    """A link printed by `captainslog link` in another folder (another database) is unknown here."""
    async with kit.client() as browser:
        page = await browser.get("/link/made-by-another-folder")
    assert page.status_code == 400 and "This sign-in link is not valid here." in page.text
    assert "run in the folder the assistant runs in" in page.text


async def test_the_session_cookie_is_httponly_strict_and_secure(kit: WebKit) -> None:
    link = await kit.sessions.link(ADA)
    path = "/" + link.split("/", 3)[3]
    async with kit.client() as client:
        shown = await client.get(path)
        opened = await client.post(path, data={"csrf": csrf_of(shown.text)})
    cookie = [v for k, v in opened.headers.multi_items() if k == "set-cookie" and "captainslog_web=" in v][0].lower()
    for attribute in ("httponly", "samesite=strict", "secure", "path=/"):
        assert attribute in cookie


async def test_a_post_without_the_pages_csrf_does_not_sign_in(kit: WebKit) -> None:
    link = await kit.sessions.link(ADA)
    path = "/" + link.split("/", 3)[3]
    async with kit.client() as client:
        await client.get(path)
        refused = await client.post(path, data={"csrf": "0" * 64})
        page = await client.get("/chat", follow_redirects=False)
    assert refused.status_code == 403 and "nothing happened" in refused.text
    assert page.status_code == 303 and page.headers["location"] == "/signin"


async def test_sign_out_revokes_the_session_server_side(kit: WebKit) -> None:
    async with kit.signed_in(ADA) as client:
        page = await client.get("/chat")
        stolen = client.cookies.get("captainslog_web")
        bad = await client.post("/signout", data={"csrf": "nope"})
        still = await client.get("/chat")
        out = await client.post("/signout", data={"csrf": csrf_of(page.text)})
    assert bad.status_code == 403 and still.status_code == 200
    assert out.status_code == 200 and "signed out" in out.text
    async with kit.client() as thief:  # the cookie's value, kept somewhere, no longer works
        thief.cookies.set("captainslog_web", stolen, domain="testserver")
        after = await thief.get("/chat", follow_redirects=False)
    assert after.status_code == 303


async def test_the_settings_pages_sign_out_ends_the_web_apps_session_it_was_opened_with(kit: WebKit) -> None:
    """The settings page accepts the web app's session; its Sign out said "signed out" but left that session open."""
    async with kit.signed_in(ADA) as client:
        settings = await client.get("/settings")
        stolen = client.cookies.get("captainslog_web")
        bad = await client.post("/settings/signout", data={"csrf": "nope"})
        out = await client.post("/settings/signout", data={"csrf": csrf_of(settings.text)})
    assert bad.status_code == 403
    assert out.status_code == 200 and "signed out" in out.text
    async with kit.client() as thief:  # the session itself is over, not only this browser's cookie
        thief.cookies.set("captainslog_web", stolen, domain="testserver")
        after = await thief.get("/chat", follow_redirects=False)
        settings_after = await thief.get("/settings")
    assert after.status_code == 303
    assert settings_after.status_code == 401


async def test_sign_out_everywhere_ends_every_browser_of_the_person_only(kit: WebKit) -> None:
    async with kit.signed_in(ADA) as first, kit.signed_in(ADA) as second, kit.signed_in(BOB) as bobs:
        page = await first.get("/tokens")
        done = await first.post("/signout/everywhere", data={"csrf": csrf_of(page.text)})
        other = await second.get("/chat", follow_redirects=False)
        bob = await bobs.get("/chat", follow_redirects=False)
    assert done.status_code == 200 and "every browser" in done.text
    assert other.status_code == 303 and bob.status_code == 200


async def test_a_session_ends_when_it_expires(kit: WebKit) -> None:
    async with kit.signed_in(ADA) as client:
        kit.clock.advance(timedelta(days=15))
        page = await client.get("/chat", follow_redirects=False)
        api = await client.get("/api/v1/messages")
    assert page.status_code == 303 and api.status_code == 401


async def _history(kit: WebKit) -> tuple[int, int, list[int]]:
    """Ada's messages on three platforms and one of Bob's; returns (ada, bob, ada's message ids)."""
    ada, bob = await kit.user_id(ADA), await kit.user_id(BOB)
    ids = []
    for n, platform in enumerate(("discord", "slack", "terminal")):
        conversation = await add_conversation(kit.db, ada, platform, f"c-{platform}", TEST_NOW)
        for k in range(10):
            at = TEST_NOW + timedelta(minutes=10 * n + k)
            ids.append(await add_message(kit.db, conversation, "user", f"{platform} note {k} about sailing", at, ada))
    bobs = await add_conversation(kit.db, bob, "discord", "c-bob", TEST_NOW)
    await add_message(kit.db, bobs, "user", "bob's secret door code 4242", TEST_NOW, bob)
    return ada, bob, ids


async def test_the_timeline_pages_by_keyset_across_platforms_and_marks_edits(kit: WebKit) -> None:
    ada, _, ids = await _history(kit)
    async with kit.db.engine.begin() as conn:
        await conn.execute(update(Message).where(Message.id == ids[0]).values(edited_at=TEST_NOW))
        await conn.execute(update(Message).where(Message.id == ids[1]).values(deleted_at=TEST_NOW))
        await conn.execute(
            update(Message)
            .where(Message.id == ids[2])
            .values(content="**bold** <script>alert(1)</script> <img src=x onerror=alert(2)>")
        )
    seen: list[int] = []
    async with kit.signed_in(ADA) as client:
        before = None
        while True:
            page = await client.get("/api/v1/messages", params={"limit": 7, **({"before": before} if before else {})})
            body = page.json()
            seen += [m["id"] for m in body["messages"]]
            if body["next_before"] is None:
                break
            before = body["next_before"]
        html = (await client.get("/timeline")).text
        oldest = (await client.get(f"/timeline?before={ids[3]}")).text
        discord_only = (await client.get("/api/v1/messages", params={"platform": "discord"})).json()
    assert seen == sorted(ids, reverse=True)  # every message once, newest first, none of Bob's
    assert "door code" not in html and "Discord" in html and "Slack" in html and "Terminal" in html
    assert "edited" in oldest and "This message was deleted." in oldest and "discord note 1" not in oldest
    assert "<strong>bold</strong>" in oldest and "alert(1)</script>" not in oldest and "onerror" not in oldest
    assert {m["platform"] for m in discord_only["messages"]} == {"discord"}
    assert "Older messages" not in html  # 30 messages fit on the first page


async def test_every_route_answers_404_for_another_persons_ids(kit: WebKit) -> None:
    _, bob, _ = await _history(kit)
    bobs_memory = await kit.memory.store.remember(bob, "Bob's door code is 4242")
    async with kit.db.engine.connect() as conn:
        bobs_message = await conn.scalar(select(Message.id).where(Message.author_user_id == bob))
        bobs_conversation = await conn.scalar(select(Message.conversation_id).where(Message.id == bobs_message))
    kit.pdf_days.add((bob, date(2026, 11, 23)))
    bobs_token = await kit.tokens.create(bob, BOB, "bob's script")
    bobs_token_id = (await kit.tokens.list(bob))[0].id
    async with kit.signed_in(ADA) as client:
        csrf = csrf_of((await client.get("/tokens")).text)
        answers = {
            "conversation": await client.get(f"/api/v1/conversations/{bobs_conversation}/messages"),
            "message": await client.get(f"/api/v1/messages/{bobs_message}"),
            "api memory": await client.delete(
                f"/api/v1/memories/{bobs_memory.memory.id}", headers={"x-csrf-token": csrf}
            ),
            "page memory": await client.post(f"/memories/{bobs_memory.memory.id}/delete", data={"csrf": csrf}),
            "page edit": await client.post(
                f"/memories/{bobs_memory.memory.id}/edit", data={"csrf": csrf, "text": "Ada's now"}
            ),
            "api edit": await client.put(
                f"/api/v1/memories/{bobs_memory.memory.id}", json={"text": "Ada's now"}, headers={"x-csrf-token": csrf}
            ),
            "token": await client.post(f"/tokens/{bobs_token_id}/revoke", data={"csrf": csrf}),
            "pdf": await client.get("/daily/2026-11-23.pdf"),
        }
        conversations = (await client.get("/api/v1/conversations")).json()
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 404)
    assert bobs_conversation not in {c["id"] for c in conversations}
    assert [m.text for m in await kit.memory.store.list_memories(bob)] == ["Bob's door code is 4242"]
    assert (await kit.tokens.check(bobs_token)) is not None  # still works


async def test_access_tokens_are_shown_once_stored_hashed_and_revocable(kit: WebKit) -> None:
    await _history(kit)
    async with kit.signed_in(ADA) as client:
        csrf = csrf_of((await client.get("/tokens")).text)
        made = await client.post("/tokens", data={"csrf": csrf, "name": "laptop"})
        token = made.text.split('id="new-token">', 1)[1].split("<", 1)[0]
        listed = await client.get("/tokens")
    assert token.startswith("clt_") and "laptop" in listed.text and token not in listed.text
    async with kit.db.engine.connect() as conn:
        stored = (await conn.execute(select(AccessToken))).all()
    assert len(stored) == 1 and token not in repr(tuple(stored[0]))
    async with kit.client() as script:
        headers = {"authorization": f"Bearer {token}"}
        mine = await script.get("/api/v1/messages", headers=headers)
        async with kit.signed_in(ADA) as client:
            csrf = csrf_of((await client.get("/tokens")).text)
            await client.post(f"/tokens/{stored[0].id}/revoke", data={"csrf": csrf})
        revoked = await script.get("/api/v1/messages", headers=headers)
        anonymous = await script.get("/api/v1/messages")
    assert mine.status_code == 200 and len(mine.json()["messages"]) == 30
    assert revoked.status_code == 401 and anonymous.status_code == 401


async def test_api_changes_with_the_session_need_the_csrf_header(kit: WebKit) -> None:
    ada = await kit.user_id(ADA)
    remembered = await kit.memory.store.remember(ada, "Ada sails on Sundays")
    async with kit.signed_in(ADA) as client:
        refused = await client.delete(f"/api/v1/memories/{remembered.memory.id}")
        csrf = csrf_of((await client.get("/memories")).text)
        listed = (await client.get("/api/v1/memories")).json()
        page = await client.post(f"/memories/{remembered.memory.id}/delete", data={"csrf": csrf})
        after = await client.get("/memories")
    assert refused.status_code == 403
    assert [m["text"] for m in listed] == ["Ada sails on Sundays"]
    assert page.status_code == 303 and page.headers["location"] == "/memories?deleted=1"
    assert "Ada sails on Sundays" not in after.text and "Nothing remembered yet." in after.text


async def test_search_finds_a_discord_message_and_jumps_into_the_timeline(kit: WebKit) -> None:
    ada, bob, ids = await _history(kit)
    await kit.memory.store.index_messages(ada, ids)
    async with kit.db.engine.connect() as conn:
        bobs = list((await conn.scalars(select(Message.id).where(Message.author_user_id == bob))).all())
    await kit.memory.store.index_messages(bob, bobs)
    async with kit.signed_in(ADA) as client:
        page = await client.get("/search", params={"q": "discord note 3 sailing"})
        api = (await client.get("/api/v1/search", params={"q": "door code"})).json()
        slack_only = (await client.get("/api/v1/search", params={"q": "note sailing", "platform": "slack"})).json()
        everywhere = (await client.get("/api/v1/search", params={"q": "note sailing"})).json()
        before_it = await client.get("/search", params={"q": "discord note 3 sailing", "until": "2026-11-23"})
        bad_date = await client.get("/search", params={"q": "sailing", "since": "last week"})
    assert page.status_code == 200 and "<mark>" in page.text
    assert f'href="/timeline?start={ids[3]}#m{ids[3]}"' in page.text
    assert all("4242" not in hit["text"] for hit in api)  # Bob's words are not Ada's to find
    assert slack_only and {h["platform"] for h in slack_only} == {"slack"}
    assert len({h["platform"] for h in everywhere}) > 1
    assert "Nothing found" in before_it.text and "<mark>" not in before_it.text  # every message is from the 24th
    assert "must be YYYY-MM-DD" in bad_date.text


async def test_daily_logs_list_the_persons_days_and_serve_only_their_pdf(kit: WebKit) -> None:
    ada = await kit.user_id(ADA)
    async with kit.db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO daily_logs (user_id, day, state, summary, attempts, updated_at) VALUES (:u, :d, 'posted', :s, 1, :t)"
            ),
            {"u": ada, "d": date(2026, 11, 23), "s": "A day of **sailing**.", "t": TEST_NOW},
        )
    kit.pdf_days.add((ada, date(2026, 11, 23)))
    async with kit.signed_in(ADA) as client:
        page = await client.get("/daily")
        pdf = await client.get("/daily/2026-11-23.pdf")
        missing = await client.get("/daily/2026-11-22.pdf")
    assert "<strong>sailing</strong>" in page.text and 'href="/daily/2026-11-23.pdf"' in page.text
    assert pdf.status_code == 200 and pdf.content == PDF and pdf.headers["content-type"] == "application/pdf"
    assert missing.status_code == 404


async def test_the_chat_api_answers_through_the_same_turn(kit: WebKit, openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(Reply("Ahoy from the web."))
    async with kit.signed_in(ADA) as client:
        csrf = csrf_of((await client.get("/tokens")).text)
        answer = (await client.post("/api/v1/chat", json={"text": "hello"}, headers={"x-csrf-token": csrf})).json()
        timeline = (await client.get("/api/v1/messages")).json()["messages"]
        chat_page = await client.get("/chat")
    assert answer["text"] == "Ahoy from the web." and answer["error"] is None
    assert [(m["platform"], m["role"], m["text"]) for m in timeline] == [
        ("web", "assistant", "Ahoy from the web."),
        ("web", "user", "hello"),
    ]
    assert "Ahoy from the web." in chat_page.text


async def test_without_a_session_pages_redirect_and_the_api_refuses(kit: WebKit) -> None:
    async with kit.client() as client:
        pages = [
            await client.get(p, follow_redirects=False)
            for p in ("/", "/chat", "/timeline", "/search", "/memories", "/daily", "/tokens")
        ]
        api = [await client.get(p) for p in ("/api/v1/messages", "/api/v1/conversations", "/api/v1/memories")]
        signin = await client.get("/signin")
        docs = await client.get("/docs")
        schema = await client.get("/api/v1/openapi.json")
    assert {r.headers["location"] for r in pages} == {"/signin"}
    assert {r.status_code for r in api} == {401}
    assert "/account" in signin.text and "captainslog link" in signin.text
    assert docs.status_code == 200 and "/api/v1/messages" in docs.text
    assert "/api/v1/memories/{memory_id}" in schema.json()["paths"]


async def test_summaries_show_as_cards_and_the_timeline_jumps_to_a_date(kit: WebKit) -> None:
    _, _, ids = await _history(kit)
    async with kit.db.engine.connect() as conn:
        conversation = await conn.scalar(select(Message.conversation_id).where(Message.id == ids[0]))
    async with kit.db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO summaries (conversation_id, first_message_id, last_message_id, level, text, token_count,"
                " model, covers_from, covers_to, created_at, updated_at, stale)"
                " VALUES (:c, :f, :l, 0, :t, 5, 'm', :a, :b, :a, :a, :s)"
            ),
            [
                {"c": conversation, "f": ids[0], "l": ids[4], "t": "Ada planned **a sail**.", "a": TEST_NOW,
                 "b": TEST_NOW, "s": False},
                {"c": conversation, "f": ids[5], "l": ids[6], "t": "An outdated summary.", "a": TEST_NOW,
                 "b": TEST_NOW, "s": True},
            ],
        )  # fmt: skip
    async with kit.signed_in(ADA) as client:
        page = (await client.get("/timeline")).text
        day_before = await client.get("/timeline", params={"day": "2026-11-23"})
        that_day = await client.get("/timeline", params={"day": "2026-11-24"})
        bad = await client.get("/timeline", params={"day": "tuesday"})
    assert "<strong>a sail</strong>" in page and f'href="/timeline?start={ids[4]}#m{ids[0]}"' in page
    assert page.index("a sail") < page.index(f'id="m{ids[4]}"')  # the card sits above the range's newest message
    assert "An outdated summary." not in page  # a stale summary is not shown as a card
    assert "No messages on or before 2026-11-23." in day_before.text and "terminal note 9" in that_day.text
    assert bad.status_code == 200 and "not a date" in bad.text


async def test_memories_are_added_and_edited_by_hand_on_the_page_and_the_api(kit: WebKit) -> None:
    async with kit.signed_in(ADA) as client:
        csrf = csrf_of((await client.get("/memories")).text)
        added = await client.post("/memories", data={"csrf": csrf, "text": "  Ada keeps her boat in  Brest "})
        empty = await client.post("/memories", data={"csrf": csrf, "text": "   "})
        page = await client.get(added.headers["location"])
        memory_id = int(page.text.split('id="memory-text-', 1)[1].split('"', 1)[0])
        edited = await client.post(
            f"/memories/{memory_id}/edit", data={"csrf": csrf, "text": "Ada keeps her boat in Lorient"}
        )
        after = (await client.get("/memories")).text
        api_added = await client.post(
            "/api/v1/memories", json={"text": "Ada's boat is called Ariel"}, headers={"x-csrf-token": csrf}
        )
        listed = [m["text"] for m in (await client.get("/api/v1/memories")).json()]
    assert added.status_code == 303 and "Memory saved." in page.text and "Ada keeps her boat in Brest" in page.text
    assert empty.status_code == 400 and "needs some text" in empty.text
    assert edited.status_code == 303 and "Lorient" in after and "Brest" not in after
    assert api_added.status_code == 201 and api_added.json()["text"] == "Ada's boat is called Ariel"
    assert sorted(listed) == ["Ada keeps her boat in Lorient", "Ada's boat is called Ariel"]


async def test_an_id_beyond_the_databases_integers_is_refused_not_a_server_error(kit: WebKit) -> None:
    """A 2**70 in a URL made SQLite (OverflowError) and PostgreSQL (DBAPIError) raise: a 500 and a traceback."""
    big = 2**70
    async with kit.signed_in(ADA) as client:
        page = await client.get("/tokens")
        csrf = {"csrf": csrf_of(page.text)}
        answers = [
            await client.get(f"/timeline?before={big}"),
            await client.get(f"/api/v1/messages?before={big}"),
            await client.get(f"/api/v1/messages/{big}"),
            await client.get(f"/api/v1/conversations/{big}/messages"),
            await client.delete(f"/api/v1/memories/{big}", headers={"X-CSRF-Token": csrf["csrf"]}),
            await client.post(f"/memories/{big}/delete", data=csrf),
            await client.post(f"/tokens/{big}/revoke", data=csrf),
        ]
    assert [a.status_code for a in answers] == [422] * len(answers)


async def test_the_last_date_there_is_gets_a_line_not_a_server_error(kit: WebKit) -> None:
    """9999-12-31 typed in a date field: the end of that day is past Python's last date (OverflowError, a 500)."""
    async with kit.signed_in(ADA) as client:
        timeline = await client.get("/timeline", params={"day": "9999-12-31"})
        search = await client.get("/search", params={"q": "sailing", "until": "9999-12-31"})
    assert timeline.status_code == 200 and "not a date" in timeline.text
    assert search.status_code == 200 and "YYYY-MM-DD" in search.text


async def test_api_search_times_without_an_offset_are_utc_not_a_server_error(kit: WebKit) -> None:
    """since/until without an offset reached the database naive: SQLAlchemy refused them (a 500)."""
    ada = await kit.user_id(ADA)
    conversation = await add_conversation(kit.db, ada, "discord", "c-naive", TEST_NOW)
    await add_message(kit.db, conversation, "user", "sailing to Brest on Friday", TEST_NOW, ada)
    await kit.memory.store.backfill()
    async with kit.signed_in(ADA) as client:
        before = await client.get("/api/v1/search", params={"q": "sailing Brest", "since": "2020-01-01T00:00:00"})
        after = await client.get("/api/v1/search", params={"q": "sailing Brest", "since": "2030-01-01T00:00:00"})
    assert before.status_code == 200 and [h["text"] for h in before.json()] == ["sailing to Brest on Friday"]
    assert after.status_code == 200 and after.json() == []


async def test_a_posted_days_pdf_is_rendered_again_from_the_stored_summary(
    kit: WebKit, model: OpenAIModel, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from bot.webapp_wiring import day_pdf_of
    from tests.daily_helpers import daily_process

    ada = await kit.user_id(ADA)
    conversation = await add_conversation(kit.db, ada, "discord", "c-day", TEST_NOW - timedelta(days=1))
    await add_message(kit.db, conversation, "user", "Rigged the jib for the regatta", TEST_NOW - timedelta(days=1), ada)
    async with kit.db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO daily_logs (user_id, day, state, summary, attempts, updated_at)"
                " VALUES (:u, :d, 'posted', :s, 1, :t)"
            ),
            {"u": ada, "d": date(2026, 11, 23), "s": "A day of rigging.", "t": TEST_NOW},
        )
    process = daily_process(kit.db, model, kit.clock, messengers=[], pdf_dir=tmp_path / "pdfs")
    day_pdf = day_pdf_of(kit.db, SimpleNamespace(job=process.job))  # type: ignore[arg-type]
    kit.app.state.webapp.day_pdf = day_pdf
    async with kit.signed_in(ADA) as client:
        pdf = await client.get("/daily/2026-11-23.pdf")
        none = await client.get("/daily/2026-11-22.pdf")
    async with kit.signed_in(BOB) as client:
        bobs = await client.get("/daily/2026-11-23.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")  # the cache was dropped at posting
    assert none.status_code == 404 and bobs.status_code == 404


async def test_a_browser_gets_a_page_with_a_way_back_for_an_error_and_scripts_keep_json(kit: WebKit) -> None:
    browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    async with kit.signed_in(ADA) as client:
        missing = await client.get("/no-such-page", headers=browser)
        no_pdf = await client.get("/daily/2020-01-02.pdf", headers=browser)
        api = await client.get("/api/v1/no-such-thing", headers=browser)
        script = await client.get("/no-such-page")  # httpx asks for */*: FastAPI's JSON, as before
        unreadable = await client.get("/timeline", params={"start": "abc"}, headers=browser)
        unreadable_api = await client.get("/api/v1/messages", params={"before": "abc"}, headers=browser)
    async with kit.client() as stranger:
        signed_out = await stranger.get("/no-such-page", headers=browser)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "There is no such page." in missing.text and '<a href="/chat">Back to the chat</a>' in missing.text
    assert 'aria-label="Main"' in missing.text  # the app's navigation and Sign out are there too
    assert missing.headers["content-security-policy"].startswith("default-src 'none'")
    assert no_pdf.status_code == 404 and "No PDF of that day." in no_pdf.text and "Back to the chat" in no_pdf.text
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    assert script.status_code == 404 and script.json() == {"detail": "Not Found"}
    assert unreadable.status_code == 400 and "a value the page cannot read" in unreadable.text
    assert "Back to the chat" in unreadable.text
    assert unreadable_api.status_code == 422 and unreadable_api.json()["detail"][0]["loc"] == ["query", "before"]
    assert signed_out.status_code == 404 and '<a href="/signin">Sign in</a>' in signed_out.text
    assert 'aria-label="Main"' not in signed_out.text


async def test_search_signs_the_assistants_answers_with_its_name_as_the_timeline_does(kit: WebKit) -> None:
    ada = await kit.user_id(ADA)
    conversation = await add_conversation(kit.db, ada, "discord", "c-ask", TEST_NOW)
    answer = await add_message(kit.db, conversation, "assistant", "The lighthouse keeper is Marguerite.", TEST_NOW)
    await kit.memory.store.index_messages(ada, [answer])
    async with kit.signed_in(ADA) as client:
        found = await client.get("/search", params={"q": "lighthouse keeper Marguerite"})
        timeline = await client.get("/timeline")
    assert "<mark>Marguerite</mark>" in found.text
    assert "CaptainsLog · " in found.text and "assistant · " not in found.text
    assert "CaptainsLog · " in timeline.text


async def test_an_empty_timeline_page_says_why_and_leads_back_to_the_newest(kit: WebKit) -> None:
    await _history(kit)  # Ada on Discord, Slack and the terminal; nothing on the web
    async with kit.signed_in(ADA) as client:
        elsewhere = await client.get("/timeline", params={"start": 999_999})
        web_only = await client.get("/timeline", params={"platform": "web"})
        everything = await client.get("/timeline")
    assert "That message is not in your timeline." in elsewhere.text
    assert '<a href="/timeline">The newest messages</a>' in elsewhere.text and "No messages yet" not in elsewhere.text
    assert "No messages on Web yet." in web_only.text
    assert "No messages" not in everything.text and "not in your timeline" not in everything.text
