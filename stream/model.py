"""The served model and its hot reload: follow ``@champion``, swap between batches.

The worker reads :attr:`ModelHolder.current` once per batch, so a batch is classified by
exactly one model version and its records carry that version. A new version is loaded in a
background thread; only a fully loaded model is swapped in. A failed load keeps the old one.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from models.evaluate import ProbabilisticModel, load_model
from models.registry import CHAMPION, alias_version, client_for
from tweetstream.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to serve, with the registry coordinates it came from."""

    name: str
    version: str
    model: ProbabilisticModel


class ModelHolder:
    """Holds the current champion; :meth:`refresh` moves to a new one if the alias moved."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.current: LoadedModel | None = None
        self._lock = threading.Lock()  # one refresh at a time
        self.failed_version: str | None = None

    def champion_version(self) -> str | None:
        import mlflow

        mlflow.set_tracking_uri(self.settings.mlflow_tracking_uri)
        return alias_version(client_for(self.settings), self.settings.model_name, CHAMPION)

    def refresh(self) -> bool:
        """Load the champion if it is new; True if the served model changed."""
        with self._lock:
            try:
                version = self.champion_version()
            except Exception as err:  # noqa: BLE001 - registry down: keep serving
                log.warning("cannot ask the registry for @%s: %s", CHAMPION, err)
                return False
            if version is None or (self.current and self.current.version == version):
                return False
            uri = f"models:/{self.settings.model_name}/{version}"
            try:
                loaded = LoadedModel(self.settings.model_name, version, load_model(uri))
            except Exception as err:  # noqa: BLE001 - a bad version must not stop the stream
                if self.failed_version != version:
                    log.error(
                        "loading %s failed, keeping version %s: %s",
                        uri,
                        self.current.version if self.current else "none",
                        err,
                    )
                self.failed_version = version
                return False
            before = self.current.version if self.current else "none"
            self.current = loaded
            log.warning("serving %s version %s (was %s)", loaded.name, version, before)
            return True
