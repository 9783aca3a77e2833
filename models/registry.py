"""The MLflow model registry: aliases (``champion``, ``challenger``) and the gate's outcome.

Aliases, not the deprecated stages. ``run_gate`` is the library function the retraining
loop calls: it scores challenger and champion on the same fixed evaluation set, decides,
writes the decision as tags on the challenger's version, and moves ``champion`` only on a pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from models.data import split_train_eval
from models.evaluate import score
from models.gate import Decision, GatePolicy, Score, decide
from models.pipeline import build_baseline, to_features
from models.serving import load_model
from tweetstream.settings import Settings

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class GateOutcome:
    """What the gate did to one model version."""

    version: str
    decision: Decision
    champion_before: str | None
    champion_after: str | None


def client_for(settings: Settings) -> MlflowClient:
    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri)


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version an alias points at, or None if it is not set (or no such model)."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def register(client: MlflowClient, settings: Settings, model_uri: str, run_id: str) -> str:
    """Register ``model_uri`` as a new version, tagged with its run; alias it ``challenger``."""
    import mlflow

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    version = mlflow.register_model(model_uri, settings.model_name, tags={"run_id": run_id})
    client.set_registered_model_alias(settings.model_name, CHALLENGER, version.version)
    return str(version.version)


def _baseline_score(labeled: pd.DataFrame, train: pd.DataFrame, evalset: pd.DataFrame) -> Score:
    baseline = build_baseline().fit(to_features(train), train["target"])
    return score(baseline, evalset, speed_df=labeled)


def run_gate(settings: Settings, version: str, labeled: pd.DataFrame) -> GateOutcome:
    """Score challenger ``version`` against the champion (or the seed baseline) and act."""
    client = client_for(settings)
    name = settings.model_name
    train, evalset = split_train_eval(labeled, settings.eval_fraction)
    challenger = score(load_model(f"models:/{name}/{version}"), evalset, speed_df=labeled)
    champion_before = alias_version(client, name, CHAMPION)
    if champion_before is not None and champion_before != version:
        reference = score(
            load_model(f"models:/{name}/{champion_before}"), evalset, speed_df=labeled
        )
        is_champion = True
    else:
        reference, is_champion = _baseline_score(labeled, train, evalset), False
    decision = decide(
        challenger,
        reference,
        float(evalset["target"].mean()),
        GatePolicy.from_settings(settings),
        reference_is_champion=is_champion,
    )
    _record(client, name, version, decision, champion_before)
    champion_after = champion_before
    if decision.promote:
        client.set_registered_model_alias(name, CHAMPION, version)
        champion_after = version
    log.info("gate on %s v%s: %s", name, version, "; ".join(decision.reasons))
    return GateOutcome(version, decision, champion_before, champion_after)


def _record(
    client: MlflowClient, name: str, version: str, decision: Decision, before: str | None
) -> None:
    tags: dict[str, Any] = decision.as_tags()
    tags["gate.champion_before"] = before or "none"
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, str(value))
