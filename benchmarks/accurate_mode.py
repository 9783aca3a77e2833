"""Accurate mode, measured on the same cross-validation folds: the fast model, the fine-tuned
transformer, the cascade of the two at several margins, and the fast model distilled from the
transformer (issue 16).

    .venv/bin/python -W ignore benchmarks/accurate_mode.py --folds 5 --json

The folds are those of ``tweetstream train``: stratified, seeded, over the training side of
``train.csv`` (the gate's evaluation tenth is never touched). In each fold:

1. the fast model (``models.pipeline.build_production``) and the transformer
   (``models.transformer.TransformerClassifier``, int8 as served) are fitted on the fold's
   training rows and give probabilities for its held-out rows;
2. the cascade's F1 at each margin follows from those two (``models.cascade.cascade_curve``):
   no extra training;
3. the transformer labels the unlabeled tweets (``test.csv``: what the demo streams and
   the archive keeps), and the fast model is refitted on the fold's human labels plus the
   first k of them; its F1 on the held-out rows, against k = 0, is the distillation curve.

Speed is measured last, on one thread, through ``models.serving.predict`` in batches of
``--batch``, on ``test.csv``. ``--out DIR`` keeps every fold's probabilities (``.npz``).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from models.cascade import cascade_curve, cascade_speed
from models.data import load_labeled, split_train_eval
from models.pipeline import build_production, to_features
from models.serving import THRESHOLD, model_input, predict
from models.train import SEED
from models.transformer import TransformerClassifier
from tweetstream.settings import Settings

MARGINS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.51)


def _f1(y: np.ndarray, p: np.ndarray) -> float:
    return float(f1_score(y, p >= THRESHOLD))


def _speed(model: Any, frame: pd.DataFrame, batch: int) -> float:
    """Tweets/s through the one inference path, best of two passes."""
    texts, keywords = list(frame["text"]), list(frame["keyword"])
    best = 0.0
    for _ in range(2):
        started = time.perf_counter()
        for i in range(0, len(texts), batch):
            predict(model, texts[i : i + batch], keywords[i : i + batch])
        best = max(best, len(texts) / (time.perf_counter() - started))
    return best


def _mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="training and inference threads")
    parser.add_argument("--distill", default="1000,3000,all", help="distilled tweets per fit")
    parser.add_argument("--batch", type=int, default=1000, help="speed: tweets per call")
    parser.add_argument("--rows", type=int, default=0, help="use only this many training rows")
    parser.add_argument("--out", type=Path, default=None, help="keep each fold's probabilities")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    os.environ.setdefault("RAYON_NUM_THREADS", str(args.threads))

    s = Settings()
    labeled = load_labeled(s.data_dir / "train.csv")
    train, _ = split_train_eval(labeled, s.eval_fraction)
    if args.rows:
        train = train.sample(n=args.rows, random_state=SEED)
    pool = to_features(pd.read_csv(s.data_dir / "test.csv").fillna({"keyword": ""}))
    pool = pool.sample(frac=1.0, random_state=SEED).reset_index(drop=True)
    sizes = [len(pool) if k == "all" else min(int(k), len(pool)) for k in args.distill.split(",")]
    X, y = to_features(train), train["target"].to_numpy()
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=SEED)

    fast_f1: list[float] = []
    tr_f1: list[float] = []
    curves: list[list[Any]] = []
    distilled: dict[int, list[float]] = {k: [] for k in sizes}
    fit_seconds: list[float] = []
    models: tuple[Any, Any] | None = None
    for k, (fit_idx, test_idx) in enumerate(folds.split(X, y)):
        fx, fy, tx, ty = X.iloc[fit_idx], y[fit_idx], X.iloc[test_idx], y[test_idx]
        fast = build_production().fit(fx, fy)
        p_fast = fast.predict_proba(tx)[:, 1]
        started = time.perf_counter()
        transformer = TransformerClassifier(
            epochs=args.epochs, threads=args.threads, progress=lambda m: print(f"  {m}")
        ).fit(fx, fy)
        fit_seconds.append(time.perf_counter() - started)
        p_tr = transformer.predict_proba(tx)[:, 1]
        teacher = (transformer.predict_proba(pool)[:, 1] >= THRESHOLD).astype(int)
        fast_f1.append(_f1(ty, p_fast))
        tr_f1.append(_f1(ty, p_tr))
        curves.append(cascade_curve(ty, p_fast, p_tr, MARGINS))
        for n in sizes:
            student = build_production().fit(
                pd.concat([fx, pool.head(n)]), np.concatenate([fy, teacher[:n]])
            )
            distilled[n].append(_f1(ty, student.predict_proba(tx)[:, 1]))
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            np.savez(args.out / f"fold{k}.npz", y=ty, fast=p_fast, transformer=p_tr)
        models = (fast, transformer)
        print(
            f"fold {k}: fast F1 {fast_f1[-1]:.4f}, transformer {tr_f1[-1]:.4f} "
            f"(fit {fit_seconds[-1]:.0f} s), distilled "
            + ", ".join(f"{n}: {distilled[n][-1]:.4f}" for n in sizes),
            flush=True,
        )

    assert models is not None
    fast, transformer = models
    speed_frame = model_input(list(pool["text"]), list(pool["keyword"]))
    fast_tps = _speed(fast, speed_frame, args.batch)
    tr_tps = _speed(transformer, speed_frame, args.batch)
    curve: list[dict[str, Any]] = []
    for i, margin in enumerate(MARGINS):
        f1s = [c[i].f1 for c in curves]
        share = float(np.mean([c[i].share for c in curves]))
        curve.append(
            {
                "margin": margin,
                "f1": _mean_std(f1s),
                "share": share,
                "tweets_per_s": cascade_speed(share, fast_tps, tr_tps),
            }
        )
    summary: dict[str, Any] = {
        "folds": args.folds,
        "train_rows": len(train),
        "fast_f1": _mean_std(fast_f1),
        "transformer_f1": _mean_std(tr_f1),
        "fast_f1_folds": fast_f1,
        "transformer_f1_folds": tr_f1,
        "cascade": curve,
        "distilled_f1": {
            str(n): {**_mean_std(v), "gain": _mean_std(list(np.subtract(v, fast_f1)))}
            for n, v in distilled.items()
        },
        "fast_tweets_per_s": fast_tps,
        "transformer_tweets_per_s": tr_tps,
        "fast_size_bytes": len(pickle.dumps(fast)),
        "transformer_size_bytes": len(pickle.dumps(transformer)),
        "transformer_fit_seconds": fit_seconds,
        "pool": len(pool),
        "loadavg_1m": os.getloadavg()[0],
    }
    print("\nmodel         CV F1             tweets/s (1 thread)")
    print(
        f"fast          {summary['fast_f1']['mean']:.4f} ± {summary['fast_f1']['std']:.4f}"
        f"   {fast_tps:,.0f}"
    )
    print(
        f"transformer   {summary['transformer_f1']['mean']:.4f} ± "
        f"{summary['transformer_f1']['std']:.4f}   {tr_tps:,.0f}"
    )
    print("\ncascade: margin, F1, share to the transformer, tweets/s")
    for point in curve:
        print(
            f"  {point['margin']:.2f}  {point['f1']['mean']:.4f} ± {point['f1']['std']:.4f}  "
            f"{point['share']:.3f}  {point['tweets_per_s']:,.0f}"
        )
    print("\ndistilled: tweets added, F1, gain over the fast model on the same fold")
    for n, v in summary["distilled_f1"].items():
        print(
            f"  {n:>6}  {v['mean']:.4f} ± {v['std']:.4f}  {v['gain']['mean']:+.4f} ± "
            f"{v['gain']['std']:.4f}"
        )
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
