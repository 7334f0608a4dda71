"""The credentials-health duty's judgement, without processes: what debug_token's answer means
(classify, with an injected now), and what each kind of Graph API error teaches a check."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.fernet import Fernet

from postsched.clock import FixedClock
from postsched.credentials import CredentialBox
from postsched.errors import ConfigError
from postsched.lifecycle import CredentialsStatus
from postsched.settings import PublisherSettings
from postsched.store.credentials_health import DueCheck, Finding
from services.publisher.credentials_health import CredentialsHealth, classify
from services.publisher.platforms.outcomes import Permanent, PlatformError, RateLimited, Transient

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
WEEK = timedelta(days=7)
IG_SCOPES = ["instagram_basic", "instagram_content_publish", "instagram_manage_comments"]
PAGE_SCOPES = ["pages_show_list", "pages_manage_posts", "pages_manage_engagement"]


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def test_a_valid_token_that_never_expires_is_ok() -> None:
    found = classify("instagram", {"is_valid": True, "expires_at": 0, "data_access_expires_at": 0, "scopes": IG_SCOPES},
                     now=NOW, warning=WEEK)
    assert found == Finding(CredentialsStatus.OK)


def test_expiring_within_the_warning_takes_the_earlier_of_the_two_expiries() -> None:
    data_access = NOW + timedelta(days=3)
    found = classify("facebook_page", {"is_valid": True, "expires_at": unix(NOW + timedelta(days=5)),
                                       "data_access_expires_at": unix(data_access), "scopes": PAGE_SCOPES},
                     now=NOW, warning=WEEK)
    assert found == Finding(CredentialsStatus.EXPIRING, expire_at=data_access)
    # The same token a day later than the warning reaches: OK, its expiry still known.
    far = classify("facebook_page", {"is_valid": True, "expires_at": unix(NOW + timedelta(days=8))},
                   now=NOW, warning=WEEK)
    assert far == Finding(CredentialsStatus.OK, expire_at=NOW + timedelta(days=8))
    # Exactly at the warning's edge it is expiring.
    edge = classify("instagram", {"is_valid": True, "expires_at": unix(NOW + WEEK)}, now=NOW, warning=WEEK)
    assert edge.status == CredentialsStatus.EXPIRING


def test_a_token_meta_says_is_invalid_is_invalid_with_metas_message() -> None:
    found = classify("instagram", {"is_valid": False, "scopes": [], "error": {
        "code": 190, "subcode": 460, "message": "The session has been invalidated\nbecause the user changed their password."}},
        now=NOW, warning=WEEK)
    assert found.status == CredentialsStatus.INVALID
    assert found.problem == "Meta error 190: The session has been invalidated because the user changed their password."
    assert classify("instagram", {}, now=NOW, warning=WEEK).status == CredentialsStatus.INVALID  # is_valid absent


@pytest.mark.parametrize("platform, scopes, missing", [
    ("facebook_page", ["pages_show_list", "pages_manage_engagement"], "pages_manage_posts"),
    ("instagram", ["instagram_basic", "instagram_manage_comments"], "instagram_content_publish"),
])
def test_a_missing_publishing_permission_is_invalid(platform: str, scopes: list[str], missing: str) -> None:
    found = classify(platform, {"is_valid": True, "scopes": scopes}, now=NOW, warning=WEEK)
    assert found == Finding(CredentialsStatus.INVALID, problem=f"the token lacks the {missing} permission, needed to publish")


@pytest.mark.parametrize("platform, scopes, missing", [
    ("facebook_page", ["pages_manage_posts"], "pages_manage_engagement"),
    ("instagram", ["instagram_content_publish"], "instagram_manage_comments"),
])
def test_a_missing_first_comment_permission_is_a_problem_that_holds_no_post(platform: str, scopes: list[str],
                                                                              missing: str) -> None:
    problem = f"the token lacks the {missing} permission, needed for first comments"
    assert classify(platform, {"is_valid": True, "scopes": scopes}, now=NOW, warning=WEEK) == Finding(
        CredentialsStatus.OK, problem=problem)
    expiring = classify(platform, {"is_valid": True, "scopes": scopes, "expires_at": unix(NOW + timedelta(days=1))},
                        now=NOW, warning=WEEK)
    assert expiring == Finding(CredentialsStatus.EXPIRING, expire_at=NOW + timedelta(days=1), problem=problem)


def test_no_scopes_in_the_answer_judges_no_permission() -> None:
    assert classify("instagram", {"is_valid": True}, now=NOW, warning=WEEK) == Finding(CredentialsStatus.OK)


# --- one check, against a stand-in Graph client ------------------------------------------------------


class Graph:
    """Answers every call with `answer`, or raises it."""

    def __init__(self, answer: dict[str, Any] | PlatformError) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    async def call(self, method: str, path: str, *, token: str, meter: str,
                   params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.calls.append((path, token, params or {}))
        if isinstance(self.answer, PlatformError):
            raise self.answer
        return self.answer


def check_with(graph: Graph, *, app_token: str = "") -> tuple[Finding | None, bool, Graph]:
    box = CredentialBox(Fernet.generate_key())
    health = CredentialsHealth(None, graph, box, FixedClock(NOW), period=timedelta(hours=6),  # type: ignore[arg-type]
                               warning=WEEK, tick=60.0, app_token=app_token)
    due = DueCheck(uuid.uuid4(), "acme", "instagram", "1784", box.seal({"access_token": "EAAB-page"}), NOW)
    halt = asyncio.Event()
    finding = asyncio.run(health._check(due, halt))
    return finding, halt.is_set(), graph


def test_the_cheap_read_with_the_page_token_and_its_190() -> None:
    finding, halted, graph = check_with(Graph({"id": "1784"}))
    assert finding == Finding(CredentialsStatus.OK) and not halted
    assert graph.calls == [("1784", "EAAB-page", {"fields": "id"})]
    refused = Permanent("Meta error 190/460: password changed (the account needs new credentials)", needs_credentials=True)
    finding, halted, _ = check_with(Graph(refused))
    assert finding == Finding(CredentialsStatus.INVALID, problem=refused.message) and not halted


def test_debug_token_is_asked_with_the_app_token_and_a_190_on_it_is_about_the_app_token() -> None:
    finding, _, graph = check_with(Graph({"data": {"is_valid": True, "scopes": IG_SCOPES}}), app_token="1|s")
    assert finding == Finding(CredentialsStatus.OK)
    assert graph.calls == [("debug_token", "1|s", {"input_token": "EAAB-page"})]
    finding, halted, _ = check_with(Graph(Permanent("Meta error 190", needs_credentials=True)), app_token="1|s")
    assert finding is None and halted  # the accounts are not condemned for the app's token


@pytest.mark.parametrize("error, halts", [
    (Transient("HTTP 500 from the Graph API"), False),
    (Transient("no answer from the Graph API (TimeoutError)"), False),
    (RateLimited("Meta error 32", retry_after=60), False),  # the Page's own token: that Page waits, not all
    (Permanent("Meta error 100: Unsupported get request"), False),
])
def test_errors_that_say_nothing_about_the_token_teach_nothing(error: PlatformError, halts: bool) -> None:
    finding, halted, _ = check_with(Graph(error))
    assert finding is None and halted == halts


def test_a_rate_limit_on_debug_token_pauses_every_check() -> None:
    """debug_token calls are the app's: they are metered together."""
    finding, halted, _ = check_with(Graph(RateLimited("Meta error 4", retry_after=60)), app_token="1|s")
    assert finding is None and halted


