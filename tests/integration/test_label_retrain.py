"""The trainer's labels trigger on real PostgreSQL, Kafka and MLflow.

Every ``retrain_every_labels`` reviewed labels (5 here) the trainer publishes one
``RetrainRequest`` with reason ``labels``, answers it (retrain, register, gate) and
``model_events`` tells the story; every reviewed label trains and none (nor a near duplicate)
is in the gate's evaluation set; a revoked reviewer's labels are not in the next retraining.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import mlflow
import pandas as pd
import pytest

from models.data import in_eval_set, load_labeled, split_train_eval, text_key
from models.label_trigger import request_if_due
from models.registry import CHAMPION, client_for
from models.retrain import serve, training_data
from stream.db import LabelSink, PostgresSink
from tests.integration.streaming import consume, isolate
from tweetstream import labels
from tweetstream.archive_layout import ArchiveRecord
from tweetstream.events import story
from tweetstream.migrations import upgrade
from tweetstream.schemas import ClassifiedRow, RawTweet, RetrainRequest
from tweetstream.settings import Settings

EVERY = 5
NOW = datetime.now(UTC)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def trainer(champion: Settings) -> Settings:
    s = isolate(
        champion,
        _unique,
        model_name=_unique("labeled"),
        retrain_every_labels=EVERY,
        cv_folds=2,
    )
    upgrade(s)
    mlflow.set_tracking_uri(s.mlflow_tracking_uri)
    source = client_for(s).get_model_version_by_alias(champion.model_name, CHAMPION).source
    version = str(mlflow.register_model(source, s.model_name).version)
    client_for(s).set_registered_model_alias(s.model_name, CHAMPION, version)
    return s


def eval_side_tweets(s: Settings, n: int) -> pd.DataFrame:
    """Kaggle tweets of the gate's evaluation side, re-streamed under new ids."""
    kaggle = load_labeled(s.data_dir)
    picked = kaggle[in_eval_set(kaggle["id"].astype(str), s.eval_fraction)].head(n).copy()
    picked["kaggle_id"] = picked["id"].astype(str)
    picked["id"] = [f"stream-{i}" for i in range(n)]
    return picked.reset_index(drop=True)


def store(s: Settings, df: pd.DataFrame) -> None:
    records = []
    for offset, row in df.iterrows():
        raw = RawTweet(id=row["id"], text=row["text"])
        result = ClassifiedRow(
            row["id"], row["text"], None, None, 1, "disaster", 0.5, "m", "1", None, NOW
        )
        records.append(ArchiveRecord(0, int(str(offset)), 0, raw, result))
    sink = PostgresSink(s)
    try:
        sink.write(records)
    finally:
        sink.close()


def give(s: Settings, df: pd.DataFrame, reviewer: str, flip: bool = False) -> None:
    rows = [
        (
            r["id"],
            1 - int(r["target"]) if flip else int(r["target"]),
            reviewer,
            NOW + timedelta(seconds=i),
        )
        for i, (_, r) in enumerate(df.iterrows())
    ]
    LabelSink(s).write(rows)


def labels_requests(s: Settings) -> list[dict[str, object]]:
    return [e for e in story(s) if e["kind"] == "retrain_requested" and e["reason"] == "labels"]


def test_labels_trigger_fires_once_per_n_and_revocation_changes_the_next_retrain(
    trainer: Settings,
) -> None:
    s = trainer
    tweets = eval_side_tweets(s, 2 * EVERY)
    store(s, tweets)
    ana, mallory = tweets.iloc[:EVERY], tweets.iloc[EVERY:]

    give(s, ana.iloc[: EVERY - 1], "ana")
    assert request_if_due(s) is None  # 4 of 5
    give(s, ana.iloc[EVERY - 1 :], "ana")
    first = request_if_due(s)
    assert first is not None and first.reason == "labels"
    assert request_if_due(s) is None  # once per 5, not once per check
    sent = consume(s, s.retrain_topic, lambda rs: len(rs) >= 1)
    assert [RetrainRequest.model_validate_json(r.value).request_id for r in sent] == [
        first.request_id
    ]

    # every reviewed label trains; the evaluation set holds none of them nor a copy of one
    data, _ = training_data(s)
    train, evalset = split_train_eval(data, s.eval_fraction)
    assert set(ana["id"]) <= set(train["id"]) and not set(ana["id"]) & set(evalset["id"])
    assert not set(ana["kaggle_id"]) & set(evalset["id"])  # their Kaggle copies left out too
    assert not set(ana["text"].map(text_key)) & set(evalset["text"].map(text_key))

    assert serve(s, once=True) == 1
    steps = story(s, first.request_id)
    kinds = [e["kind"] for e in steps]
    assert kinds[:3] == ["retrain_requested", "retrain_started", "challenger_registered"]
    assert kinds[3] in ("promoted", "refused") and len(kinds) == 4
    assert steps[1]["details"]["reviewed_rows"] == EVERY
    assert steps[0]["details"] == {"reviewed_labels": EVERY, "since": 0}

    # a poisoner labels 5 more (all wrong), the trigger fires, then they are revoked
    give(s, mallory, "mallory", flip=True)
    second = request_if_due(s)
    assert second is not None and len(labels_requests(s)) == 2
    labels.revoke(s, "mallory")
    data, _ = training_data(s)
    assert not set(mallory["id"]) & set(data["id"])
    assert serve(s, once=True) == 1
    started = [e for e in story(s, second.request_id) if e["kind"] == "retrain_started"]
    assert started[0]["details"]["reviewed_rows"] == EVERY  # ana's only
    assert len(labels_requests(s)) == 2  # revocation did not fire anything


def test_with_the_default_setting_it_fires_at_50_and_100_reviewed_labels(
    settings: Settings,
) -> None:
    s = isolate(settings, _unique)
    upgrade(s)
    assert s.retrain_every_labels == 50
    fired = []
    for i in range(120):
        LabelSink(s).write([(f"t{i}", i % 2, "ana", NOW + timedelta(seconds=i))])
        if i == 60:  # a file's labels (no reviewer) and a revoked reviewer's do not count
            LabelSink(s).write([(f"f{j}", 1, None, NOW) for j in range(30)])
            LabelSink(s).write([(f"m{j}", 1, "mallory", NOW) for j in range(30)])
            labels.revoke(s, "mallory")
        if request_if_due(s) is not None:
            fired.append(i + 1)
    assert fired == [50, 100]
    marks = [e["details"]["reviewed_labels"] for e in labels_requests(s)]
    assert marks == [50, 100]
