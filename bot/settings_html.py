"""The settings page's HTML: server-rendered, every value escaped, readable without JavaScript."""

from __future__ import annotations

from html import escape

from core.identity.account import AccountView
from core.settings.form import FormRow

STYLE = """
:root{color-scheme:light dark;--fg:#1d232b;--bg:#fafaf7;--muted:#5b6470;--line:#d9dcd3;--ok:#1f6f43;--bad:#a0262b;
--okbg:#e7f4ec;--badbg:#fbe9ea;--accent:#1f5fa8}
@media (prefers-color-scheme:dark){:root{--fg:#e8eaed;--bg:#17191c;--muted:#a3abb5;--line:#3a3f45;--ok:#8fd6a9;
--bad:#f2a5a8;--okbg:#1c3326;--badbg:#3b1f21;--accent:#8ab8f0}}
*{box-sizing:border-box}
body{font:1.05rem/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);
max-width:40rem;margin:2.5rem auto;padding:0 1.25rem}
h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
p.lead{color:var(--muted);margin-top:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1.25rem;margin:0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
ul.accounts{margin:0;padding-left:1.1rem}
.note{padding:.75rem 1rem;border-radius:.4rem;margin:1.25rem 0;border:1px solid}
.note.ok{color:var(--ok);background:var(--okbg);border-color:var(--ok)}
.note.bad{color:var(--bad);background:var(--badbg);border-color:var(--bad)}
.note ul{margin:.25rem 0 0;padding-left:1.1rem}
form label{display:block;font-weight:600;margin:1rem 0 .25rem}
.hint{color:var(--muted);font-weight:400;font-size:.9rem}form .hint{display:block}
input[type=text],select{font:inherit;width:100%;padding:.5rem .6rem;border:1px solid var(--line);border-radius:.35rem;
background:transparent;color:inherit}
button{font:inherit;font-weight:600;margin-top:1.5rem;padding:.6rem 1.4rem;border:0;border-radius:.35rem;
background:var(--accent);color:#fff;cursor:pointer}
@media (prefers-color-scheme:dark){button{color:#0d1117}}
footer{margin-top:2.5rem;color:var(--muted);font-size:.9rem}
nav{display:flex;flex-wrap:wrap;gap:.25rem .9rem;margin-bottom:1.5rem}a{color:var(--accent)}
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">
<title>{title}</title><style>{style}</style></head>
<body>{body}</body></html>
"""


APP_NAV = (
    '<nav aria-label="Main"><a href="/chat">Chat</a><a href="/timeline">Timeline</a><a href="/search">Search</a>'
    '<a href="/memories">Memories</a><a href="/daily">Daily logs</a><a href="/tokens">Access tokens</a>'
    '<a href="/settings" aria-current="page">Settings</a><a href="/connections">Accounts</a></nav>'
)


def document(title: str, body: str) -> str:
    """A whole page around ``body`` (HTML the caller has escaped)."""
    return _PAGE.format(title=escape(title), style=STYLE, body=body)


