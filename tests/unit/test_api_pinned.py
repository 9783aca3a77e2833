"""The API's answers pinned byte for byte: status, content type and body of a few requests,
and the whole OpenAPI spec (``pinned/openapi.json``).

These are what clients (and the schemathesis run) depend on; a refactoring of ``serve/`` must
not change a byte of them. If a change to the API is intended, update the pins with it: the
spec is ``client.get("/openapi.json").content`` with the settings below.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from models.pipeline import build_baseline
from models.serving import LoadedModel, ModelHolder
from serve.api import create_app
from tweetstream.settings import Settings

PINNED = Path(__file__).parent / "pinned"
JSON = "application/json"


@pytest.fixture(scope="module")
def settings() -> Settings:
    # fixed values: some of them appear in the answers (the 413 limit, the 503 detail)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        kafka_bootstrap="127.0.0.1:9",
        pg_port=9,
        mlflow_tracking_uri="http://127.0.0.1:9",
        model_name="unit-model",
        api_max_batch=10,
        api_max_latest=100,
    )


def _client(settings: Settings, model: LoadedModel | None) -> TestClient:
    holder = ModelHolder(settings)
    holder.current = model
    return TestClient(create_app(settings, holder, hot_reload=False), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    texts = ["forest fire, families evacuated", "i love this song"] * 3
    pipeline = build_baseline().fit(pd.DataFrame({"text": texts}), np.array([1, 0] * 3))
    with _client(settings, LoadedModel("unit-model", "7", pipeline)) as c:
        yield c


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "expected"),
    [
        ("GET", "/healthz", None, 200, b'{"detail":"alive"}'),
        ("GET", "/model", None, 200, b'{"model_name":"unit-model","model_version":"7"}'),
        ("GET", "/nope", None, 404, b'{"detail":"Not Found"}'),
        ("GET", "/", None, 404, b'{"detail":"Not Found"}'),
        ("DELETE", "/classify", None, 405, b'{"detail":"Method Not Allowed"}'),
        (
            "POST",
            "/classify",
            {"text": ""},
            422,
            b'{"detail":[{"loc":["body","text"],"msg":"String should have at least 1 character",'
            b'"type":"string_too_short"}]}',
        ),
        (
            "POST",
            "/explain",
            {"text": "  "},
            422,
            b'{"detail":[{"loc":["body","text"],"msg":"Value error, is empty",'
            b'"type":"value_error"}]}',
        ),
        (
            "POST",
            "/tweets",
            [{"id": "a", "text": "fine"}, {"id": "b", "text": " "}, "x"],
            422,
            b'{"detail":[{"index":1,"id":"b","reason":"text: is empty"},'
            b'{"index":2,"id":null,"reason":"not a JSON object but str"}]}',
        ),
        (
            "POST",
            "/tweets",
            [],
            422,
            b'{"detail":[{"index":null,"id":null,"reason":"give 1 to 10 tweets, not 0"}]}',
        ),
        (
            "GET",
            "/tweets/latest?limit=0",
            None,
            422,
            b'{"detail":[{"loc":["query","limit"],"msg":"Input should be greater than or equal '
            b'to 1","type":"greater_than_equal"}]}',
        ),
    ],
    ids=str,
)
def test_answers_are_pinned(
    client: TestClient, method: str, path: str, body: object, status: int, expected: bytes
) -> None:
    r = (
        client.request(method, path, json=body)
        if body is not None
        else client.request(method, path)
    )
    assert (r.status_code, r.headers["content-type"], r.content) == (status, JSON, expected)
    assert r.headers["content-length"] == str(len(expected))


def test_method_not_allowed_names_the_allowed_method(client: TestClient) -> None:
    assert client.delete("/classify").headers["allow"] == "POST"


def test_too_large_a_body_is_413(client: TestClient) -> None:
    r = client.post("/tweets", content=b"x" * 200_000, headers={"content-type": JSON})
    assert (r.status_code, r.content) == (413, b'{"detail":"body larger than 100480 bytes"}')


def test_no_model_yet_is_503(settings: Settings) -> None:
    with _client(settings, None) as c:
        r = c.post("/classify", json={"text": "fire"})
    assert (r.status_code, r.content) == (
        503,
        b'{"detail":"no model loaded yet: waiting for unit-model@champion '
        b'from http://127.0.0.1:9"}',
    )


def test_openapi_spec_is_pinned(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == JSON
    assert r.content == (PINNED / "openapi.json").read_bytes().removesuffix(b"\n")
