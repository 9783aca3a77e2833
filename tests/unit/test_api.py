"""The HTTP API in-process (FastAPI's TestClient) with a real, small scikit-learn model.

No service runs here: Kafka and PostgreSQL point at closed ports, so the tests also show
what the API answers when they are down (503, JSON, no traceback).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression

from models.pipeline import build_baseline
from models.serving import LoadedModel, ModelHolder
from serve.api import create_app
from serve.ingest import validate
from tweetstream.schemas import MAX_TEXT_CHARS
from tweetstream.settings import Settings

MAX_BATCH = 10
DISASTER = [
    "forest fire near the town, families evacuated",
    "massive earthquake kills dozens, buildings collapsed",
    "flood warning, river burst its banks, homes evacuated",
    "wildfire spreading fast, firefighters evacuate residents",
]
CALM = [
    "i love this song so much, great music",
    "lunch with friends was lovely today",
    "new phone arrived, happy with the camera",
    "watching a movie tonight with my sister",
]


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        kafka_bootstrap=f"127.0.0.1:{closed_port()}",
        pg_port=closed_port(),
        mlflow_tracking_uri=f"http://127.0.0.1:{closed_port()}",
        model_name="unit-model",
        api_max_batch=MAX_BATCH,
        api_max_latest=100,
    )


@pytest.fixture(scope="module")
def model() -> LoadedModel:
    texts = (DISASTER + CALM) * 3
    y = np.array(([1] * len(DISASTER) + [0] * len(CALM)) * 3)
    pipeline = build_baseline().fit(pd.DataFrame({"text": texts, "keyword": ""}), y)
    return LoadedModel("unit-model", "7", pipeline)


def client_for(settings: Settings, model: LoadedModel | None, **kwargs: Any) -> TestClient:
    holder = ModelHolder(settings)
    holder.current = model
    app = create_app(settings, holder, hot_reload=False, **kwargs)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(settings: Settings, model: LoadedModel) -> Iterator[TestClient]:
    with client_for(settings, model) as c:
        yield c


def assert_clean_error(response: Any, status: int) -> Any:
    """JSON ``{"detail": ...}`` with the status, and nothing that looks like a traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"detail"}
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    return body["detail"]


# --- /classify ---------------------------------------------------------------------------


