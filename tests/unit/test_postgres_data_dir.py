"""Where the local PostgreSQL cluster lives: in the state directory, or outside it when the
'postgres' user cannot reach it (a checkout under a private directory)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infra.local.services.base import LocalService
from infra.local.services.kafka import KafkaService
from infra.local.services.postgres import PostgresService, choose_data_dir, outside_home
from tweetstream.settings import Settings


def _never() -> bool:
    raise AssertionError("reachability is only asked when nothing exists yet")


def _always(answer: bool) -> Callable[[], bool]:
    return lambda: answer


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    state = tmp_path / "state" / "postgres"
    state.mkdir(parents=True)
    return state / "data", tmp_path / "pg-home" / "tweetstream" / "0123abcd"


def test_a_reachable_state_dir_keeps_its_cluster_inside(places: tuple[Path, Path]) -> None:
    in_state, outside = places
    assert choose_data_dir(in_state, outside, _always(True)) == in_state


def test_an_unreachable_state_dir_gets_its_cluster_outside(places: tuple[Path, Path]) -> None:
    in_state, outside = places
    assert choose_data_dir(in_state, outside, _always(False)) == outside / "data"


def test_an_existing_cluster_is_never_moved(places: tuple[Path, Path]) -> None:
    in_state, outside = places
    in_state.mkdir()  # made by an earlier start, e.g. the shared stack's
    (outside / "data").mkdir(parents=True)
    assert choose_data_dir(in_state, outside, _never) == in_state


def test_the_state_dir_link_is_followed(places: tuple[Path, Path], tmp_path: Path) -> None:
    in_state, outside = places
    elsewhere = tmp_path / "pg-home" / "tweetstream" / "moved" / "data"
    in_state.symlink_to(elsewhere)  # dangling is fine: the server's user sees the target
    assert choose_data_dir(in_state, outside, _never) == elsewhere


def test_a_cluster_outside_is_found_again_without_its_link(places: tuple[Path, Path]) -> None:
    in_state, outside = places
    (outside / "data").mkdir(parents=True)
    assert choose_data_dir(in_state, outside, _never) == outside / "data"


def test_without_a_server_user_the_cluster_stays_inside(places: tuple[Path, Path]) -> None:
    in_state, _ = places
    assert choose_data_dir(in_state, None, _never) == in_state


def test_each_state_dir_has_its_own_outside_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Path("/var/lib/postgresql")
    a, b = outside_home(home, tmp_path / "a"), outside_home(home, tmp_path / "b")
    assert a != b and a.parent == b.parent == home / "tweetstream"
    assert outside_home(home, tmp_path / "a") == a
    monkeypatch.chdir(tmp_path)
    assert outside_home(home, Path("a")) == a  # relative or absolute: the same directory
    assert outside_home(home, tmp_path / "x" / ".." / "a") == a


def test_purge_deletes_the_outside_cluster_and_keeps_only_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    outside = tmp_path / "pg-home" / "tweetstream" / "0123abcd"
    (outside / "data").mkdir(parents=True)
    pg = PostgresService(settings)
    monkeypatch.setattr(pg, "_outside", lambda: outside)
    pg.home.mkdir(parents=True)
    (pg.home / "data").symlink_to(outside / "data")
    (pg.home / "postgres.pid").write_text("1 2\n")
    kafka = KafkaService(settings)
    (kafka.libs).mkdir(parents=True)
    (kafka.home / "data").mkdir()

    assert pg.purge() == [outside]
    assert not outside.exists() and list(pg.home.iterdir()) == []
    assert kafka.purge() == [] and list(kafka.home.iterdir()) == [kafka.libs]
    assert LocalService(Settings(state_dir=tmp_path / "none")).purge() == []


def test_purge_follows_a_moved_checkouts_link_but_never_deletes_a_foreign_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clusters = tmp_path / "pg-home" / "tweetstream"
    old, foreign = clusters / "made-before-the-move", tmp_path / "big-disk" / "pg"
    for place in (old / "data", foreign / "data"):
        place.mkdir(parents=True)
    for name, target in (("moved", old), ("linked-by-hand", foreign)):
        pg = PostgresService(Settings(state_dir=tmp_path / name))
        monkeypatch.setattr(pg, "_outside", lambda: clusters / "0123abcd")
        pg.home.mkdir(parents=True)
        (pg.home / "data").symlink_to(target / "data")
        assert pg.purge() == ([old] if target == old else [])
        assert not (pg.home / "data").is_symlink()
    assert not old.exists() and (foreign / "data").is_dir()
