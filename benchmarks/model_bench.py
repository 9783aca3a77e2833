"""Benchmark the tweetstream models: CV F1 (plain and duplicate-grouped), throughput, size.

Usage (from the repo root)::

    .venv/bin/python benchmarks/model_bench.py --data ../shared/data --folds 5
    .venv/bin/python benchmarks/model_bench.py --candidates all      # research candidates

For every model it prints, side by side:

* ``cv_f1``   - StratifiedKFold F1 of the positive class, mean +- std over folds. Near-duplicate
  tweets land in both train and test folds, so this is optimistic.
* ``grp_f1``  - StratifiedGroupKFold F1 with groups = cleaned text, so duplicates never cross
  folds. This is the honest number the production model is chosen on.
* ``tweets/s`` - batch ``predict_proba`` throughput on ONE core (BLAS/OpenMP pinned to one
  thread), raw DataFrame in, cleaning included, best of 3 over the full train set.
* ``fit_s``   - wall time of one fit on the full train set.
* ``bytes``   - size of the pickled fitted pipeline.
"""

from __future__ import annotations

import os

# Pin native thread pools BEFORE numpy/scipy/sklearn are imported: throughput is quoted per
# core and the thread pools read these variables only once, at import time.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import pickle  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import sparse  # noqa: E402
from sklearn.base import BaseEstimator, TransformerMixin  # noqa: E402
from sklearn.calibration import CalibratedClassifierCV  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.ensemble import VotingClassifier  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression, SGDClassifier  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    RepeatedStratifiedKFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.naive_bayes import ComplementNB  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

# Make ``models`` importable when the script is run as ``python benchmarks/model_bench.py``.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.cleaning import clean_texts  # noqa: E402
from models.pipeline import (  # noqa: E402
    RANDOM_STATE,
    Branch,
    _char_tfidf,
    _keyword_onehot,
    _prefix_tfidf,
    _word_tfidf,
    assemble,
    build_baseline,
    build_production,
    to_features,
)

# --------------------------------------------------------------------------------------------
# Research candidates. Only ``baseline`` and ``production`` ship; the rest document the search
# (docs/model_research.md) and are kept so the numbers there can be reproduced.
# --------------------------------------------------------------------------------------------


class LogCountRatio(BaseEstimator, TransformerMixin):
    """NB-SVM style feature scaling (Wang & Manning 2012): x * log-count ratio r."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, X: sparse.spmatrix, y: np.ndarray) -> LogCountRatio:
        y = np.asarray(y)
        p = self.alpha + np.asarray(X[y == 1].sum(axis=0)).ravel()
        q = self.alpha + np.asarray(X[y == 0].sum(axis=0)).ravel()
        self.r_ = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
        return self

    def transform(self, X: sparse.spmatrix) -> sparse.csr_matrix:
        return sparse.csr_matrix(X).multiply(self.r_).tocsr()


def _lr(c: float = 1.0, balanced: bool = False) -> LogisticRegression:
    weight = "balanced" if balanced else None
    return LogisticRegression(C=c, class_weight=weight, max_iter=2000, random_state=RANDOM_STATE)


def _kw() -> Branch:
    return ("keyword", _keyword_onehot(), ["keyword"])


def _word_prefix_kw() -> list[Branch]:
    """The production feature set."""
    return [("word", _word_tfidf(), "text"), ("prefix", _prefix_tfidf(), "text"), _kw()]


def _word_char_kw(**char: Any) -> list[Branch]:
    return [("word", _word_tfidf(), "text"), ("char", _char_tfidf(**char), "text"), _kw()]


def _raw_baseline() -> Pipeline:
    """The seed exactly: no clean_text, sklearn's default lower-casing/tokenising only."""
    vec = TfidfVectorizer(ngram_range=(1, 2), stop_words="english", min_df=2, max_df=0.75)
    return Pipeline(
        [
            ("select", FunctionTransformer(to_features)),
            ("features", ColumnTransformer([("word", vec, "text")])),
            ("clf", _lr()),
        ]
    )


def _nblr(c: float) -> Pipeline:
    """Binary word 1-2-gram counts scaled by NB log-count ratios, into LR (+ keyword)."""
    words = Pipeline(
        [("tf", _word_tfidf(use_idf=False, norm=None, binary=True)), ("nb", LogCountRatio())]
    )
    return assemble([("word", words, "text"), _kw()], _lr(c, True))


def _svc_calibrated() -> Pipeline:
    svc = LinearSVC(C=0.1, class_weight="balanced", random_state=RANDOM_STATE)
    return assemble(_word_prefix_kw(), CalibratedClassifierCV(svc, cv=3))


def _sgd() -> Pipeline:
    sgd = SGDClassifier(
        loss="modified_huber", alpha=1e-4, class_weight="balanced", random_state=RANDOM_STATE
    )
    return assemble(_word_prefix_kw(), sgd)


def _vote_lr_cnb() -> Pipeline:
    vote = VotingClassifier(
        [("lr", _lr(1.0, True)), ("cnb", ComplementNB(alpha=0.3))], voting="soft"
    )
    return assemble(_word_prefix_kw(), vote)