class Answers(Graph):
    """A 190 for the token asked about, a good answer for the app token asked about itself."""

    async def call(self, method: str, path: str, *, token: str, meter: str,
                   params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.calls.append((path, token, params or {}))
        if (params or {}).get("input_token") == token:
            return {"data": {"is_valid": True}}
        raise Permanent("Meta error 190: Invalid OAuth access token - Cannot parse access token", needs_credentials=True)


def test_a_190_about_the_token_asked_about_marks_that_account_only() -> None:
    finding, halted, graph = check_with(Answers({}), app_token="1|s")
    assert finding is not None and finding.status == CredentialsStatus.INVALID and not halted
    assert [c[2]["input_token"] for c in graph.calls] == ["EAAB-page", "1|s"]


# --- its settings ----------------------------------------------------------------------------------

PUBLISHER = {"POSTSCHED_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/x", "POSTSCHED_NATS_URL": "nats://127.0.0.1:4222",
             "POSTSCHED_SECRET_KEY": Fernet.generate_key().decode(), "POSTSCHED_ADMIN_TOKEN": "a" * 40}


def test_settings_default_to_six_hours_and_a_week_and_off_turns_the_duty_off() -> None:
    default = PublisherSettings.from_env(PUBLISHER)
    assert (default.credentials_check_period, default.credentials_warning, default.credentials_check_tick,
            default.meta_app_token) == (timedelta(hours=6), WEEK, 60.0, "")
    chosen = PublisherSettings.from_env({**PUBLISHER, "POSTSCHED_CREDENTIALS_CHECK_PERIOD": "2h",
                                         "POSTSCHED_CREDENTIALS_WARNING": "3d", "POSTSCHED_META_APP_TOKEN": "123|s3cret"})
    assert (chosen.credentials_check_period, chosen.credentials_warning) == (timedelta(hours=2), timedelta(days=3))
    assert chosen.meta_app_token == "123|s3cret" and "s3cret" not in repr(chosen)
    for off in ("0", "off"):
        assert PublisherSettings.from_env({**PUBLISHER, "POSTSCHED_CREDENTIALS_CHECK_PERIOD": off}).credentials_check_period is None


@pytest.mark.parametrize("name, value", [
    ("POSTSCHED_CREDENTIALS_CHECK_PERIOD", "often"), ("POSTSCHED_CREDENTIALS_WARNING", "0"),
    ("POSTSCHED_CREDENTIALS_CHECK_TICK", "-1"), ("POSTSCHED_META_APP_TOKEN", "just-a-s3cret"),
    ("POSTSCHED_META_APP_TOKEN", "app|"),
])
def test_a_bad_value_names_the_variable_and_never_repeats_the_app_secret(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name) as refused:
        PublisherSettings.from_env({**PUBLISHER, name: value})
    assert "s3cret" not in str(refused.value)
