"""Benchmark the tweetstream models: CV F1 (plain and duplicate-grouped), throughput, size.

Usage (from the repo root)::

    .venv/bin/python benchmarks/model_bench.py --data ../shared/data --folds 5
    .venv/bin/python benchmarks/model_bench.py --candidates all      # research candidates

For every model it prints, side by side:

* ``cv_f1``   - StratifiedKFold F1 of the positive class, mean +- std over folds. Near-duplicate
  tweets land in both train and test folds, so this is optimistic.
* ``grp_f1``  - StratifiedGroupKFold F1 with groups = cleaned text, so duplicates never cross
  folds. This is the honest number the production model is chosen on.
* ``tweets/s`` - batch throughput of ``models.serving.predict`` (what the worker and the API
  call) on ONE core (BLAS/OpenMP pinned to one thread), raw texts and keywords in, cleaning
  included, best of 3 over the full train set (``models.evaluate.tweets_per_second``).
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
from sklearn.decomposition import TruncatedSVD  # noqa: E402
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
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, Normalizer, StandardScaler  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from models.cleaning import clean_text, clean_texts  # noqa: E402
from models.evaluate import tweets_per_second  # noqa: E402
from models.pipeline import (  # noqa: E402
    RANDOM_STATE,
    Branch,
    DedupLabels,
    F1Threshold,
    _char_tfidf,
    _clean_keyword,
    _keyword_onehot,
    _prefix_tfidf,
    _word_tfidf,
    assemble,
    build_baseline,
    build_production,
    to_features,
    word_tokens,
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


# --- round 2 (docs/model_research.md, "Round 2"): none adopted ------------------------------


def _clean_frame_plus(df: pd.DataFrame) -> pd.DataFrame:
    """Cleaned text/keyword plus ``textkw`` (text + ``kw_`` keyword tokens) and ``raw`` text."""
    feats = to_features(df)
    text = [clean_text(t) for t in feats["text"]]
    kws = [_clean_keyword(k) for k in feats["keyword"]]
    textkw = [
        " ".join([t, *(f"kw_{w}" for w in k.split())]) for t, k in zip(text, kws, strict=True)
    ]
    return pd.DataFrame(
        {"text": text, "keyword": kws, "textkw": textkw, "raw": list(feats["text"])},
        index=feats.index,
    )


def _surface_counts(raw: Any) -> np.ndarray:
    """log1p counts of URL/@/#/!/?/digits, log length (chars, words), ALL-CAPS letter share."""
    rows = []
    for s in np.asarray(raw, dtype=object).ravel():
        letters = sum(c.isalpha() for c in s) or 1
        counts = [s.count(t) for t in ("http", "@", "#", "!", "?")]
        counts += [sum(c.isdigit() for c in s), len(s), len(s.split())]
        rows.append([*np.log1p(counts), sum(c.isupper() for c in s) / letters])
    return np.asarray(rows, dtype=np.float64)


def _assemble_plus(branches: list[Branch], clf: Any) -> Pipeline:
    return Pipeline(
        [
            ("clean", FunctionTransformer(_clean_frame_plus)),
            ("features", ColumnTransformer(branches, sparse_threshold=1.0)),
            ("clf", clf),
        ]
    )


def _word13_tokens(doc: str) -> list[str]:
    """Word 1-3-grams of cleaned text (the production word block is 1-2-grams)."""
    w = doc.split()
    return word_tokens(doc) + [f"{a} {b} {c}" for a, b, c in zip(w, w[1:], w[2:], strict=False)]


def _prod_features(**word: Any) -> list[Branch]:
    return [("word", _word_tfidf(**word), "text"), ("prefix", _prefix_tfidf(), "text"), _kw()]


def _kwtext() -> Pipeline:
    """Keyword as ``kw_`` tokens appended to the text (inside the word block), no one-hot."""
    branches: list[Branch] = [
        ("word", _word_tfidf(), "textkw"),
        ("prefix", _prefix_tfidf(), "text"),
    ]
    return _assemble_plus(branches, _lr(1.0, True))


def _surface() -> Pipeline:
    """Production features + standardised surface counts of the raw text."""
    counts = make_pipeline(FunctionTransformer(_surface_counts), StandardScaler())
    return _assemble_plus([*_prod_features(), ("surface", counts, "raw")], _lr(1.0, True))


def _lsa(k: int) -> Pipeline:
    """Production features + k-dim LSA (TruncatedSVD of the word TF-IDF, L2-normalised)."""
    svd = make_pipeline(_word_tfidf(), TruncatedSVD(k, random_state=RANDOM_STATE), Normalizer())
    return assemble([*_prod_features(), ("lsa", svd, "text")], _lr(1.0, True))


def _vote_lr_svc() -> Pipeline:
    svc = CalibratedClassifierCV(
        LinearSVC(C=0.1, class_weight="balanced", random_state=RANDOM_STATE), cv=3
    )
    vote = VotingClassifier([("lr", _lr(1.0, True)), ("svc", svc)], voting="soft")
    return assemble(_word_prefix_kw(), vote)


CANDIDATES: dict[str, Callable[[], Any]] = {
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
    # round 2: threshold, label denoising, feature tweaks, C, ensembles
    "thr_f1": lambda: F1Threshold(build_production()),
    "dedup_majority": lambda: DedupLabels(build_production(), "majority"),
    "dedup_drop": lambda: DedupLabels(build_production(), "drop"),
    "kwtext": _kwtext,
    "surface": _surface,
    "word13": lambda: assemble(_prod_features(analyzer=_word13_tokens), _lr(1.0, True)),
    "word_mindf1": lambda: assemble(_prod_features(min_df=1), _lr(1.0, True)),
    "prod_nosublin": lambda: assemble(_prod_features(sublinear_tf=False), _lr(1.0, True)),
    "prod_nobal": lambda: assemble(_word_prefix_kw(), _lr(1.0)),
    "prod_C0.75": lambda: assemble(_word_prefix_kw(), _lr(0.75, True)),
    "prod_C1.5": lambda: assemble(_word_prefix_kw(), _lr(1.5, True)),
    "lsa300": lambda: _lsa(300),
    "vote_lr_svc": _vote_lr_svc,
}


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


def load_train(data_dir: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Read train.csv with a real CSV parser; return raw features and labels."""
    df = pd.read_csv(data_dir / "train.csv")
    return df[["text", "keyword"]], df["target"].to_numpy()


def cv_f1(
    make: Callable[[], Any],
    x: pd.DataFrame,
    y: np.ndarray,
    splitter: Any,
    groups: np.ndarray | None,
    jobs: int,
) -> np.ndarray:
    """Positive-class F1 per fold."""
    return cross_val_score(make(), x, y, groups=groups, cv=splitter, scoring="f1", n_jobs=jobs)


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
        "tweets/s": f"{tweets_per_second(model, x, repeats=3):,.0f}",
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
