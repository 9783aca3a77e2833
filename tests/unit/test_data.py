"""Validation of labeled CSVs: every bad input is one line naming the file and the fault."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from models.data import in_eval_set, load_labeled, resolve_csv, split_train_eval
from models.errors import DatasetError

GOOD = "id,keyword,location,text,target\n1,fire,Paris,Forest fire near town,1\n2,,,I love it,0\n"


def _write(tmp_path: Path, content: str | bytes, name: str = "train.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_good_file_loads_with_clean_types(tmp_path: Path) -> None:
    df = load_labeled(_write(tmp_path, GOOD))
    assert list(df["target"]) == [1, 0]
    assert list(df["keyword"]) == ["fire", ""]


def test_directory_resolves_to_train_csv(tmp_path: Path) -> None:
    _write(tmp_path, GOOD)
    assert resolve_csv(tmp_path) == tmp_path / "train.csv"


def test_keyword_and_location_are_optional(tmp_path: Path) -> None:
    df = load_labeled(_write(tmp_path, "id,text,target\n1,flood,1\n"))
    assert list(df["keyword"]) == [""]


def test_quoted_multiline_text_is_one_row(tmp_path: Path) -> None:
    df = load_labeled(_write(tmp_path, 'id,text,target\n1,"line one\nline two",1\n'))
    assert len(df) == 1 and "\n" in df["text"][0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,keyword,location,text\n1,,,fire\n", "missing column(s) target"),
        ("id,text,target\n1,fire,yes\n", "must be 0 or 1, but data row 1 has 'yes'"),
        ("id,text,target\n1,fire,1\n2,calm,2\n", "data row 2 has"),
        ("", "the file is empty"),
        ("id,text,target\n", "header but no rows"),
        (b"id,text,target\n1,caf\xe9 fire,1\n", "not UTF-8 text (byte 0xe9"),
    ],
)
def test_bad_files_get_one_clear_line(tmp_path: Path, content: str | bytes, message: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(DatasetError) as err:
        load_labeled(path)
    text = str(err.value)
    assert message in text
    assert str(path) in text
    assert "\n" not in text


def test_missing_path_says_where_to_get_data(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"no such file .*TWEETSTREAM_DATA_DIR"):
        load_labeled(tmp_path / "nope.csv")


def test_eval_membership_depends_on_id_only() -> None:
    ids = pd.Series(range(5000))
    first = in_eval_set(ids, 0.1)
    again = in_eval_set(pd.Series(list(range(5000)) + list(range(9000, 9500))), 0.1)[:5000]
    assert first.tolist() == again.tolist()  # adding data never moves a tweet
    assert 0.08 < first.mean() < 0.12


def test_split_is_disjoint_and_complete() -> None:
    df = pd.DataFrame({"id": range(1000), "target": [0, 1] * 500})
    train, evalset = split_train_eval(df, 0.2)
    assert set(train["id"]).isdisjoint(evalset["id"])
    assert len(train) + len(evalset) == 1000
