"""The Grafana dashboard as code, checked without Grafana (it does not run on our machines).

Two kinds of checks:

* structure: ``monitoring/grafana/dashboards/tweetstream-realtime.json`` is a valid dashboard
  of **schemaVersion 39** (the JSON model of Grafana 11; Grafana 12 of docker-compose.yaml
  loads it and migrates it in memory), wired to the provisioned PostgreSQL datasource;
* SQL: every panel target (and the annotation query) is expanded the way Grafana's
  PostgreSQL datasource expands its macros (:func:`expand_macros`), then run against the real
  PostgreSQL in a database filled by a short real stream (a Faust worker with stories on,
  ~680 tweets among them copies of one tweet from Chicago, 3 malformed records, 60 true
  labels, one ``tweetstream monitor --once`` run, and rows of ``alerts`` inserted as the
  burst detector writes them). Each target must return the columns its panel needs, with at
  least one row unless :data:`EXPECTED` says why the table may legitimately be empty; the
  stories, places and alerts queries must return this stream's rows (the same as
  ``GET /stories`` and ``GET /places``, the alerts in the time range and no other).

What this does not check: how Grafana renders the panels.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pytest
import yaml

from producer.publish import publish as produce
from producer.sources import LABEL_COLUMNS, SourceFormat, SourceRow, iter_rows
from serve.routers.situation import _PLACES, _STORIES
from tests.integration.streaming import (
    isolate,
    pg_count,
    pg_rows,
    publish,
    settings_env,
    tweet_records,
    wait_for,
    workers,
)
from tweetstream.clients import pg_connect
from tweetstream.settings import Settings

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "monitoring" / "grafana"
DASHBOARD_FILE = GRAFANA / "dashboards" / "tweetstream-realtime.json"
DATASOURCES_FILE = GRAFANA / "provisioning" / "datasources" / "postgres.yaml"
PROVIDERS_FILE = GRAFANA / "provisioning" / "dashboards" / "dashboards.yaml"
COMPOSE_FILE = REPO / "docker-compose.yaml"

# --- the dashboard JSON model we target ---------------------------------------------------

#: Grafana 11's dashboard JSON model; Grafana 12 (docker-compose.yaml) migrates it on load
SCHEMA_VERSION = 39
REQUIRED_KEYS = frozenset(
    {
        "uid",
        "title",
        "schemaVersion",
        "version",
        "panels",
        "time",
        "refresh",
        "timezone",
        "templating",
        "annotations",
        "editable",
        "tags",
    }
)
PANEL_KEYS = frozenset({"id", "type", "title", "gridPos", "datasource", "targets"})
PANEL_TYPES = frozenset({"stat", "timeseries", "table", "state-timeline", "geomap"})
TARGET_FORMATS = frozenset({"time_series", "table"})
GRID_COLUMNS = 24
DASHBOARD_RANGE = timedelta(minutes=15)  # "now-15m" .. "now"

# --- Grafana's PostgreSQL macros, expanded like Grafana does ------------------------------

#: the macro pattern of Grafana's pkg/tsdb/grafana-postgresql-datasource/macros.go:
#: ``$name(args)``, the arguments end at the first ``)`` (so no nested parentheses)
MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^)]*)\)")
INTERVAL = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")
INTERVAL_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class TimeRange:
    """The dashboard's time picker, as Grafana sends it to the datasource."""

    start: datetime
    end: datetime

    @classmethod
    def last(cls, span: timedelta) -> TimeRange:
        now = datetime.now(UTC)
        return cls(now - span, now)


def rfc3339nano(moment: datetime) -> str:
    """Go's ``time.RFC3339Nano`` of a UTC time: trailing zeros of the fraction dropped."""
    utc = moment.astimezone(UTC)
    fraction = f"{utc.microsecond:06d}".rstrip("0")
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def interval_seconds(text: str) -> str:
    """``'5s'`` -> ``5``, ``'1m'`` -> ``60`` (Go's ``%v`` of the interval's seconds)."""
    match = INTERVAL.match(text.strip("'"))
    if match is None:
        raise ValueError(f"error parsing interval {text}")
    seconds = int(match.group(1)) * INTERVAL_SECONDS[match.group(2)]
    return f"{seconds:g}"


