"""Replay logic without services: selection, pruning by date/hour, dedupe, checkpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from producer.replay.archive_reader import (
    hour_overlaps,
    listing_prefixes,
    parse_archive_object,
    prune,
)
from producer.replay.checkpoint import Checkpoint, checkpoint_path, load, save
from producer.replay.errors import CheckpointError, ReplaySourceError, SelectionError
from producer.replay.file_reader import read_file
from producer.replay.plan import Candidate, Problem, build_plan, latest_per_id
from producer.replay.run import chunk_size, chunks
from producer.replay.selection import Selection, Source, parse_when, read_ids
from tweetstream.archive_layout import object_key, parse_key
from tweetstream.schemas import RawTweet
from tweetstream.settings import Settings


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ms(text: str) -> int:
    return int(at(text).timestamp() * 1000)


def cand(ident: str, key: str, index: int, when: str, version: str = "1") -> Candidate:
    return Candidate((key, index), RawTweet(id=ident, text=f"tweet {ident}"), ms(when), version)


def test_dates_are_iso_and_utc() -> None:
    assert parse_when("2025-05-01", "--from") == at("2025-05-01T00:00")
    assert parse_when("2025-05-01T13:30+02:00", "--to") == at("2025-05-01T11:30")
    with pytest.raises(SelectionError, match="--from 'yesterday' is not an ISO date"):
        parse_when("yesterday", "--from")


def test_options_that_do_not_combine_are_refused() -> None:
    with pytest.raises(SelectionError, match="not before"):
        Selection(start=at("2025-05-02T00:00"), end=at("2025-05-01T00:00"))
    with pytest.raises(SelectionError, match="needs --file"):
        Selection(source=Source.FILE)
    with pytest.raises(SelectionError, match="--where-model-version needs"):
        Selection(source=Source.FILE, file="x.jsonl", model_version="2")
    with pytest.raises(SelectionError, match="only read with --source file"):
        Selection(file="x.jsonl")


def test_keys_written_by_the_archive_parse_back() -> None:
    key = object_key("tw", 1000, 3, 12_345, ms("2025-05-01T13:59:59"))
    parts = parse_key(key)
    assert parts is not None
    assert (parts.hour, parts.partition, parts.first_offset) == (at("2025-05-01T13:00"), 3, 12_000)
    assert parse_key("tw/date=2025-13-01/hour=00/partition=000/offsets-0.jsonl") is None
    assert parse_key("tw/notes.txt") is None


def test_pruning_keeps_only_hours_that_meet_the_range() -> None:
    keys = [
        object_key("tw", 1000, 0, 0, ms(t))
        for t in ("2025-05-01T09:10", "2025-05-01T10:59", "2025-05-01T11:00", "2025-05-02T00:00")
    ]
    selection = Selection(start=at("2025-05-01T10:30"), end=at("2025-05-01T11:00"))
    kept, strange = prune([*reversed(keys), "tw/junk"], selection)
    assert kept == [keys[1]]  # 09:xx ends before, 11:00 starts at the (exclusive) end
    assert strange == [Problem("tw/junk", "not an archive object key", "corrupt")]
    assert hour_overlaps(at("2025-05-01T10:00"), at("2025-05-01T10:59"), None)
    assert not hour_overlaps(at("2025-05-01T10:00"), None, at("2025-05-01T10:00"))


def test_listing_uses_one_prefix_per_day_of_a_bounded_range() -> None:
    assert listing_prefixes("tw", at("2025-05-01T23:00"), at("2025-05-03T00:00")) == [
        "tw/date=2025-05-01/",
        "tw/date=2025-05-02/",
    ]
    assert listing_prefixes("tw", None, at("2025-05-03T00:00")) == ["tw/"]
    assert listing_prefixes("tw", at("2020-01-01T00:00"), at("2025-01-01T00:00")) == ["tw/"]


def test_the_plan_filters_dedupes_to_the_latest_and_sorts() -> None:
    items = [
        cand("a", "k2", 0, "2025-05-01T10:05"),
        cand("a", "k1", 0, "2025-05-01T10:01"),  # older copy of a
        cand("b", "k1", 1, "2025-05-01T10:02"),
        cand("c", "k1", 2, "2025-05-01T12:00"),  # outside the range
        Problem("k3", "line 1: not valid JSON", "corrupt"),
        Problem("line 7", "text: is empty"),
    ]
    plan = build_plan(items, Selection(start=at("2025-05-01T10:00"), end=at("2025-05-01T11:00")))
    assert [(c.tweet.id, c.position) for c in plan.items] == [("b", ("k1", 1)), ("a", ("k2", 0))]
    assert (plan.matched, plan.duplicates) == (3, 1)
    assert [p.where for p in plan.corrupt] == ["k3"]
    assert [p.where for p in plan.malformed] == ["line 7"]


def test_model_version_is_checked_on_the_latest_record_of_each_id() -> None:
    items = [
        cand("a", "k1", 0, "2025-05-01T10:00", "1"),
        cand("a", "k2", 0, "2025-05-01T10:30", "2"),  # already reclassified by version 2
        cand("b", "k1", 1, "2025-05-01T10:00", "1"),
    ]
    plan = build_plan(items, Selection(model_version="1"))
    assert [c.tweet.id for c in plan.items] == ["b"]


def test_ids_and_limit_select() -> None:
    items = [cand(i, "k", n, "2025-05-01T10:00") for n, i in enumerate("abcd")]
    plan = build_plan(items, Selection(ids=frozenset({"b", "c", "d"}), limit=2))
    assert [c.tweet.id for c in plan.items] == ["b", "c"]


def test_latest_per_id_breaks_time_ties_by_position() -> None:
    same = "2025-05-01T10:00"
    kept, dropped = latest_per_id([cand("a", "k2", 0, same), cand("a", "k1", 5, same)])
    assert [c.position for c in kept] == [("k2", 0)] and dropped == 1


def _line(i: int, **extra: object) -> str:
    record = {
        "partition": 0,
        "offset": i,
        "timestamp_ms": ms("2025-05-01T10:00") + i,
        "tweet": {"id": f"t{i}", "text": "flood"},
        "result": {"model_version": "3"},
        **extra,
    }
    return json.dumps(record)


def test_archive_objects_parse_with_stable_indexes_and_corruption_names_the_line() -> None:
    body = f"{_line(0)}\n\n{_line(1)}\n".encode()
    found = parse_archive_object("k", body)
    assert [(c.position, c.tweet.id, c.model_version) for c in found] == [
        (("k", 0), "t0", "3"),
        (("k", 1), "t1", "3"),
    ]
    with pytest.raises(ValueError, match="line 2: not valid JSON"):
        parse_archive_object("k", f"{_line(0)}\n{{oops\n".encode())
    with pytest.raises(ValueError, match="line 1: result has no model_version"):
        parse_archive_object("k", _line(0, result={}).encode())
    with pytest.raises(ValueError, match="not UTF-8"):
        parse_archive_object("k", b"\xff\xfe garbage")


def test_file_lines_are_positions_and_malformed_lines_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"id": "a", "text": "fire"}\n{broken\n\n{"id": "b", "text": " "}\n')
    items = list(read_file(str(path)))
    assert isinstance(items[0], Candidate) and items[0].position == ("", 1)
    assert [(p.where, p.reason[:14]) for p in items[1:] if isinstance(p, Problem)] == [
        ("line 2", "not valid JSON"),
        ("line 4", "text: is empty"),
    ]
    with pytest.raises(ReplaySourceError, match="no such file"):
        list(read_file(str(tmp_path / "missing.jsonl")))


def test_ids_file(tmp_path: Path) -> None:
    (tmp_path / "ids.txt").write_text(" a\n\nb \n")
    assert read_ids(str(tmp_path / "ids.txt")) == frozenset({"a", "b"})
    with pytest.raises(ReplaySourceError, match="no such file"):
        read_ids(str(tmp_path / "none.txt"))


def test_checkpoint_saves_loads_and_only_moves_forward(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    path = checkpoint_path(settings, "backfill-1")
    assert path == tmp_path / "replay" / "backfill-1.json"
    cp = Checkpoint(name="backfill-1", selection={"source": "s3"}, target="raw")
    cp.begin(("k1", 9))
    cp.advance(("k1", 9), 10)
    cp.begin(("k2", 4))
    save(cp, path)
    back = load(path)
    assert (back.acked, back.pending, back.sent) == (("k1", 9), ("k2", 4), 10)
    assert back.covers(("k1", 9)) and back.covers(("k0", 500))
    assert not back.covers(("k2", 0)) and back.uncertain(("k2", 0)) and back.uncertain(("k2", 4))
    assert not back.uncertain(("k2", 5))
    with pytest.raises(ValueError, match="only moves forward"):
        back.advance(("k1", 0), 1)
    back.advance(("k2", 4), 5)
    assert (back.acked, back.pending, back.sent) == (("k2", 4), None, 15)


def test_checkpoint_of_another_selection_or_a_bad_name_is_refused(tmp_path: Path) -> None:
    cp = Checkpoint(name="x", selection={"source": "s3", "limit": 5}, target="raw")
    cp.check_matches({"source": "s3", "limit": 5}, "raw")
    with pytest.raises(CheckpointError, match="another selection"):
        cp.check_matches({"source": "s3", "limit": 6}, "raw")
    with pytest.raises(CheckpointError, match="no checkpoint 'y' to resume"):
        load(tmp_path / "y.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable"):
        load(tmp_path / "bad.json")
    with pytest.raises(CheckpointError, match="--name"):
        checkpoint_path(Settings(state_dir=tmp_path), "../escape")


def test_default_name_follows_the_selection() -> None:
    a = Selection(start=at("2025-05-01T00:00"))
    assert a.default_name("raw") == Selection(start=at("2025-05-01T00:00")).default_name("raw")
    assert a.default_name("raw") != Selection(start=at("2025-05-02T00:00")).default_name("raw")
    assert a.default_name("raw") != a.default_name("other")
    assert a.default_name("raw").startswith("s3-")


def test_chunks_are_about_a_second_at_a_paced_rate() -> None:
    items = [cand(str(i), "k", i, "2025-05-01T10:00") for i in range(5)]
    assert [len(c) for c in chunks(items, 2)] == [2, 2, 1]
    assert chunk_size(None) == 2_000 and chunk_size(300) == 300 and chunk_size(0.5) == 1
