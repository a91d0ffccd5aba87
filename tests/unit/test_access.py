"""The allowlist: each part of an entry matched on its own, only ``*`` a wildcard, dead entries reported."""

from __future__ import annotations

import pytest

from core.access import AccessPolicy, pattern_warnings
from core.types import PlatformIdentity


def account(key: str) -> PlatformIdentity:
    platform, workspace, user_id = key.split(":", 2)
    return PlatformIdentity(platform, workspace, user_id)


def allowed(patterns: list[str], keys: list[str]) -> list[str]:
    policy = AccessPolicy(patterns)
    return [key for key in keys if policy.allows(account(key))]


@pytest.mark.parametrize(
    ("patterns", "let_in", "kept_out"),
    [
        # a star stays inside its own part: it cannot swallow the workspace and the user together
        (["slack:T01*"], ["slack:T01:U1", "slack:T01X:U1"], ["slack:T02:U1"]),
        (["slack:*:U1"], ["slack:T01:U1", "slack:T99:U1"], ["slack:T01:U2", "slack:T01:X:U1", "slack:T01:U1X"]),
        (["slack:T01:U*"], ["slack:T01:U1", "slack:T01:UABC"], ["slack:T01X:U1", "slack:T02:U1"]),
        (["*:T01:*"], ["slack:T01:U1", "discord:T01:5"], ["slack:T011:U1"]),
        (["slack:T*1:U1"], ["slack:T01:U1", "slack:T1:U1"], ["slack:T01:X:U1"]),
        (["discord:g1*"], ["discord:g1:7", "discord:g12:7"], ["discord:x:g1:7"]),
        # ? and [ ] are ordinary characters
        (["slack:T0?:U1"], ["slack:T0?:U1"], ["slack:T01:U1", "slack:T02:U1"]),
        (["slack:T01:U[12]"], ["slack:T01:U[12]"], ["slack:T01:U1", "slack:T01:U2"]),
        # an empty part is a typo, not a wildcard
        (["slack::U1"], [], ["slack:T01:U1", "slack::U1"]),
        (["slack:T01:"], [], ["slack:T01:U1"]),
    ],
)
def test_each_part_is_matched_on_its_own(patterns: list[str], let_in: list[str], kept_out: list[str]) -> None:
    assert allowed(patterns, let_in) == let_in
    assert allowed(patterns, kept_out) == []


@pytest.mark.parametrize(
    ("patterns", "let_in", "kept_out"),
    [
        (["terminal"], ["terminal:local:ada"], ["discord:g1:1"]),
        (["terminal:*"], ["terminal:local:ada", "terminal:other:bob"], ["slack:T1:U1"]),
        (
            ["discord:*:123456"],
            ["discord:guild-a:123456", "discord:@me:123456"],
            ["discord:g:654321", "slack:T1:123456"],
        ),
        (["slack:T01"], ["slack:T01:U1", "slack:T01:U2"], ["slack:T02:U1"]),
        ([" slack : T01 : U1 "], ["slack:T01:U1"], ["slack:T01:U2"]),
        (["matrix:hs:@ada:example.org"], ["matrix:hs:@ada:example.org"], ["matrix:hs:@bob:example.org"]),
        (["*"], ["terminal:local:ada", "slack:T1:U1"], []),
        ([], [], ["terminal:local:ada"]),
        (["", "   "], [], ["terminal:local:ada"]),
    ],
)
def test_valid_patterns_keep_their_meaning(patterns: list[str], let_in: list[str], kept_out: list[str]) -> None:
    assert allowed(patterns, let_in) == let_in
    assert allowed(patterns, kept_out) == []


def test_patterns_that_can_never_match_are_reported() -> None:
    warnings = pattern_warnings(
        [
            "terminal",
            "discord:*:123",
            "slack:T01:U1",
            "*:*:ada",
            "test:w:u",
            "dis*:g:1",
            "",
            "slak:T01:U1",
            "slack::U1",
            "slack:T01:",
            "slack:T 01:U1",
            "slack:T0?:U1",
            "discord:g:[12]",
            "slack:T01:U1:U2",
            "x*:T:U",
        ]
    )

    assert warnings == [
        "allowed account 'slak:T01:U1' can never match: 'slak' is not a platform (known: discord, slack, terminal, test)",
        "allowed account 'slack::U1' can never match: its workspace part is empty",
        "allowed account 'slack:T01:' can never match: its user part is empty",
        "allowed account 'slack:T 01:U1' can never match: its workspace part contains spaces or control characters",
        "allowed account 'slack:T0?:U1' can never match: "
        "its workspace part has ? or [ which match only themselves (use * as the wildcard)",
        "allowed account 'discord:g:[12]' can never match: "
        "its user part has ? or [ which match only themselves (use * as the wildcard)",
        "allowed account 'slack:T01:U1:U2' can never match: it has more than three parts",
        "allowed account 'x*:T:U' can never match: 'x*' is not a platform (known: discord, slack, terminal, test)",
    ]


def test_the_policy_reports_its_own_dead_entries_and_other_platform_lists() -> None:
    policy = AccessPolicy(["matrix:hs:@ada:example.org", "terminal"])

    assert policy.warnings() == [
        "allowed account 'matrix:hs:@ada:example.org' can never match: "
        "'matrix' is not a platform (known: discord, slack, terminal, test)"
    ]
    assert policy.warnings(platforms=["matrix", "terminal"]) == []