def expand_macro(name: str, args: list[str], rng: TimeRange) -> str:
    """One macro, as Grafana's PostgreSQL datasource (non-TimescaleDB) expands it.

    * ``$__timeFilter(c)`` -> ``c BETWEEN '<from>' AND '<to>'`` (RFC 3339, UTC)
    * ``$__timeFrom()`` / ``$__timeTo()`` -> ``'<from>'`` / ``'<to>'``
    * ``$__timeGroup(c, '5s'[, fill])`` -> ``floor(extract(epoch from c)/5)*5`` (epoch
      seconds; the optional fill mode only tells Grafana how to fill gaps after the query)
    * ``$__timeGroupAlias(c, '5s')`` -> the same ``AS "time"``
    * ``$__unixEpochFilter(c)`` -> ``c >= <from s> AND c <= <to s>``

    Any other macro raises, as Grafana does ("unknown macro"): the dashboard may only use
    macros this test can check.
    """
    start, end = rfc3339nano(rng.start), rfc3339nano(rng.end)
    needs_column = {"__timeFilter", "__timeGroup", "__timeGroupAlias", "__unixEpochFilter"}
    if name in needs_column and not args[0]:
        raise ValueError(f"missing time column argument for macro {name}")
    if name == "__timeFilter":
        return f"{args[0]} BETWEEN '{start}' AND '{end}'"
    if name == "__timeFrom":
        return f"'{start}'"
    if name == "__timeTo":
        return f"'{end}'"
    if name in {"__timeGroup", "__timeGroupAlias"}:
        if len(args) < 2:
            raise ValueError(f"macro {name} needs time column and interval")
        step = interval_seconds(args[1])
        group = f"floor(extract(epoch from {args[0]})/{step})*{step}"
        return group + ' AS "time"' if name == "__timeGroupAlias" else group
    if name == "__unixEpochFilter":
        low, high = int(rng.start.timestamp()), int(rng.end.timestamp())
        return f"{args[0]} >= {low} AND {args[0]} <= {high}"
    raise ValueError(f"unknown macro {name!r}")