CANDIDATES: dict[str, Callable[[], Pipeline]] = {
    "baseline": build_baseline,
    "production": build_production,
    "raw_baseline": _raw_baseline,
    # word n-grams (no stop words, sublinear tf), keyword, class weights
    "word_lr": lambda: assemble([("word", _word_tfidf(), "text")], _lr(1.0)),
    "word_kw_lr": lambda: assemble([("word", _word_tfidf(), "text"), _kw()], _lr(1.0)),
    "word_kw_lr_bal": lambda: assemble([("word", _word_tfidf(), "text"), _kw()], _lr(1.0, True)),
    "word_kwtok_lr_bal": lambda: assemble(
        [("word", _word_tfidf(), "text"), ("keyword", TfidfVectorizer(), "keyword")],
        _lr(1.0, True),
    ),
    # char n-grams
    "char24_kw_lr_bal": lambda: assemble([("char", _char_tfidf(), "text"), _kw()], _lr(1.0, True)),
    "wc24_kw_lr_bal": lambda: assemble(_word_char_kw(), _lr(1.0, True)),
    "wc35_kw_lr_bal": lambda: assemble(_word_char_kw(ngram_range=(3, 5)), _lr(1.0, True)),
    "wc33_kw_lr_bal": lambda: assemble(_word_char_kw(ngram_range=(3, 3)), _lr(1.0, True)),
    "wchar34_kw_lr_bal": lambda: assemble(
        _word_char_kw(analyzer="char", ngram_range=(3, 4)), _lr(1.0, True)
    ),
    # production features, C sweep
    "prod_C0.5": lambda: assemble(_word_prefix_kw(), _lr(0.5, True)),
    "prod_C2": lambda: assemble(_word_prefix_kw(), _lr(2.0, True)),
    "prod_C5": lambda: assemble(_word_prefix_kw(), _lr(5.0, True)),
    # other classifiers
    "nblr_kw_C1": lambda: _nblr(1.0),
    "nblr_kw_C0.1": lambda: _nblr(0.1),
    "svc_cal": _svc_calibrated,
    "sgd_mhuber": _sgd,
    "cnb_word_kw": lambda: assemble(
        [("word", _word_tfidf(), "text"), _kw()], ComplementNB(alpha=0.3)
    ),
    "vote_lr_cnb": _vote_lr_cnb,
}


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


def load_train(data_dir: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Read train.csv with a real CSV parser; return raw features and labels."""
    df = pd.read_csv(data_dir / "train.csv")
    return df[["text", "keyword"]], df["target"].to_numpy()


def cv_f1(
    make: Callable[[], Pipeline],
    x: pd.DataFrame,
    y: np.ndarray,
    splitter: Any,
    groups: np.ndarray | None,
    jobs: int,
) -> np.ndarray:
    """Positive-class F1 per fold."""
    return cross_val_score(make(), x, y, groups=groups, cv=splitter, scoring="f1", n_jobs=jobs)


def throughput(model: Pipeline, x: pd.DataFrame, repeats: int = 3) -> float:
    """Best-of-``repeats`` batch predict_proba throughput (tweets/s) on one thread."""
    best = float("inf")
    with threadpool_limits(limits=1):
        for _ in range(repeats):
            start = time.perf_counter()
            model.predict_proba(x)
            best = min(best, time.perf_counter() - start)
    return len(x) / best


def measure(
    name: str, x: pd.DataFrame, y: np.ndarray, groups: np.ndarray, args: argparse.Namespace
) -> dict[str, Any]:
    """All numbers for one candidate."""
    make = CANDIDATES[name]
    if args.repeats > 1:
        plain_cv: Any = RepeatedStratifiedKFold(
            n_splits=args.folds, n_repeats=args.repeats, random_state=RANDOM_STATE
        )
    else:
        plain_cv = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=RANDOM_STATE)
    plain = cv_f1(make, x, y, plain_cv, None, args.jobs)
    grouped_scores = []
    for rep in range(args.repeats):  # StratifiedGroupKFold has no "repeated" variant
        grp_cv = StratifiedGroupKFold(
            n_splits=args.folds, shuffle=True, random_state=RANDOM_STATE + rep
        )
        grouped_scores.append(cv_f1(make, x, y, grp_cv, groups, args.jobs))
    grouped = np.concatenate(grouped_scores)
    model = make()
    with threadpool_limits(limits=1):
        start = time.perf_counter()
        model.fit(x, y)
        fit_s = time.perf_counter() - start
    return {
        "model": name,
        "cv_f1": f"{plain.mean():.4f} ± {plain.std():.4f}",
        "grp_f1": f"{grouped.mean():.4f} ± {grouped.std():.4f}",
        "tweets/s": f"{throughput(model, x):,.0f}",
        "fit_s": f"{fit_s:.1f}",
        "bytes": f"{len(pickle.dumps(model)):,}",
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    """Plain fixed-width table."""
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    print("  ".join("-" * widths[c] for c in cols))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in cols), flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="data dir")
    parser.add_argument("--folds", type=int, default=5, help="CV folds")
    parser.add_argument("--repeats", type=int, default=1, help="CV repeats (different seeds)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel CV fits (processes)")
    parser.add_argument(
        "--candidates",
        default="baseline,production",
        help=f"comma list or 'all'; known: {', '.join(CANDIDATES)}",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    names = list(CANDIDATES) if args.candidates == "all" else args.candidates.split(",")
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        raise SystemExit(f"unknown candidates: {unknown}")
    x, y = load_train(args.data)
    groups = np.asarray(clean_texts(x["text"].fillna("").astype(str)))
    print(
        f"{len(x)} tweets, {len(set(groups))} distinct cleaned texts, "
        f"{args.folds} folds x {args.repeats} repeats\n"
    )
    rows = []
    for name in names:
        rows.append(measure(name, x, y, groups, args))
        print(f"[done] {name}: {rows[-1]}", file=sys.stderr, flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
