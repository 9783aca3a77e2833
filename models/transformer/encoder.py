"""A BERT encoder with mean pooling and a linear head, written in ``jax.numpy``.

The architecture is the one of all-MiniLM-L6-v2 (and of BERT): absolute position embeddings,
post-LayerNorm blocks, exact (erf) GELU, token type 0 everywhere. :mod:`.export` writes the
same computation as an ONNX graph; the tests check that both give the same logits.

Parameters are a plain pytree (nested dicts and a list of layers) of ``[in, out]`` matrices, so
that ``x @ w + b`` reads the same here and in the ONNX graph.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "MASK_BIAS",
    "EncoderConfig",
    "Params",
    "forward",
    "init_head",
    "init_tiny",
]

#: a nested dict of arrays: ``embeddings``, ``layers`` (a list), ``head``
Params = dict[str, Any]

#: added to the attention scores of padding positions: exp() of it is exactly 0 in float32, so
#: a sequence's logits do not depend on how much padding its batch has
MASK_BIAS = -1e9


@dataclass(frozen=True)
class EncoderConfig:
    """The shape of a BERT encoder (the fields of a Hugging Face ``config.json`` we use)."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @property
    def head_size(self) -> int:
        """Width of one attention head."""
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EncoderConfig:
        """Read a BERT ``config.json``; refuse models this forward pass does not implement."""
        problems = []
        if data.get("hidden_act", "gelu") != "gelu":
            problems.append(f"hidden_act {data.get('hidden_act')!r} (only 'gelu')")
        if data.get("position_embedding_type", "absolute") != "absolute":
            problems.append("position_embedding_type (only 'absolute')")
        if data.get("hidden_size", 0) % max(data.get("num_attention_heads", 1), 1):
            problems.append("hidden_size not a multiple of num_attention_heads")
        if problems:
            raise ValueError("unsupported encoder configuration: " + "; ".join(problems))
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})

    def to_json(self) -> dict[str, Any]:
        """A ``config.json`` that :meth:`from_json` (and Hugging Face) can read back."""
        return {"model_type": "bert", "hidden_act": "gelu", **asdict(self)}


def _dense(rng: np.random.Generator, n_in: int, n_out: int, std: float) -> dict[str, np.ndarray]:
    return {
        "w": rng.normal(0.0, std, (n_in, n_out)).astype(np.float32),
        "b": rng.normal(0.0, std, n_out).astype(np.float32),
    }


def _norm(rng: np.random.Generator, width: int, std: float) -> dict[str, np.ndarray]:
    # near 1 and 0 but not exactly, so a test notices a LayerNorm whose scale or bias is ignored
    return {
        "g": (1.0 + rng.normal(0.0, std, width)).astype(np.float32),
        "b": rng.normal(0.0, std, width).astype(np.float32),
    }


def init_tiny(config: EncoderConfig, seed: int, std: float = 0.02) -> Params:
    """Random encoder parameters of ``config`` (with a 2-class head), as numpy float32.

    For tests and for training from scratch: nothing is downloaded. A larger ``std`` than
    BERT's 0.02 gives logits far enough from 0 for equivalence tests to mean something.
    """
    rng = np.random.default_rng(seed)
    h, f = config.hidden_size, config.intermediate_size

    def table(rows: int) -> np.ndarray:
        return rng.normal(0.0, std, (rows, h)).astype(np.float32)

    return {
        "embeddings": {
            "word": table(config.vocab_size),
            "position": table(config.max_position_embeddings),
            "token_type": table(config.type_vocab_size),
            "norm": _norm(rng, h, std),
        },
        "layers": [
            {
                "query": _dense(rng, h, h, std),
                "key": _dense(rng, h, h, std),
                "value": _dense(rng, h, h, std),
                "output": _dense(rng, h, h, std),
                "attention_norm": _norm(rng, h, std),
                "intermediate": _dense(rng, h, f, std),
                "ffn_output": _dense(rng, f, h, std),
                "ffn_norm": _norm(rng, h, std),
            }
            for _ in range(config.num_hidden_layers)
        ],
        "head": _dense(rng, h, 2, std),
    }


def init_head(params: Params, hidden_size: int, seed: int, n_classes: int = 2) -> Params:
    """``params`` with a new classification head (normal 0.02 weights, zero bias, as BERT)."""
    rng = np.random.default_rng(seed)
    head = {
        "w": rng.normal(0.0, 0.02, (hidden_size, n_classes)).astype(np.float32),
        "b": np.zeros(n_classes, dtype=np.float32),
    }
    return {**params, "head": head}


def _layer_norm(x: Any, norm: dict[str, Any], eps: float) -> Any:
    import jax.numpy as jnp

    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + eps) * norm["g"] + norm["b"]


def _linear(x: Any, dense: dict[str, Any]) -> Any:
    return x @ dense["w"] + dense["b"]


def _attention(x: Any, layer: Params, bias: Any, config: EncoderConfig) -> Any:
    """Multi-head self-attention; ``bias`` is ``[batch, 1, 1, seq]`` (0 or :data:`MASK_BIAS`)."""
    import jax

    batch, seq, _ = x.shape
    heads, size = config.num_attention_heads, config.head_size

    def split(t: Any) -> Any:  # [B, T, H] -> [B, heads, T, size]
        return t.reshape(batch, seq, heads, size).transpose(0, 2, 1, 3)

    q, k, v = (split(_linear(x, layer[n])) for n in ("query", "key", "value"))
    scores = (q @ k.transpose(0, 1, 3, 2)) * (1.0 / math.sqrt(size)) + bias
    context = jax.nn.softmax(scores, axis=-1) @ v
    context = context.transpose(0, 2, 1, 3).reshape(batch, seq, config.hidden_size)
    return _linear(context, layer["output"])


def _block(x: Any, layer: Params, bias: Any, config: EncoderConfig) -> Any:
    """One post-LayerNorm transformer block (attention, then the feed-forward network)."""
    import jax

    eps = config.layer_norm_eps
    x = _layer_norm(x + _attention(x, layer, bias, config), layer["attention_norm"], eps)
    hidden = jax.nn.gelu(_linear(x, layer["intermediate"]), approximate=False)
    return _layer_norm(x + _linear(hidden, layer["ffn_output"]), layer["ffn_norm"], eps)


def encode(params: Params, ids: Any, mask: Any, config: EncoderConfig) -> Any:
    """Mean-pooled sentence vectors ``[batch, hidden]`` of token ``ids`` under ``mask``."""
    import jax.numpy as jnp

    emb = params["embeddings"]
    seq = ids.shape[1]
    x = emb["word"][ids] + emb["position"][:seq] + emb["token_type"][0]
    x = _layer_norm(x, emb["norm"], config.layer_norm_eps)
    maskf = mask.astype(jnp.float32)
    bias = ((1.0 - maskf) * MASK_BIAS)[:, None, None, :]
    for layer in params["layers"]:
        x = _block(x, layer, bias, config)
    summed = (x * maskf[:, :, None]).sum(axis=1)
    return summed / jnp.maximum(maskf.sum(axis=1, keepdims=True), 1e-9)


def forward(params: Params, ids: Any, mask: Any, config: EncoderConfig) -> Any:
    """Class logits ``[batch, 2]`` of token ``ids`` ``[batch, seq]`` (0/1 ``mask``)."""
    return _linear(encode(params, ids, mask, config), params["head"])