def expand_macros(sql: str, rng: TimeRange) -> str:
    """Plain PostgreSQL from a panel's ``rawSql``, for the time range ``rng``.

    Like Grafana, a ``$__timeGroup(...)`` directly followed by ``,`` is taken as the
    pre-5.3 form of ``$__timeGroupAlias`` (it then gets ``AS "time"``).
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "__timeGroup" and sql[match.end() : match.end() + 1] == ",":
            name = "__timeGroupAlias"
        args = [a.strip() for a in match.group(2).split(",")]
        return expand_macro(name, args, rng)

    return MACRO.sub(replace, sql)


def test_the_expander_writes_what_grafana_writes() -> None:
    rng = TimeRange(
        datetime(2025, 1, 2, 3, 4, 5, 120000, tzinfo=UTC),
        datetime(2025, 1, 2, 3, 19, 5, tzinfo=UTC),
    )
    assert (
        expand_macros("WHERE $__timeFilter(stored_at)", rng)
        == "WHERE stored_at BETWEEN '2025-01-02T03:04:05.12Z' AND '2025-01-02T03:19:05Z'"
    )
    assert (
        expand_macros("SELECT $__timeGroupAlias(stored_at, '5s'), 1", rng)
        == 'SELECT floor(extract(epoch from stored_at)/5)*5 AS "time", 1'
    )
    assert (
        expand_macros("to_timestamp($__timeGroup(x, '1m'))", rng)
        == "to_timestamp(floor(extract(epoch from x)/60)*60)"
    )
    assert expand_macros("$__timeGroup(x,'1m'), 2", rng).endswith('*60 AS "time", 2')
    assert expand_macros("$__timeFrom() < $__timeTo()", rng).count("'2025-01-02T03") == 2
    assert expand_macros("$__unixEpochFilter(t)", rng) == "t >= 1735787045 AND t <= 1735787945"
    with pytest.raises(ValueError, match="unknown macro"):
        expand_macros("$__nope(x)", rng)


# --- the dashboard -----------------------------------------------------------------------


def load_dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD_FILE.read_text(encoding="utf-8")))


def load_yaml(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Query:
    """One SQL query of the dashboard: a panel target or the annotation query."""

    panel: str  # the panel title, or "annotation: <name>"
    ref_id: str
    format: str
    raw_sql: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.panel, self.ref_id)


def dashboard_queries(dashboard: dict[str, Any]) -> list[Query]:
    queries = [
        Query(p["title"], t["refId"], t["format"], t["rawSql"])
        for p in dashboard["panels"]
        for t in p["targets"]
    ]
    for a in dashboard["annotations"]["list"]:
        t = a["target"]
        queries.append(Query(f"annotation: {a['name']}", t["refId"], t["format"], t["rawSql"]))
    return queries


def query_of(panel: str, ref_id: str = "A") -> Query:
    return next(q for q in dashboard_queries(load_dashboard()) if q.key == (panel, ref_id))


def overlaps(a: dict[str, int], b: dict[str, int]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def provisioned_datasource() -> dict[str, str]:
    (source,) = load_yaml(DATASOURCES_FILE)["datasources"]
    return {"type": source["type"], "uid": source["uid"]}


def test_dashboard_top_level_matches_schema_version_39() -> None:
    d = load_dashboard()
    assert set(d) >= REQUIRED_KEYS, f"missing keys: {sorted(REQUIRED_KEYS - set(d))}"
    assert d["schemaVersion"] == SCHEMA_VERSION
    assert "rows" not in d  # the pre-schema-16 layout; panels with gridPos replaced it
    assert d["uid"] == "tweetstream-realtime"
    assert d["title"] == "tweetstream — real time"
    assert d["refresh"] == "5s"
    assert "5s" in d.get("timepicker", {}).get("refresh_intervals", ["5s"])
    assert d["time"] == {"from": "now-15m", "to": "now"}
    assert isinstance(d["templating"]["list"], list)


def test_panels_have_unique_ids_and_a_grid_place_without_overlap() -> None:
    panels = load_dashboard()["panels"]
    ids = [p["id"] for p in panels]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids)
    for p in panels:
        assert set(p) >= PANEL_KEYS, f"{p.get('title')}: missing {PANEL_KEYS - set(p)}"
        assert p["type"] in PANEL_TYPES, p["type"]
        grid = p["gridPos"]
        assert all(isinstance(grid[k], int) and grid[k] >= 0 for k in ("x", "y", "w", "h"))
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= GRID_COLUMNS
    for i, a in enumerate(panels):
        for b in panels[i + 1 :]:
            assert not overlaps(a["gridPos"], b["gridPos"]), (a["title"], b["title"])


def test_every_query_is_raw_sql_on_the_provisioned_postgres_datasource() -> None:
    d = load_dashboard()
    source = provisioned_datasource()
    assert source == {"type": "grafana-postgresql-datasource", "uid": "tweetstream-pg"}
    annotations = d["annotations"]["list"]
    assert annotations, "promotions/refusals should be annotations"
    for owner in [*d["panels"], *annotations]:
        assert owner["datasource"] == source, owner.get("title", owner.get("name"))
        targets = owner["targets"] if "targets" in owner else [owner["target"]]
        assert targets and len({t["refId"] for t in targets}) == len(targets)
        for t in targets:
            assert t["datasource"] == source
            assert t["rawQuery"] is True and t["editorMode"] == "code"
            assert t["format"] in TARGET_FORMATS
            assert t["rawSql"].strip()
            if t["format"] == "time_series":  # a time series follows the time picker
                assert "$__timeFilter(" in t["rawSql"]


def test_the_dashboards_folder_is_provisioned_where_compose_mounts_it() -> None:
    (provider,) = load_yaml(PROVIDERS_FILE)["providers"]
    assert provider["type"] == "file"
    mounts = load_yaml(COMPOSE_FILE)["services"]["grafana"]["volumes"]
    targets = {m.split(":")[1] for m in mounts if m.startswith("./monitoring/grafana/dashboards:")}
    assert targets == {provider["options"]["path"]}
    assert any(
        m.startswith("./monitoring/grafana/provisioning:/etc/grafana/provisioning") for m in mounts
    )


# --- what every query must return ----------------------------------------------------------

Kind = Literal["series", "timeline", "table"]
Needs = Literal["stream", "monitor", "labels"]


@dataclass(frozen=True)
class Expect:
    """What one query must return.

    ``series``: ``time`` first (epoch seconds or timestamp, ascending), then numeric value
    columns, plus an optional ``metric`` text column (long format; Grafana pivots it).
    ``timeline``: ``time`` (a timestamp) then the state. ``table``: exactly ``columns``.
    ``needs`` says what fills the table: the stream alone, the monitor, or the monitor with
    true labels. ``empty_ok`` is why the result may legitimately have no rows here.
    """

    columns: tuple[str, ...]
    kind: Kind = "table"
    needs: Needs = "stream"
    metrics: frozenset[str] = frozenset()
    empty_ok: str = ""


SERIES_LONG = ("time", "metric", "value")
DRIFT_METRICS = frozenset(
    {f"drift.{c}.score" for c in ("text_length", "oov_share", "non_letter_share", "label")}
    | {"drift.dataset_share"}
)
TEXT_METRICS = frozenset(
    {"text.missing_share", "text.mean_length", "text.oov_share", "text.non_letter_share"}
)
QUALITY_METRICS = frozenset(
    {"quality.accuracy", "quality.precision", "quality.recall", "quality.f1"}
)
NO_EVENTS = (
    "nothing in this short stream promotes or refuses a model (the champion was promoted "
    "before the window and training writes no model_events); events appear only when the "
    "drift policy acts"
)

#: every query of the dashboard, by (panel title, refId): a new query needs an entry here
EXPECTED: dict[tuple[str, str], Expect] = {
    ("Champion version", "A"): Expect(("champion_version",)),
    ("Tweets classified", "A"): Expect(("tweets classified",)),
    ("Dead letters", "A"): Expect(("dead letters",)),
    ("Dataset drift share (last window)", "A"): Expect(("dataset_drift_share",), needs="monitor"),
    ("Tweets classified per second", "A"): Expect(("time", "tweets per second"), "series"),
    ("Disaster share", "A"): Expect(("time", "disaster share"), "series"),
    ("Disaster share", "B"): Expect(
        ("time", "disaster share (monitor window)"), "series", needs="monitor"
    ),
    ("Served model version", "A"): Expect(("time", "served version"), "timeline"),
    ("Model events", "A"): Expect(
        ("at", "kind", "model_name", "model_version", "reason", "request_id"), empty_ok=NO_EVENTS
    ),
    ("Latest disaster tweets", "A"): Expect(
        ("classified_at", "text", "probability", "model_version")
    ),
    ("Drift scores per window", "A"): Expect(
        SERIES_LONG, "series", needs="monitor", metrics=DRIFT_METRICS
    ),
    ("Text summary per window", "A"): Expect(
        SERIES_LONG, "series", needs="monitor", metrics=TEXT_METRICS
    ),
    ("Quality where labels exist", "A"): Expect(
        SERIES_LONG, "series", needs="labels", metrics=QUALITY_METRICS
    ),
    ("Monitor windows", "A"): Expect(
        (
            "window_end",
            "kind",
            "status",
            "n_tweets",
            "n_labeled",
            "model_version",
            "dataset_drift_share",
            "drifted",
            "reason",
        ),
        needs="monitor",
    ),
    ("annotation: Promotions and refusals", "Anno"): Expect(
        ("time", "text", "tags"), empty_ok=NO_EVENTS
    ),
    ("Top stories (recent growth)", "A"): Expect(
        ("story_id", "recent", "recent_disaster", "size", "last_seen", "representative")
    ),
    ("Places (disaster tweets)", "A"): Expect(
        ("name", "country", "latitude", "longitude", "disaster", "tweets")
    ),
    ("annotation: Burst alerts", "Alerts"): Expect(("time", "timeend", "text", "tags")),
}

QUERIES = dashboard_queries(load_dashboard())


def test_every_query_has_an_expectation_and_every_expectation_a_query() -> None:
    assert {q.key for q in QUERIES} == set(EXPECTED)


def test_time_series_expectations_match_the_target_format() -> None:
    for q in QUERIES:
        assert (EXPECTED[q.key].kind == "series") == (q.format == "time_series"), q.key


# --- a database filled by a short real stream ---------------------------------------------

N_TWEETS = 600  # unlabeled live traffic from test.csv
N_COPIES = 20  # copies of one tweet from Chicago: one story, the top one (test.csv has 11)
N_LABELED = 60  # train.csv tweets (test.csv has no target), interleaved, labels published
MALFORMED: tuple[bytes, ...] = (
    b"this is not json",
    b'{"text": "no id here"}',
    b'{"id": "dashboard-blank", "text": "   "}',
)
WINDOW_SIZE = 200
LABELS_WAIT_S = 30.0
MONITOR_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Filled:
    """The isolated settings of the filled database, and how the monitor run went."""

    settings: Settings
    n_tweets: int
    labels_landed: int
    monitor_exit: int | None  # None: timed out
    monitor_log: Path
    tag: str  # in the ids of the story's copies and of the alerts inserted
    alerts: tuple[dict[str, Any], ...]  # the rows inserted into alerts

    def monitor_tail(self, lines: int = 25) -> str:
        return "\n".join(self.monitor_log.read_text(errors="replace").splitlines()[-lines:])


def tweet_row(src: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(src["id"]),
        "text": src["text"],
        "keyword": src["keyword"],
        "location": src["location"],
        "produced_at": time.time(),
    }


def labeled_sample(data: Path) -> pd.DataFrame:
    """``N_LABELED`` train.csv rows spread over the file (both classes)."""
    train = pd.read_csv(data / "train.csv").fillna("")
    return train.iloc[:: len(train) // N_LABELED].head(N_LABELED)


def interleaved(live: pd.DataFrame, labeled: pd.DataFrame) -> list[dict[str, Any]]:
    """One labeled tweet after every 10 live ones, so every count window has labels."""
    rows: list[dict[str, Any]] = []
    extra = iter(labeled.to_dict("records"))
    for i, src in enumerate(live.to_dict("records"), start=1):
        rows.append(tweet_row(src))
        spare = next(extra, None) if i % 10 == 0 else None
        if spare is not None:
            rows.append(tweet_row(spare))
    return rows + [tweet_row(r) for r in extra]


def label_rows(data: Path, ids: set[str]) -> Iterator[SourceRow]:
    """The true labels of ``ids``, read with the producer's own CSV reader."""
    rows = iter_rows(str(data / "train.csv"), SourceFormat.CSV, required=LABEL_COLUMNS)
    return (r for r in rows if r.record and str(r.record.get("id", "")).strip() in ids)


