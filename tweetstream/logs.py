"""Logging setup: called once, by the CLI. Library modules only use ``getLogger(__name__)``."""

from __future__ import annotations

import json
import logging
import os
import sys


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to ship to CloudWatch or grep with jq."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO", json_logs: bool = False) -> None:
    """Configure the root logger for a CLI process."""
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("kafka", "botocore", "urllib3", "aiokafka", "mlflow"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # MLflow warns on every cloudpickle save; we chose cloudpickle on purpose (see models/train.py)
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
    # MLflow prints a progress bar per artifact download and a link per run: noise in a CLI
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
