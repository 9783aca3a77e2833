"""Reading and validating the Kaggle CSV format (``id, keyword, location, text, target``).

Every problem becomes one :class:`DatasetError` line that names the file and the fault,
raised before anything is trained or registered.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from models.errors import DatasetError

#: columns a labeled file must have; ``keyword`` and ``location`` are optional (empty if absent)
LABELED_COLUMNS = ("id", "text", "target")
OPTIONAL_COLUMNS = ("keyword", "location")


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a training set: content hash, size and class balance."""

    sha256: str
    rows: int
    positive_share: float

    def as_params(self) -> dict[str, str | int | float]:
        return {
            "data_sha256": self.sha256,
            "data_rows": self.rows,
            "data_positive_share": round(self.positive_share, 4),
        }


def resolve_csv(path: Path, name: str = "train.csv") -> Path:
    """``path`` itself if it is a file, ``path/name`` if it is a directory."""
    if path.is_dir():
        path = path / name
    if not path.exists():
        raise DatasetError(
            f"{path}: no such file (set --data or TWEETSTREAM_DATA_DIR; the README says "
            "where to download the Kaggle CSVs)"
        )
    return path


def _read(path: Path) -> pd.DataFrame:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DatasetError(f"{path}: cannot read ({err.strerror})") from err
    if not raw.strip():
        raise DatasetError(f"{path}: the file is empty")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DatasetError(
            f"{path}: not UTF-8 text (byte {raw[err.start]:#04x} at offset {err.start}); "
            "re-save it as UTF-8"
        ) from err
    try:
        return pd.read_csv(
            path, encoding="utf-8-sig", dtype={"keyword": str, "location": str, "text": str}
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DatasetError(f"{path}: not a readable CSV ({first})") from err


def _check_target(path: Path, target: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(target, errors="coerce")
    bad = ~numeric.isin([0, 1])
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise DatasetError(
            f"{path}: column 'target' must be 0 or 1, but data row {row + 1} has "
            f"{target.iloc[row]!r}"
        )
    return numeric.astype(int)


def load_labeled(path: Path, require_id: bool = True) -> pd.DataFrame:
    """Load a labeled CSV; columns ``id, keyword, location, text, target`` (validated)."""
    path = resolve_csv(path)
    df = _read(path)
    df.columns = [str(c).strip().lower() for c in df.columns]
    required = LABELED_COLUMNS if require_id else ("text", "target")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)}; a labeled CSV has columns "
            "id, keyword, location, text, target"
        )
    if df.empty:
        raise DatasetError(f"{path}: has a header but no rows")
    df["target"] = _check_target(path, df["target"])
    for col in ("text", *OPTIONAL_COLUMNS):
        df[col] = df[col].fillna("").astype(str) if col in df.columns else ""
    return df


def fingerprint(path: Path, df: pd.DataFrame) -> Fingerprint:
    """Hash of the file's bytes plus row count and positive share of the loaded frame."""
    digest = hashlib.sha256(resolve_csv(path).read_bytes()).hexdigest()
    return Fingerprint(digest, len(df), float(df["target"].mean()))


def in_eval_set(ids: pd.Series, fraction: float) -> pd.Series:
    """True for the rows of the fixed evaluation set, chosen by a hash of the tweet id.

    Membership depends on the id alone, so it is stable when more labeled data arrives:
    a tweet never moves between the training and the evaluation side.
    """

    def bucket(value: object) -> float:
        h = hashlib.sha256(str(value).encode()).digest()
        return int.from_bytes(h[:8], "big") / 2**64

    return ids.map(bucket) < fraction


#: what makes two tweets near duplicates (as PostgreSQL's ``tweet_text_key``): the words once
#: URLs, mentions (and a leading "RT"), case and punctuation are gone
_URL = re.compile(r"(https?://|www\.)\S*")
_MENTION = re.compile(r"(^|\s)(rt\s+)?@\w+:?")
_NON_WORD = re.compile(r"[\W_]+")


def text_key(text: str) -> str:
    """A tweet's near-duplicate key: retweets and copies of one text share it."""
    words = _MENTION.sub(" ", _URL.sub(" ", str(text).lower()))
    return _NON_WORD.sub(" ", words).strip()


def split_train_eval(df: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, fixed evaluation rows).

    A hash of the id decides, except for rows marked ``reviewed`` (labels people gave in the
    review loop): they always train, and an evaluation row that is one of them or a near
    duplicate of one (:func:`text_key`) is left out, so the gate never scores a model on a
    tweet it trained on.
    """
    mask = in_eval_set(df["id"], fraction)
    if "reviewed" in df.columns:
        reviewed = df["reviewed"].eq(True)
        mask &= ~reviewed
        trained = set(df.loc[reviewed, "text"].map(text_key))
        keep = ~(mask & df["text"].map(text_key).isin(trained))
        return df[~mask].reset_index(drop=True), df[mask & keep].reset_index(drop=True)
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)


def fingerprint_frame(df: pd.DataFrame) -> Fingerprint:
    """Fingerprint of an in-memory labeled frame (training data assembled from several places)."""
    cols = [c for c in ("id", "keyword", "location", "text", "target") if c in df.columns]
    digest = hashlib.sha256(df[cols].to_csv(index=False).encode()).hexdigest()
    return Fingerprint(digest, len(df), float(df["target"].mean()))