def story_copies(tag: str) -> list[dict[str, Any]]:
    """``N_COPIES`` copies (retweets, links, shouting) of one disaster tweet from Chicago."""
    text = f"Bridge collapse on route {tag}: several cars fell into the river, rescuers on site"
    edits = [text, f"RT @news: {text}", f"{text} http://t.co/{tag}", text.upper(), f"{text}!!"]
    return [
        tweet_row(
            {
                "id": f"dash-story-{tag}-{i}",
                "text": edits[i % len(edits)] + (f" #{i}" if i >= len(edits) else ""),
                "keyword": "collapse",
                "location": "Chicago, IL",
            }
        )
        for i in range(N_COPIES)
    ]


def alert_rows(tag: str) -> list[dict[str, Any]]:
    """Rows of ``alerts`` as the burst detector writes them: two with a window in the last
    15 minutes (a place, a story), one from two days ago that no annotation may show."""
    now = datetime.now(UTC)
    common = {"latitude": None, "longitude": None, "example": None}
    return [
        {
            **common,
            "alert_id": f"dash-{tag}-place",
            "kind": "place",
            "subject": "Chicago|IL|US",
            "label": f"Chicago {tag}",
            "window_start": now - timedelta(minutes=6),
            "window_end": now - timedelta(minutes=1),
            "count": 7,
            "expected": 0.5,
            "p_value": 0.0017,
            "latitude": 41.85,
            "longitude": -87.65,
            "example": "Bridge collapse <b>Chicago</b>",
        },
        {
            **common,
            "alert_id": f"dash-{tag}-story",
            "kind": "story",
            "subject": f"dash-story-{tag}-0",
            "label": f"story {tag}",
            "window_start": now - timedelta(minutes=5),
            "window_end": now,
            "count": N_COPIES,
            "expected": 2.0,
            "p_value": 3.2e-12,
        },
        {
            **common,
            "alert_id": f"dash-{tag}-old",
            "kind": "keyword",
            "subject": "collapse",
            "label": f"old {tag}",
            "window_start": now - timedelta(days=2, minutes=5),
            "window_end": now - timedelta(days=2),
            "count": 3,
            "expected": 0.1,
            "p_value": 0.0001,
        },
    ]


