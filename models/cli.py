"""``tweetstream train``, ``evaluate`` and ``trainer``: the model's commands.

Mounted by :mod:`tweetstream.cli`. MLflow and scikit-learn are imported only when a command
runs, so the rest of the CLI starts fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tweetstream.settings import Settings, get_settings

FAMILIES = ("fast", "transformer", "cascade")


def with_family(settings: Settings, family: str) -> Settings:
    """The settings with ``--family`` applied (one of :data:`FAMILIES`)."""
    if family not in FAMILIES:
        raise typer.BadParameter(
            f"{family!r}: choose one of {', '.join(FAMILIES)}", param_hint="--family"
        )
    return settings.model_copy(update={"model_family": family})


console = Console()


def train(
    data: Annotated[
        Path | None,
        typer.Option(
            help="train.csv, or the directory holding it [default: TWEETSTREAM_DATA_DIR]."
        ),
    ] = None,
    register: Annotated[bool, typer.Option(help="Register the model as a new version.")] = False,
    promote: Annotated[
        bool, typer.Option(help="Register, then run the promotion gate (may move @champion).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    family: Annotated[
        str | None,
        typer.Option(
            help="fast, transformer or cascade (default: TWEETSTREAM_MODEL_FAMILY, fast). "
            "transformer and cascade fine-tune all-MiniLM-L6-v2 on CPU (make transformer-base; "
            "about 5-10 minutes a fold on one thread) and are ~100x slower to serve: the gate "
            "refuses them unless TWEETSTREAM_GATE_MIN_TWEETS_PER_SECOND allows it."
        ),
    ] = None,
) -> None:
    """Cross-validate the baseline and production model, log both to MLflow, register, gate."""
    from models.train import summary
    from models.train import train as run_training

    s = get_settings()
    if family is not None:
        s = with_family(s, family)
    with console.status("training…") as spinner:
        report = run_training(
            s,
            data or s.data_dir,
            register_model=register,
            promote=promote,
            report=lambda msg: spinner.update(msg),
        )
    if as_json:
        print(json.dumps(summary(report)))
        return
    table = Table(title=f"models trained on {report.data.rows} labeled tweets")
    for col in ("model", "CV F1 (mean ± std)", "eval F1", "tweets/s (1 core)", "size"):
        table.add_column(col)
    for r in report.runs:
        table.add_row(
            r.name,
            f"{r.cv.mean:.4f} ± {r.cv.std:.4f}",
            f"{r.eval_score.f1:.4f}",
            f"{r.eval_score.tweets_per_second:,.0f}",
            f"{r.size_bytes / 1e6:.1f} MB",
        )
    console.print(table)
    if report.version:
        console.print(f"registered {s.model_name} version {report.version} (@challenger)")
    if report.gate:
        verdict = (
            "[green]promoted to @champion[/]"
            if report.gate.decision.promote
            else ("[yellow]refused[/]")
        )
        console.print(f"gate: {verdict}")
        for reason in report.gate.decision.reasons:
            console.print(f"  - {reason}")


def evaluate(
    data: Annotated[Path, typer.Option(help="A labeled CSV (text and target columns).")],
    model: Annotated[
        str | None, typer.Option(help="Model URI [default: models:/<model_name>@champion].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Score a labeled CSV with any model URI: n, accuracy, precision, recall, F1."""
    import mlflow

    from models.data import load_labeled
    from models.evaluate import evaluate as run_evaluation
    from models.serving import load_model

    s = get_settings()
    uri = model or f"models:/{s.model_name}@champion"
    frame = load_labeled(data, require_id=False)
    mlflow.set_tracking_uri(s.mlflow_tracking_uri)
    result = run_evaluation(load_model(uri), frame, uri)
    if as_json:
        print(json.dumps(result))
        return
    table = Table(title=f"{data} scored by {uri}")
    table.add_column("metric")
    table.add_column("value")
    for key, value in result.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def trainer(
    once: Annotated[bool, typer.Option("--once", help="Answer one request, then exit.")] = False,
) -> None:
    """Answer model.retrain requests: retrain on training data + labeled stream tweets,
    register a challenger, run the promotion gate (moves @champion only if it passes).

    Also requests a retraining itself (reason labels) every TWEETSTREAM_RETRAIN_EVERY_LABELS
    reviewed labels of reviewers not revoked (POST /labels).
    """
    from models.retrain import RetrainOutcome, serve

    def show(o: RetrainOutcome) -> None:
        if o.skipped:
            console.print(f"request {o.request_id}: already answered")
        else:
            verdict = "promoted" if o.promoted else "not promoted"
            console.print(f"request {o.request_id}: version {o.version} {verdict}")

    serve(get_settings(), once=once, on_outcome=show)