def test_classify_one_text(client: TestClient) -> None:
    r = client.post("/classify", json={"text": "earthquake kills dozens, town evacuated"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_name"] == "unit-model" and body["model_version"] == "7"
    [result] = body["results"]
    assert result["label"] == 1 and result["label_name"] == "disaster"
    assert 0.5 <= result["probability"] <= 1.0


def test_classify_batch_keeps_order(client: TestClient) -> None:
    tweets = [{"text": t} for t in (CALM[0], DISASTER[0], CALM[1], DISASTER[1])]
    tweets[1]["keyword"] = "wildfire"
    r = client.post("/classify", json={"tweets": tweets})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["label"] for x in results] == [0, 1, 0, 1]
    assert [x["label_name"] for x in results] == ["not disaster", "disaster"] * 2
    assert all(0.0 <= x["probability"] <= 1.0 for x in results)


def test_classify_accepts_the_longest_text(client: TestClient) -> None:
    r = client.post("/classify", json={"text": "fire " * (MAX_TEXT_CHARS // 5)})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "body",
    [
        {"text": ""},
        {"text": "   \n\t "},
        {"text": "x" * (MAX_TEXT_CHARS + 1)},
        {"tweets": []},
        {"tweets": [{"text": "ok"}] * (MAX_BATCH + 1)},
        {"tweets": [{"text": "ok"}, {"text": ""}]},
        {"tweets": [{"text": "x" * (MAX_TEXT_CHARS + 1)}]},
        {"text": "both", "tweets": [{"text": "at once"}]},
        {},
        {"text": 42},
        {"text": "ok", "unknown": 1},
        {"text": "ok", "keyword": "k" * 201},
        [{"text": "a list is not a request"}],
    ],
    ids=[
        "empty",
        "blank",
        "too-long",
        "empty-batch",
        "batch-too-big",
        "empty-in-batch",
        "too-long-in-batch",
        "text-and-batch",
        "nothing",
        "not-a-string",
        "unknown-field",
        "keyword-too-long",
        "a-list",
    ],
)
def test_classify_rejects_invalid_requests(client: TestClient, body: Any) -> None:
    detail = assert_clean_error(client.post("/classify", json=body), 422)
    assert isinstance(detail, list) and detail
    assert all({"loc", "msg", "type"} <= set(d) for d in detail)


def test_bad_json_is_422_without_traceback(client: TestClient) -> None:
    for path in ("/classify", "/explain"):
        r = client.post(
            path, content=b'{"text": "unterminated', headers={"content-type": "application/json"}
        )
        detail = assert_clean_error(r, 422)
        assert detail[0]["type"] == "json_invalid"


def test_validation_errors_do_not_echo_the_input(client: TestClient) -> None:
    secret = "x" * (MAX_TEXT_CHARS + 1)
    r = client.post("/classify", json={"text": secret})
    assert secret not in r.text


def test_no_model_yet_is_503(settings: Settings) -> None:
    with client_for(settings, None) as c:
        detail = assert_clean_error(c.post("/classify", json={"text": "fire"}), 503)
        assert "no model loaded" in detail
        assert c.get("/model").json() == {"model_name": "unit-model", "model_version": None}


def test_a_model_that_fails_is_500_without_traceback(settings: Settings) -> None:
    # a real sklearn model, fitted on numbers: it cannot take a frame of texts
    broken = LoadedModel("unit-model", "8", LogisticRegression().fit([[0.0], [1.0]], [0, 1]))
    with client_for(settings, broken) as c:
        detail = assert_clean_error(c.post("/classify", json={"text": "fire"}), 500)
        assert detail == "internal server error"


# --- /explain, /model ----------------------------------------------------------------------


def test_explain_names_the_words(client: TestClient) -> None:
    r = client.post("/explain", json={"text": "forest fire, families evacuated", "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["label"] == 1 and body["model_version"] == "7"
    assert 1 <= len(body["towards"]) <= 3
    assert {"fire", "evacuated", "forest", "families"} & {t["term"] for t in body["towards"]}
    assert all(t["contribution"] > 0 for t in body["towards"])
    assert all(t["contribution"] < 0 for t in body["against"])


def test_model_endpoint(client: TestClient) -> None:
    assert client.get("/model").json() == {"model_name": "unit-model", "model_version": "7"}


# --- /tweets ----------------------------------------------------------------------------


def test_invalid_tweets_are_422_with_a_reason_each_and_nothing_is_sent(
    client: TestClient,
) -> None:
    tweets = [
        {"id": "ok-1", "text": "fine"},
        {"id": "empty", "text": "  "},
        {"text": "no id"},
        {"id": "nul", "text": "a\u0000b"},
        "not an object",
    ]
    # Kafka is down: had anything been sent, the answer would be 503, not 422
    detail = assert_clean_error(client.post("/tweets", json=tweets), 422)
    assert [d["index"] for d in detail] == [1, 2, 3, 4]
    reasons = {d["index"]: d["reason"] for d in detail}
    assert reasons[1] == "text: is empty"
    assert reasons[2] == "id: missing"
    assert "NUL" in reasons[3]
    assert "not a JSON object" in reasons[4]
    assert detail[0]["id"] == "empty"


@pytest.mark.parametrize(
    "content",
    [
        b"{nope",
        b"[]",
        json.dumps([{"id": str(i), "text": "x"} for i in range(MAX_BATCH + 1)]),
        b"[" * 10_000,  # json.loads would raise RecursionError
        b'{"id": ' + b"1" * 5_000 + b', "text": "x"}',  # ... and ValueError (int digits)
        b'{"id": "1", "text": "x", "produced_at": NaN}',
        '{"id": "1", "text": "x"}'.encode("utf-16"),
    ],
    ids=["bad-json", "empty-list", "too-many", "deep", "huge-number", "nan", "utf-16"],
)
def test_bad_tweet_bodies_are_422(client: TestClient, content: bytes | str) -> None:
    r = client.post("/tweets", content=content, headers={"content-type": "application/json"})
    detail = assert_clean_error(r, 422)
    assert detail[0]["index"] is None


def test_kafka_down_is_503_without_traceback(client: TestClient) -> None:
    r = client.post("/tweets", json={"id": "1", "text": "forest fire"})
    detail = assert_clean_error(r, 503)
    assert "cannot reach Kafka" in detail


# --- /tweets/latest, /tweets/stats ---------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=abc", "label=2", "label=x"], ids=str
)
def test_latest_bounds(client: TestClient, query: str) -> None:
    assert_clean_error(client.get(f"/tweets/latest?{query}"), 422)


def test_postgres_down_is_503(client: TestClient) -> None:
    for path in ("/tweets/latest?label=1&limit=5", "/tweets/stats"):
        detail = assert_clean_error(client.get(path), 503)
        assert "cannot reach PostgreSQL" in detail


# --- operations ----------------------------------------------------------------------------


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"detail": "alive"}


def test_readyz_names_what_is_down(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not ready"
    assert body["detail"] == "not ready: kafka, postgres"
    assert body["checks"]["model"] == {"ok": True, "detail": "unit-model version 7"}
    assert body["checks"]["kafka"]["ok"] is False
    assert body["checks"]["postgres"]["ok"] is False


def test_metrics_count_requests_by_route(client: TestClient) -> None:
    client.post("/classify", json={"tweets": [{"text": "fire"}, {"text": "song"}]})
    client.post("/classify", json={"text": ""})
    client.get("/no/such/path")
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'tweetstream_api_requests_total{method="POST",route="/classify",status="200"}' in text
    assert 'tweetstream_api_requests_total{method="POST",route="/classify",status="422"}' in text
    assert 'route="unmatched",status="404"' in text
    assert "tweetstream_api_classified_total 2.0" in text
    assert "tweetstream_api_model_version 7.0" in text
    assert "tweetstream_api_request_seconds_bucket" in text


def test_unknown_paths_and_methods_are_json(client: TestClient) -> None:
    assert assert_clean_error(client.get("/nope"), 404) == "Not Found"
    assert assert_clean_error(client.delete("/classify"), 405) == "Method Not Allowed"


# --- the spec and the page ------------------------------------------------------------------


def test_openapi_spec_documents_the_bounds(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/classify", "/explain", "/tweets", "/tweets/latest", "/healthz", "/readyz"} <= set(
        spec["paths"]
    )
    schemas = spec["components"]["schemas"]
    batch = schemas["ClassifyRequest"]["properties"]["tweets"]["anyOf"][0]
    assert batch["maxItems"] == MAX_BATCH
    assert schemas["TextIn"]["properties"]["text"]["maxLength"] == MAX_TEXT_CHARS
    body = spec["paths"]["/tweets"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["anyOf"][1]["maxItems"] == MAX_BATCH
    limit = next(
        p for p in spec["paths"]["/tweets/latest"]["get"]["parameters"] if p["name"] == "limit"
    )
    assert limit["schema"]["maximum"] == 100


def test_ui_page_is_self_contained(settings: Settings, model: LoadedModel) -> None:
    with client_for(settings, model, ui=True) as c:
        r = c.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    for element in ('id="text"', 'id="classify"', 'id="label"', 'id="latest"', 'id="share"'):
        assert element in page
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    assert "__" + "REFRESH_MS__" not in page  # every placeholder filled in


def test_api_without_ui_has_no_page(client: TestClient) -> None:
    assert client.get("/").status_code == 404


def test_tweet_times_are_sent_in_utc() -> None:
    # PostgreSQL's timestamptz refuses offsets beyond +-15:59 (ISO allows +-23:59): the worker
    # would retry such a row forever, so the API sends UTC only
    good, bad = validate(
        [
            {"id": "a", "text": "x", "produced_at": "0024-08-25T18:14:25-16:20"},
            {"id": "b", "text": "x", "produced_at": "2024-01-01T00:00:00"},
            {"id": "c", "text": "x", "produced_at": "9999-12-31T23:59:59-05:00"},
            {"id": "d", "text": "x"},
        ]
    )
    assert [t.produced_at.utcoffset() for t in good if t.produced_at] == [timedelta(0)] * 3
    assert good[0].produced_at == datetime(24, 8, 26, 10, 34, 25, tzinfo=UTC)
    assert good[1].produced_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert [(b.index, b.reason) for b in bad] == [(2, "produced_at: out of range")]