def insert_alerts(settings: Settings, rows: list[dict[str, Any]]) -> None:
    conn = pg_connect(settings)
    try:
        with conn, conn.cursor() as cur:
            for row in rows:
                columns = ", ".join(row)
                marks = ", ".join(f"%({k})s" for k in row)
                cur.execute(f"INSERT INTO alerts ({columns}) VALUES ({marks})", row)
    finally:
        conn.close()


def count_rows(settings: Settings, table: str) -> int:
    return int(pg_rows(settings, f"SELECT count(*) FROM {table}")[0][0])


def run_monitor(settings: Settings, log: Path) -> int | None:
    """``tweetstream monitor --once`` as a child process; its exit code (None: timeout)."""
    command = [sys.executable, "-m", "tweetstream.cli", "--log-level", "INFO"]
    command += ["monitor", "--once", "--window-size", str(WINDOW_SIZE)]
    with log.open("wb") as out:
        try:
            done = subprocess.run(
                command,
                env=settings_env(settings),
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=MONITOR_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None
    return done.returncode


@pytest.fixture(scope="module")
def filled(champion: Settings, tmp_path_factory: pytest.TempPathFactory) -> Filled:
    """One short real stream for every SQL check of this module."""
    # grace 0: a window is closed as soon as its tweets are stored (no waiting in a test)
    # stories on: the top-stories panel reads them (places are on by default)
    s = isolate(
        champion,
        lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}",
        monitor_grace_seconds=0.0,
        stories=True,
    )
    tag = uuid.uuid4().hex[:6]
    logs = tmp_path_factory.mktemp("dashboard")
    data = Settings().data_dir
    live = pd.read_csv(data / "test.csv").fillna("").head(N_TWEETS)
    labeled = labeled_sample(data)
    rows = interleaved(live, labeled) + story_copies(tag)
    records: list[tuple[bytes | None, bytes]] = list(tweet_records(rows))
    records += [(b"bad", value) for value in MALFORMED]

    with workers(s, logs) as [worker]:
        publish(s, records)
        wait_for(lambda: pg_count(s) >= len(rows), 240, f"{len(rows)} rows", worker.tail)
        wait_for(
            lambda: count_rows(s, "dead_letters") >= len(MALFORMED),
            60,
            "the dead letters",
            worker.tail,
        )
        ids = {str(i) for i in labeled["id"]}
        sent = produce(s, label_rows(data, ids), labels=True, source="train.csv")
        assert sent.sent == len(ids), sent
        # whoever consumes tweets.labels (the worker or the monitor), give it a moment; if
        # nothing lands, the quality check says so after the monitor had its chance
        with contextlib.suppress(AssertionError):
            wait_for(lambda: count_rows(s, "tweet_labels") >= len(ids), LABELS_WAIT_S, "labels")
        monitor_log = logs / "monitor.log"
        exit_code = run_monitor(s, monitor_log)
        landed = count_rows(s, "tweet_labels")
    alerts = alert_rows(tag)
    insert_alerts(s, alerts)
    return Filled(s, len(rows), landed, exit_code, monitor_log, tag, tuple(alerts))


