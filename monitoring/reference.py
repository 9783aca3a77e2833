"""The reference a window is compared with: the snapshot logged with the serving model."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from monitoring.errors import ReferenceUnavailable
from monitoring.text import build_vocabulary, describe
from tweetstream.settings import Settings

log = logging.getLogger(__name__)
ARTIFACT = "reference/reference.parquet"


@dataclass(frozen=True)
class Reference:
    """Reference descriptors and predictions, and the vocabulary for out-of-vocabulary words."""

    model_version: str
    frame: pd.DataFrame  # descriptors + label (+ target)
    vocabulary: frozenset[str]


def _download(settings: Settings, version: str, cache: Path) -> Path:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(settings.mlflow_tracking_uri)
    try:
        run_id = client.get_model_version(settings.model_name, version).run_id
        if not run_id:
            raise ReferenceUnavailable(f"{settings.model_name} v{version} has no training run")
        cache.mkdir(parents=True, exist_ok=True)
        return Path(client.download_artifacts(run_id, ARTIFACT, str(cache)))
    except (MlflowException, OSError) as err:
        first = str(err).split("\n", 1)[0]
        raise ReferenceUnavailable(
            f"no reference snapshot for {settings.model_name} v{version}: {first}"
        ) from err


def load_reference(settings: Settings, version: str) -> Reference:
    """Download (once, cached under the state directory) and describe the reference."""
    cache = settings.state_dir / "monitor" / "reference" / settings.model_name / version
    path = cache / "reference" / "reference.parquet"
    if not path.exists():
        path = _download(settings, version, cache)
    try:
        raw = pd.read_parquet(path)
    except Exception as err:
        raise ReferenceUnavailable(f"reference snapshot {path} is unreadable: {err}") from err
    if "text" not in raw.columns or "label" not in raw.columns:
        raise ReferenceUnavailable(f"reference snapshot {path} lacks text/label columns")
    # The vocabulary comes from 80% of the reference and the reference's own descriptors from
    # the other 20%: measured on the texts that built it, out-of-vocabulary would always be 0
    # and any real stream would look drifted.
    texts = raw["text"].fillna("").astype(str).reset_index(drop=True)
    held_out = texts.index % 5 == 0
    vocabulary = build_vocabulary(texts[~held_out])
    frame = describe(texts[held_out], vocabulary)
    frame["label"] = raw["label"].astype(int).to_numpy()[held_out]
    if "target" in raw.columns:
        frame["target"] = raw["target"].astype(int).to_numpy()[held_out]
    return Reference(version, frame, vocabulary)