def message_page(title: str, message: str) -> str:
    """A page with one sentence (a refused link, an ended session)."""
    return document(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>")


def moving_on_page(target: str) -> str:
    """The page the link answers with: it moves on to ``target`` at once (a meta refresh, no JavaScript)."""
    url = escape(target, quote=True)
    return _PAGE.format(
        title="Opening your settings…",
        style=STYLE,
        body=f'<h1>Opening your settings…</h1><p><a href="{url}">Continue to your settings</a></p>',
    ).replace("<title>", f'<meta http-equiv="refresh" content="0;url={url}"><title>', 1)


def open_link_page(action: str, csrf: str, assistant: str) -> str:
    """What the settings link shows first: a button, so a link-preview crawler's GET spends nothing."""
    body = (
        f"<h1>Open your settings</h1><p class=lead>{escape(assistant)}</p>"
        "<p>This link works once. Press the button to open your settings page in this browser.</p>"
        f'<form method="post" action="{escape(action, quote=True)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf, quote=True)}">'
        '<button type="submit">Open my settings</button></form>'
    )
    return document("Open your settings", body)


def _notes(saved: list[str], errors: list[str]) -> str:
    if errors:
        items = "".join(f"<li>{escape(e)}</li>" for e in errors)
        return f'<div class="note bad" role="alert"><strong>Nothing was saved.</strong><ul>{items}</ul></div>'
    if saved:
        items = "".join(f"<li>{escape(s)}</li>" for s in saved)
        return f'<div class="note ok" role="status"><strong>Saved.</strong><ul>{items}</ul></div>'
    return ""


def _input(row: FormRow, value: str) -> str:
    """A field's label and input: a select when it has choices, else a text input (refilled with ``value``)."""
    name = escape(row.name, quote=True)
    hint = f' <span class="hint">{escape(row.hint)}</span>' if row.hint else ""
    label = f'<label for="{name}">{escape(row.label)}{hint}</label>'
    if row.choices:
        options = "".join(
            f'<option value="{escape(v, quote=True)}"{" selected" if v == value else ""}>{escape(shown)}</option>'
            for v, shown in row.choices
        )
        return f'{label}<select id="{name}" name="{name}">{options}</select>'
    placeholder = f' placeholder="{escape(row.placeholder, quote=True)}"' if row.placeholder else ""
    required = " required" if row.required else ""
    return (
        f'{label}<input type="text" id="{name}" name="{name}" maxlength="{row.max_length}" autocomplete="off"'
        f'{placeholder}{required} value="{escape(value, quote=True)}">'
    )


def settings_page(
    view: AccountView,
    *,
    csrf: str,
    assistant: str,
    saved: list[str] | None = None,
    errors: list[str] | None = None,
    typed: dict[str, str] | None = None,
    notice: str = "",
    in_app: bool = False,
) -> str:
    """The page: the person's details, then the form of the registry's fields (``typed`` refills it after an
    error). ``in_app``: opened with the web app's session, so it shows the app's navigation to go back."""
    typed = typed or {}
    accounts = (
        "<ul class=accounts>"
        + "".join(f"<li>{escape(p.capitalize())} <span class=hint>({escape(w)})</span></li>" for p, w in view.accounts)
        + "</ul>"
        if view.accounts
        else "none"
    )
    details = (
        "<dl>"
        f"<dt>Email</dt><dd>{escape(view.email or 'none (not signed in with Google)')}</dd>"
        f"<dt>Accounts</dt><dd>{accounts}</dd>"
        f"<dt>Google</dt><dd>{escape(view.google)}</dd>"
        + "".join(f"<dt>{escape(row.label)}</dt><dd>{escape(row.current)}</dd>" for row in view.settings)
        + "</dl>"
    )
    form = (
        '<form method="post" action="/settings">'
        f'<input type="hidden" name="csrf" value="{escape(csrf, quote=True)}">'
        + "".join(_input(row, typed.get(row.name, row.value)) for row in view.settings)
        + '<button type="submit">Save</button></form>'
    )
    footer = (
        "You are signed in to the web app; these are its settings."
        if in_app
        else "This page works for 30 minutes. Ask for a new link with /account in the chat."
    )
    body = (
        (APP_NAV if in_app else "")
        + f"<h1>Your settings</h1><p class=lead>{escape(assistant)}</p>"
        + (f'<div class="note ok" role="status">{escape(notice)}</div>' if notice else "")
        + _notes(saved or [], errors or [])
        + f"<h2>About you</h2>{details}<h2>Change</h2>{form}"
        + '<form method="post" action="/settings/signout">'
        + f'<input type="hidden" name="csrf" value="{escape(csrf, quote=True)}">'
        + '<button type="submit" id="signout">Sign out</button></form>'
        + f"<footer>{footer}</footer>"
    )
    return document("Your settings", body)
