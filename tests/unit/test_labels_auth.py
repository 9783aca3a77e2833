"""Who may label and what a label body must be: tokens, reviewer names, ``POST /labels``
validation (with hypothesis), and the 401s, without services (requests refused before any
service is asked; a valid one gets 503 because PostgreSQL is not there)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import SecretStr

from models.serving import ModelHolder
from serve.api import create_app
from serve.auth import Auth, load_tokens, match
from serve.labelling import BYTES_PER_LABEL, Refusal, parse_labels_body
from tweetstream.errors import ConfigError
from tweetstream.schemas import REVIEWER_RE, TrueLabel, parse_label
from tweetstream.settings import Settings, child_env

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
TOKEN_A = "ana-token-0123456789abcdef"
TOKEN_B = "bob-token-0123456789abcdef"


def offline(**overrides: Any) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        kafka_bootstrap="127.0.0.1:9",
        pg_port=9,
        mlflow_tracking_uri="http://127.0.0.1:9",
        api_max_batch=10,
        **overrides,
    )


def client(settings: Settings) -> TestClient:
    holder = ModelHolder(settings)
    holder.current = None
    app = create_app(settings, holder, hot_reload=False)
    return TestClient(app, raise_server_exceptions=False)


# --- tokens ------------------------------------------------------------------------------


def test_tokens_are_secret_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    s = offline(api_tokens={"ana": TOKEN_A})
    assert TOKEN_A not in repr(s) and TOKEN_A not in str(s.model_dump())
    assert isinstance(s.api_tokens["ana"], SecretStr)
    # a child process gets them back (it builds the same settings), as JSON
    env = child_env(s, {})
    assert json.loads(env["TWEETSTREAM_API_TOKENS"]) == {"ana": TOKEN_A}
    with caplog.at_level(logging.DEBUG), client(s) as c:
        c.post("/labels", json={"id": "1", "target": 1}, headers={"Authorization": "Bearer x"})
        c.post("/labels", json={"id": "1", "target": 1}, headers=bearer(TOKEN_A))
    assert TOKEN_A not in caplog.text


def test_tokens_from_env_and_file_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = tmp_path / "tokens.json"
    secrets.write_text(json.dumps({"bob": TOKEN_B}))
    monkeypatch.setenv("TWEETSTREAM_API_TOKENS", json.dumps({"ana": TOKEN_A}))
    monkeypatch.setenv("TWEETSTREAM_API_TOKENS_FILE", str(secrets))
    tokens = load_tokens(Settings(_env_file=None))  # type: ignore[call-arg]
    assert {k: v.get_secret_value() for k, v in tokens.items()} == {"ana": TOKEN_A, "bob": TOKEN_B}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('["not", "an", "object"]', "must be a JSON object"),
        ("{not json", "is not JSON"),
        ('{"ana": "short"}', "at least 16 characters"),
        ('{"bad name!": "0123456789abcdef0123"}', "reviewer name"),
        ('{"ana": 12345678901234567890}', "must be a string"),
    ],
)
def test_bad_token_files_say_what_is_wrong_without_the_secret(
    tmp_path: Path, content: str, expected: str
) -> None:
    secrets = tmp_path / "tokens.json"
    secrets.write_text(content)
    with pytest.raises(ConfigError, match=expected) as err:
        load_tokens(offline(api_tokens_file=secrets))
    assert "short" not in str(err.value) and "0123456789" not in str(err.value)


def test_a_missing_token_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        Auth(offline(api_tokens_file=tmp_path / "absent.json"))


def test_match_finds_the_reviewer_and_nothing_else() -> None:
    tokens = {"ana": SecretStr(TOKEN_A), "bob": SecretStr(TOKEN_B)}
    assert match(tokens, TOKEN_A) == "ana" and match(tokens, TOKEN_B) == "bob"
    for wrong in ("", TOKEN_A[:-1], TOKEN_A + "x", TOKEN_A.upper(), "\ud800", TOKEN_B[::-1]):
        assert match(tokens, wrong) is None


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_writes_need_a_valid_token_when_tokens_are_set() -> None:
    with client(offline(api_tokens={"ana": TOKEN_A})) as c:
        for path, body in (
            ("/tweets", {"id": "1", "text": "fire"}),
            ("/labels", {"id": "1", "target": 1}),
        ):
            for headers in ({}, bearer("wrong-token-0123456789"), {"Authorization": TOKEN_A}):
                r = c.post(path, json=body, headers=headers)
                assert r.status_code == 401, (path, headers, r.text)
                assert r.headers["www-authenticate"] == "Bearer"
                assert TOKEN_A not in r.text
            # with the token the request gets past authentication (and finds no Kafka / PG)
            assert c.post(path, json=body, headers=bearer(TOKEN_A)).status_code == 503
        # reads stay open by default
        assert c.get("/review").status_code == 503  # no PostgreSQL here, but not 401


def test_reads_need_a_token_when_the_setting_says_so() -> None:
    s = offline(api_tokens={"ana": TOKEN_A}, api_reads_need_token=True)
    with client(s) as c:
        assert c.get("/review").status_code == 401
        assert c.get("/tweets/latest").status_code == 401
        assert c.get("/review", headers=bearer(TOKEN_A)).status_code == 503
        assert c.get("/healthz").status_code == 200  # probes stay open


def test_the_ui_pages_and_land_cells_stay_open_when_reads_need_a_token() -> None:
    s = offline(api_tokens={"ana": TOKEN_A}, api_reads_need_token=True)
    holder = ModelHolder(s)
    holder.current = None
    app = create_app(s, holder, hot_reload=False, ui=True)
    with TestClient(app, raise_server_exceptions=False) as c:
        for page in ("/", "/review.html", "/now.html"):
            r = c.get(page)
            assert r.status_code == 200 and r.text.startswith("<!doctype html>"), page
            assert "__REFRESH" not in r.text and "__MAX_TEXT" not in r.text
        land = c.get("/now/land.json")
        assert land.status_code == 200 and land.json()["cell"] == 2
        cells = land.json()["cells"]
        assert 1000 < len(cells) < 5000  # a silhouette, not a data dump
        assert all(
            -90 <= la <= 88 and -180 <= lo <= 178 and la % 2 == lo % 2 == 0 for la, lo in cells
        )
        assert [40, -88] in cells  # Chicago (41.85, -87.65) is in the cell [40, 42) x [-88, -86)
        assert c.get("/stories").status_code == 401  # the data still needs the token
        assert c.get("/alerts").status_code == 401
        assert c.get("/places", headers=bearer(TOKEN_A)).status_code == 503  # no PostgreSQL


def test_without_tokens_nothing_needs_one_and_the_body_names_the_reviewer() -> None:
    with client(offline()) as c:
        r = c.post("/labels", json={"id": "1", "target": 1})
        assert r.status_code == 422 and "reviewer is required" in r.text
        r = c.post("/labels", json={"id": "1", "target": 1, "reviewer": "ana"})
        assert r.status_code == 503  # valid: it asks PostgreSQL whether tweet 1 exists


# --- label bodies -------------------------------------------------------------------------


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"id": "1", "target": 2}, "target must be 0"),
        ({"id": "1", "target": "1"}, "target must be 0"),
        ({"id": "1", "target": True}, "target must be 0"),
        ({"id": "1"}, "target must be 0"),
        ({"target": 1}, "id"),
        ({"id": "", "target": 1}, "id"),
        ({"id": "x" * 65, "target": 1}, "at most 64"),
        ({"id": 1.5, "target": 1}, "string or an integer"),
        ({"id": "1", "target": 1, "colour": "red"}, "unknown field"),
        ({"id": "1", "target": 1, "reviewer": ""}, "reviewer"),
        ({"id": "1", "target": 1, "reviewer": "a" * 65}, "reviewer"),
        ({"id": "1", "target": 1, "reviewer": "ana smith"}, "reviewer"),
        ({"id": "1", "target": 1, "reviewer": "<script>"}, "reviewer"),
        ({"id": "1", "target": 1, "reviewer": 7}, "reviewer"),
        ({"id": "1\x00", "target": 1, "reviewer": "ana"}, "NUL"),
        ([], "give 1 to 10 labels"),
        ([{"id": str(i), "target": 1, "reviewer": "ana"} for i in range(11)], "give 1 to 10"),
        ([{"id": "1", "target": 1, "reviewer": "a"}] * 2, "the same id twice"),
        ("just a string", "not a JSON object"),
    ],
)
def test_bad_label_bodies_are_refused_with_a_reason(value: Any, reason: str) -> None:
    got = parse_labels_body(body(value), 10, None, NOW)
    assert isinstance(got, Refusal) and got.status == 422, got
    assert any(reason in r for _, _, r in got.reasons), got.reasons


def test_oversized_and_broken_bodies() -> None:
    huge = parse_labels_body(b" " * (10 * BYTES_PER_LABEL + 1), 10, None, NOW)
    assert isinstance(huge, Refusal) and huge.status == 413
    for broken in (b"{", b"\xff\xfe", b"NaN", b'{"id": 1e999, "target": 1}'):
        got = parse_labels_body(broken, 10, "ana", NOW)
        assert isinstance(got, Refusal) and got.status == 422


def test_the_token_names_the_reviewer_not_the_body() -> None:
    ok = parse_labels_body(
        body([{"id": 7, "target": 0}, {"id": "8", "target": 1, "reviewer": "ana"}]), 10, "ana", NOW
    )
    assert ok == [
        TrueLabel(id="7", target=0, reviewer="ana", labeled_at=NOW),
        TrueLabel(id="8", target=1, reviewer="ana", labeled_at=NOW),
    ]
    other = parse_labels_body(body({"id": "8", "target": 1, "reviewer": "bob"}), 10, "ana", NOW)
    assert isinstance(other, Refusal) and "differs from the token" in other.reasons[0][2]


NAMES = st.from_regex(REVIEWER_RE, fullmatch=True)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@hsettings(max_examples=300, deadline=None)
@given(
    st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {"id": st.one_of(st.text(max_size=70), st.integers()), "target": JSON_VALUES},
            optional={"reviewer": st.one_of(st.text(max_size=70), NAMES, JSON_VALUES)},
        ),
    ),
    st.one_of(st.none(), NAMES),
)
def test_any_body_is_labels_or_a_refusal_never_an_exception(value: Any, token: str | None) -> None:
    got = parse_labels_body(body(value), 10, token, NOW)
    if isinstance(got, Refusal):
        assert got.status in (413, 422) and got.reasons
        return
    for label in got:  # what is accepted is what the labels agent will accept
        assert parse_label(label.to_bytes()) == label
        assert label.reviewer is not None and REVIEWER_RE.fullmatch(label.reviewer)
        assert token is None or label.reviewer == token
        assert label.target in (0, 1) and label.labeled_at == NOW


@hsettings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_reviewer_names_are_exactly_the_pattern(name: str) -> None:
    accepted = isinstance(
        parse_labels_body(body({"id": "1", "target": 1, "reviewer": name}), 10, None, NOW), list
    )
    assert accepted == bool(REVIEWER_RE.fullmatch(name))
    assert accepted <= (0 < len(name) <= 64 and name.isascii() and " " not in name)


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_token_settings_mean_no_authentication(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWEETSTREAM_API_TOKENS", value)
    monkeypatch.setenv("TWEETSTREAM_API_TOKENS_FILE", value)
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.api_tokens == {} and s.api_tokens_file is None
    assert not Auth(s).enabled


@pytest.mark.parametrize("value", ["not-json-" + TOKEN_A, '["' + TOKEN_A + '"]'])
def test_a_bad_token_setting_is_refused_without_echoing_it(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("TWEETSTREAM_API_TOKENS", value)
    with pytest.raises(ValidationError) as err:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert "api_tokens" in str(err.value) and TOKEN_A not in str(err.value)