# --- every query against the filled database ----------------------------------------------


def run_readonly(settings: Settings, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` in a read-only transaction: its column names and rows."""
    conn = pg_connect(settings)
    try:
        conn.set_session(readonly=True)
        with conn.cursor() as cur:
            cur.execute(sql)
            return [c.name for c in cur.description], list(cur.fetchall())
    finally:
        conn.close()


def is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def epoch(value: Any) -> float:
    """A ``time`` cell as epoch seconds (Grafana accepts epoch numbers and timestamps)."""
    if isinstance(value, datetime):
        return value.timestamp()
    assert is_number(value), f"time is neither a timestamp nor epoch seconds: {value!r}"
    return float(value)


def check_series(columns: list[str], rows: list[tuple[Any, ...]], expect: Expect) -> None:
    times = [epoch(r[0]) for r in rows]
    assert times == sorted(times), "Grafana needs time series sorted by time"
    values = [i for i, c in enumerate(columns) if c not in {"time", "metric"}]
    assert values, "no value column"
    for i in values:
        cells = [r[i] for r in rows]
        assert all(c is None or is_number(c) for c in cells), f"{columns[i]} is not numeric"
        assert any(c is not None for c in cells), f"{columns[i]} is always NULL"
    if expect.metrics:
        seen = {r[columns.index("metric")] for r in rows}
        assert expect.metrics <= seen, f"missing metrics: {sorted(expect.metrics - seen)}"


def check_timeline(rows: list[tuple[Any, ...]]) -> None:
    assert all(isinstance(r[0], datetime) for r in rows), "a table-format time must be a time"
    assert all(r[1] is not None for r in rows), "a state is NULL"


def require_inputs(filled: Filled, needs: Needs) -> None:
    """Fail with the reason when the monitor (or the labels) did not do their part."""
    if needs == "stream":
        return
    if filled.monitor_exit != 0:
        outcome = "timed out" if filled.monitor_exit is None else f"exit {filled.monitor_exit}"
        pytest.fail(
            f"this panel reads monitor tables: `tweetstream monitor --once` {outcome}\n"
            + filled.monitor_tail()
        )
    if needs == "labels" and filled.labels_landed == 0:
        pytest.fail("no true label reached tweet_labels: is a labels consumer running?")


@pytest.mark.parametrize("query", QUERIES, ids=[f"{q.panel}/{q.ref_id}" for q in QUERIES])
def test_query_returns_what_its_panel_needs(filled: Filled, query: Query) -> None:
    expect = EXPECTED[query.key]
    sql = expand_macros(query.raw_sql, TimeRange.last(DASHBOARD_RANGE))
    assert "$__" not in sql, f"a macro was left unexpanded: {sql}"
    columns, rows = run_readonly(filled.settings, sql)  # runs, even where it may be empty
    assert tuple(columns) == expect.columns
    if expect.empty_ok and not rows:
        return
    require_inputs(filled, expect.needs)
    assert rows, f"no rows for {query.panel}/{query.ref_id}:\n{sql}"
    if expect.kind == "series":
        check_series(columns, rows, expect)
    elif expect.kind == "timeline":
        check_timeline(rows)


# --- the stat panels show the numbers of this stream ---------------------------------------


def single_value(filled: Filled, panel: str) -> Any:
    sql = expand_macros(query_of(panel).raw_sql, TimeRange.last(DASHBOARD_RANGE))
    _, rows = run_readonly(filled.settings, sql)
    assert len(rows) == 1
    return rows[0][0]


def test_stat_panels_count_this_stream(filled: Filled) -> None:
    assert single_value(filled, "Tweets classified") == filled.n_tweets
    assert single_value(filled, "Dead letters") == len(MALFORMED)


def test_champion_stat_shows_the_registry_champion(filled: Filled) -> None:
    from models.registry import CHAMPION, alias_version, client_for

    s = filled.settings
    champion = alias_version(client_for(s), s.model_name, CHAMPION)
    assert champion is not None
    assert single_value(filled, "Champion version") == champion


# --- stories, places and alerts: this stream's rows ----------------------------------------


def panel_rows(filled: Filled, panel: str, ref_id: str = "A") -> list[tuple[Any, ...]]:
    sql = expand_macros(query_of(panel, ref_id).raw_sql, TimeRange.last(DASHBOARD_RANGE))
    return run_readonly(filled.settings, sql)[1]


def api_rows(filled: Filled, sql: str, limit: int) -> list[tuple[Any, ...]]:
    """What ``GET /stories`` / ``GET /places`` count, over the dashboard's range."""
    since = datetime.now(UTC) - DASHBOARD_RANGE
    conn = pg_connect(filled.settings)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, (since, limit))
            return list(cur.fetchall())
    finally:
        conn.close()


def test_top_stories_panel_ranks_the_copies_first_as_the_api_does(filled: Filled) -> None:
    rows = panel_rows(filled, "Top stories (recent growth)")
    assert 0 < len(rows) <= 20
    top = rows[0]
    assert str(top[0]).startswith(f"dash-story-{filled.tag}-"), top
    assert top[1] == top[3] == N_COPIES  # all its copies, all in the range
    assert top[2] == int(
        pg_rows(
            filled.settings,
            f"SELECT count(*) FROM classified_tweets WHERE id LIKE 'dash-story-{filled.tag}-%' "
            "AND label = 1",
        )[0][0]
    )
    assert filled.tag in str(top[5]).lower() and isinstance(top[4], datetime)
    recent = [r[1] for r in rows]
    assert recent == sorted(recent, reverse=True)
    # the same stories, counts and order as GET /stories
    api = api_rows(filled, _STORIES, 20)
    assert [(r[0], r[1], r[2], r[3], r[6], r[7]) for r in api] == rows


def test_places_geomap_has_coordinates_and_counts_as_the_api_does(filled: Filled) -> None:
    rows = panel_rows(filled, "Places (disaster tweets)")
    assert rows
    for name, country, lat, lon, disaster, tweets in rows:
        assert name and len(country) == 2, (name, country)
        assert -90 <= lat <= 90 and -180 <= lon <= 180, (name, lat, lon)
        assert 0 <= disaster <= tweets
    order = [(-r[4], -r[5]) for r in rows]
    assert order == sorted(order)  # most disaster tweets first
    chicago = [r for r in rows if r[0] == "Chicago" and r[1] == "US"]
    assert len(chicago) == 1
    _, _, lat, lon, disaster, tweets = chicago[0]
    assert (lat, lon) == (pytest.approx(41.85, abs=0.1), pytest.approx(-87.65, abs=0.1))
    direct = pg_rows(
        filled.settings,
        "SELECT count(*), count(*) FILTER (WHERE label = 1) FROM classified_tweets "
        "WHERE place_name = 'Chicago' AND place_country = 'US'",
    )[0]
    assert (tweets, disaster) == direct and tweets >= N_COPIES
    api = api_rows(filled, _PLACES, 500)
    assert sorted((r[0], r[2], r[4], r[5], r[7], r[6]) for r in api) == sorted(rows)


def test_alert_annotations_show_the_alerts_of_the_range_only(filled: Filled) -> None:
    rows = panel_rows(filled, "annotation: Burst alerts", "Alerts")
    mine = [r for r in rows if filled.tag in r[2]]  # a merged burst detector may add others
    alerts = {a["alert_id"]: a for a in filled.alerts}
    place, story = alerts[f"dash-{filled.tag}-place"], alerts[f"dash-{filled.tag}-story"]
    assert [r[2:] for r in mine] == [
        (f"Chicago {filled.tag}: 7 disaster tweets, expected 0.5 (p = 1.7e-03)", "alert,place"),
        (
            f"story {filled.tag}: {N_COPIES} disaster tweets, expected 2.0 (p = 3.2e-12)",
            "alert,story",
        ),
    ]
    for row, alert in zip(mine, (place, story), strict=True):
        start, end = row[0], row[1]
        assert isinstance(start, datetime) and isinstance(end, datetime)
        assert abs((start - alert["window_start"]).total_seconds()) < 1e-3
        assert abs((end - alert["window_end"]).total_seconds()) < 1e-3
    times = [r[0] for r in rows]
    assert times == sorted(times)
    assert not [r for r in rows if f"old {filled.tag}" in r[2]]  # two days ago: not shown


def test_the_geomap_layer_reads_columns_its_query_returns() -> None:
    (panel,) = [p for p in load_dashboard()["panels"] if p["type"] == "geomap"]
    columns = EXPECTED[(panel["title"], "A")].columns
    (layer,) = panel["options"]["layers"]
    assert layer["type"] == "markers" and layer["tooltip"] is True
    location = layer["location"]
    assert location["mode"] == "coords"
    assert (location["latitude"], location["longitude"]) == ("latitude", "longitude")
    assert layer["config"]["style"]["size"]["field"] == "disaster"
    assert {location["latitude"], location["longitude"], "disaster"} <= set(columns)
