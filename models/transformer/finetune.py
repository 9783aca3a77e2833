"""Fine-tune an encoder as a classifier with JAX + optax (the ``accurate`` extra).

AdamW (decoupled weight decay on matrices only, as BERT fine-tuning does) with a linear warmup
and a linear decay to 0, cross-entropy on mean-pooled sentence vectors, a fixed seed for the
new head and for the order of the tweets. No dropout: the run is deterministic for a seed.

Each batch is padded to its own longest sequence, rounded up to a multiple of
:data:`LENGTH_MULTIPLE`, and short final batches are filled with rows of weight 0: the jitted
step then sees at most ``max_tokens / LENGTH_MULTIPLE`` shapes, each compiled once, instead of
one compilation per distinct (batch, length).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.transformer.classifier import pad_batch
from models.transformer.encoder import EncoderConfig, Params, forward, init_head

__all__ = ["LENGTH_MULTIPLE", "TrainConfig", "batches", "finetune", "limit_threads"]

LENGTH_MULTIPLE = 8
#: a progress line every this many optimizer steps (and at the end of each epoch)
REPORT_EVERY = 50


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one fine-tuning run."""

    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 8e-5
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    seed: int = 42
    threads: int = 1


def limit_threads(threads: int) -> None:
    """Ask XLA's CPU backend for ``threads`` threads. Only effective before the backend is
    first used in this process (XLA reads its flags once): call it before any JAX work."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads" in flags:
        return  # set by the caller's environment or an earlier call: theirs wins
    extra = f"intra_op_parallelism_threads={threads}"
    if threads == 1:
        extra = f"--xla_cpu_multi_thread_eigen=false {extra}"
    os.environ["XLA_FLAGS"] = f"{flags} {extra}".strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def batches(
    seqs: Sequence[Sequence[int]],
    labels: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    pad_id: int,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """One epoch of shuffled ``(ids, mask, labels, weights)`` batches of exactly
    ``batch_size`` rows (fillers have weight 0)."""
    order = rng.permutation(len(seqs))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        filler = batch_size - len(rows)
        chosen = [seqs[i] for i in rows] + [[pad_id]] * filler
        ids, mask = pad_batch(chosen, pad_id, LENGTH_MULTIPLE)
        y = np.concatenate([labels[rows], np.zeros(filler, dtype=labels.dtype)])
        weights = np.concatenate([np.ones(len(rows)), np.zeros(filler)]).astype(np.float32)
        yield ids.astype(np.int32), mask.astype(np.int32), y.astype(np.int32), weights


def _optimizer(train: TrainConfig, steps: int) -> Any:
    """AdamW with linear warmup then linear decay to 0; no decay of biases and LayerNorms."""
    import jax
    import optax

    warmup = max(1, round(train.warmup_fraction * steps))
    schedule = optax.join_schedules(
        [
            optax.linear_schedule(0.0, train.learning_rate, warmup),
            optax.linear_schedule(train.learning_rate, 0.0, max(1, steps - warmup)),
        ],
        [warmup],
    )

    def decay_mask(params: Params) -> Any:
        return jax.tree_util.tree_map(lambda p: p.ndim >= 2, params)

    return optax.adamw(
        schedule, b1=0.9, b2=0.999, eps=1e-8, weight_decay=train.weight_decay, mask=decay_mask
    )


@functools.lru_cache(maxsize=4)
def _training(config: EncoderConfig, train: TrainConfig, steps: int) -> tuple[Any, Any]:
    """The optimizer and the jitted step ``(params, state, ids, mask, y, w) -> (params, state,
    loss)``. Cached: the folds of a cross-validation (same shapes, same step count) reuse the
    compiled step instead of compiling it again for every fit."""
    import jax
    import optax

    optimizer = _optimizer(train, steps)

    def loss_fn(params: Params, ids: Any, mask: Any, y: Any, w: Any) -> Any:
        logits = forward(params, ids, mask, config)
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        return (losses * w).sum() / w.sum()

    def step(params: Params, state: Any, ids: Any, mask: Any, y: Any, w: Any) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(params, ids, mask, y, w)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    return optimizer, jax.jit(step)


def finetune(
    base: Params,
    config: EncoderConfig,
    seqs: Sequence[Sequence[int]],
    labels: np.ndarray,
    train: TrainConfig,
    pad_id: int,
    progress: Callable[[str], None],
) -> Params:
    """Fine-tune ``base`` (plus a new head) on token sequences and 0/1 ``labels``; return the
    trained parameters as numpy float32."""
    limit_threads(train.threads)
    import jax

    if not len(seqs):
        raise ValueError("no training tweets")
    steps = train.epochs * math.ceil(len(seqs) / train.batch_size)
    optimizer, step = _training(config, train, steps)
    params = jax.tree_util.tree_map(
        jax.numpy.asarray, init_head(base, config.hidden_size, train.seed)
    )
    state = optimizer.init(params)
    rng = np.random.default_rng(train.seed)
    done = 0
    for epoch in range(1, train.epochs + 1):
        losses = []
        for ids, mask, y, w in batches(seqs, np.asarray(labels), train.batch_size, rng, pad_id):
            params, state, loss = step(params, state, ids, mask, y, w)
            losses.append(loss)
            done += 1
            if done % REPORT_EVERY == 0:
                progress(f"step {done}/{steps} (epoch {epoch}): loss {float(loss):.4f}")
        mean = float(np.mean([float(v) for v in losses]))
        progress(f"epoch {epoch}/{train.epochs} done: mean loss {mean:.4f}")
    trained: Params = jax.tree_util.tree_map(lambda p: np.asarray(p, dtype=np.float32), params)
    return trained
