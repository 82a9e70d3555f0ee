"""The embedding model as ONNX: what a question needs is a tokenizer and onnxruntime, which
load in well under a second, instead of torch and sentence-transformers (about 9 s here).

The export is made once per model, the first time the full model is loaded, into the model
cache. It is checked against the original before use; a model whose architecture the export
does not cover keeps using sentence-transformers.

Ingest embeds with an int8 copy of the export (dynamic quantisation, per-channel 7-bit
weights), made once from it, and no torch in the process. It runs one single-threaded
session from one thread per core, one sentence a run (BULK_BATCH says why): on two cores
that measured 2.4x faster, in batches of 8, than one two-threaded session in batches of 64
(short sentences leave a session's threads waiting on each other; the threads here never
wait), and one sentence a run is as fast as 8. Its vectors stay
within ~0.99 cosine of the fp32 ones (0.98 at worst on SQuAD sentences; a copy below
MIN_INT8_COSINE on the check sentences is not used). Questions keep the fp32 export, so
retrieval compares fp32 questions with int8 documents; bench/quality.py measures that mix.

Weights use 7 of their 8 bits (`reduce_range`): CPUs without VNNI (AVX2 only, as here) add
pairs of 8-bit products in 16 bits, which full-range weights can overflow and a VNNI CPU
does not (OpenVINO's "saturation issue"), so the same corpus could get other vectors, and
answers, on another machine. The 7-bit copy was as fast and as close to fp32 here (0.9929
mean cosine on SQuAD paragraphs against 0.9928); unsigned 8-bit weights were closer
(0.9941) but took 1.19x as long.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

log = logging.getLogger(__name__)
_POOL_LOCK = threading.Lock()
EXPORT_VERSION = 1
MAX_EXPORT_ERROR = 1e-4  # cosine-scale difference tolerated between ONNX and torch vectors
INT8_VERSION = 2  # 2: 7-bit weights
MIN_INT8_COSINE = 0.97  # per check sentence, int8 against fp32 (per-tensor weights gave 0.91)
# Sentences per run in bulk mode. One: dynamic quantisation scales a run's activations by
# their range over the whole run, padding included, so a sentence encoded beside others got
# a vector that depended on them (none of 400 SQuAD sentences had the same vector encoded in
# one call and in two; cosine down to 0.987), and a corpus other vectors, and answers, for
# the same text ingested in another grouping. Alone, it was as fast on two cores (1,500
# sentences: 0.99 s against 1.03 s in batches of 8, median of three).
BULK_BATCH = 1
CHECK_SENTENCES = [
    "What did Shoigu ask Wallace?",
    "A longer sentence, to check padding and masks, about ten words.",
    "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy.",
    "Super Bowl 50 was an American football game to determine the champion of the NFL for the 2015 season.",
    "In 1905, Einstein published four papers on the photoelectric effect, Brownian motion and relativity.",
    "Oxygen is a chemical element with symbol O and atomic number 8.",
    "Revenue rose 4% to $2.1 billion in the quarter, the company said on Tuesday.",
    "Kiev",
]


class OnnxEncoder:
    """`bulk`: many texts at once (ingest): single-threaded runs from one thread per core,
    with the memory arena on (its shapes stay small). Otherwise a few texts at a time (a
    question), all cores on each, and no arena to grow in a long-running process."""

    def __init__(self, folder: Path, bulk: bool = False):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.meta = json.loads((folder / "meta.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.meta["max_seq_length"])
        self.tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.bulk = bulk
        self.workers = _cores() if bulk else 1
        self._threads = None
        if bulk:
            options.intra_op_num_threads = 1
        else:
            options.enable_cpu_mem_arena = False  # shapes vary per question: an arena only grows
            # Two cores shared with other work: threads that spin waiting for each other
            # steal the core the other one needs.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])

    @classmethod
    def load(cls, folder: Path, int8: bool = False) -> "OnnxEncoder | None":
        """The export in `folder`, or None when there is none (or an outdated one). The
        int8 copy is the bulk encoder."""
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if meta.get("version") != EXPORT_VERSION or meta.get("int8") != (INT8_VERSION if int8 else None):
                return None
            return cls(folder, bulk=int8)
        except (OSError, ValueError, KeyError):
            return None
        except Exception as exc:  # a damaged export: fall back to the full model
            log.warning("ignoring the ONNX export in %s: %s", folder, exc)
            return None

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit vectors (or the model's own) for `texts`, in order. A bulk encoder uses its
        own batch size."""
        # Batches of similar length waste little on padding (as sentence-transformers does).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        ordered = [texts[i] for i in order]
        size = BULK_BATCH if self.bulk else batch_size
        batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
        out = self._map(self._encode_batch, batches)
        if not out:
            return np.zeros((0, self.meta["dim"]), np.float32)
        vectors = np.empty((len(texts), self.meta["dim"]), np.float32)
        vectors[order] = np.concatenate(out)
        return vectors

    def token_vectors(self, texts: list[str]) -> list[TokenVectors]:
        """Each text's contextual token vectors, unit length, without the [CLS] and [SEP]
        marks, and each token's character span in the text; one text a run (BULK_BATCH
        says why), so they depend on the text alone."""
        return self._map(self._tokens_of, texts, kept=True)

    def _map(self, work, items: list, kept: bool = False) -> list:
        """`kept`: on the encoder's one pool of threads, not on threads started for this call.
        A question's token vectors: 0.90x the answer time on threads kept (SQuAD articles,
        alternating in one process). Not for ingest, which took 1.1x as long on them."""
        if len(items) > 1 and self.workers > 1:
            if kept:
                return list(self._pool().map(work, items))
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self.workers) as pool:  # onnxruntime releases the GIL while it runs
                return list(pool.map(work, items))
        return [work(item) for item in items]

    def _pool(self):
        with _POOL_LOCK:
            if self._threads is None:
                from concurrent.futures import ThreadPoolExecutor

                self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="onnx")
            return self._threads

    def _run(self, encodings) -> np.ndarray:
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        return self.session.run(None, {k: feed[k] for k in self.meta["inputs"]})[0]

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        hidden = self._run(encodings)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return _pool(hidden, mask, self.meta["pooling"], self.meta["normalize"])

    def _tokens_of(self, text: str) -> TokenVectors:
        encoding = self.tokenizer.encode(text)
        inner = [i for i, special in enumerate(encoding.special_tokens_mask) if not special]
        vectors = self._run([encoding])[0][inner]
        return TokenVectors(unit_rows(vectors), [encoding.offsets[i] for i in inner])


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))  # the cores this process may use, not the machine's
    except AttributeError:
        return os.cpu_count() or 1


def quantize(folder: Path, target: Path) -> bool:
    """Make the int8 copy of the verified export in `folder` into `target`; returns whether
    a checked copy is now there."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=folder.parent))
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.getLogger().disabled, was = True, logging.getLogger().disabled  # its pre-processing advice
            try:
                quantize_dynamic(str(folder / "model.onnx"), str(tmp / "model.onnx"), per_channel=True,
                                 weight_type=QuantType.QInt8, reduce_range=True)
            finally:
                logging.getLogger().disabled = was
        shutil.copy(folder / "tokenizer.json", tmp / "tokenizer.json")
        meta = json.loads((folder / "meta.json").read_text())
        (tmp / "meta.json").write_text(json.dumps({**meta, "int8": INT8_VERSION}))
        worst = float((OnnxEncoder(tmp).encode(CHECK_SENTENCES) * OnnxEncoder(folder).encode(CHECK_SENTENCES)).sum(1).min())
        if worst < MIN_INT8_COSINE:
            log.warning("int8 copy of the embedding model is %.3f cosine from it; not used", worst)
            return False
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        return True
    except Exception as exc:  # an optimisation: ingest falls back to the fp32 model
        log.warning("could not quantise the embedding model: %s", exc)
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class TokenVectors(NamedTuple):
    """One text's contextual token vectors (rows, unit length) and each token's (start, end)
    in the text."""

    vectors: np.ndarray
    spans: list[tuple[int, int]]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.clip(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12, None)


def _pool(hidden: np.ndarray, mask: np.ndarray, pooling: str, normalize: bool) -> np.ndarray:
    if pooling == "cls":
        vectors = hidden[:, 0]
    else:
        weights = mask[..., None].astype(hidden.dtype)
        vectors = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    return unit_rows(vectors) if normalize else vectors


def export(model, folder: Path) -> bool:
    """Export a loaded SentenceTransformer (Transformer -> mean/CLS pooling [-> Normalize]);
    returns whether a verified export is now in `folder`."""
    import torch
    from sentence_transformers import models

    modules = list(model)
    if not (isinstance(modules[0], models.Transformer) and len(modules) > 1 and isinstance(modules[1], models.Pooling)):
        return False
    config = modules[1].get_config_dict()
    pooling = config.get("pooling_mode") or (  # sentence-transformers 6, else the older flags
        "mean" if config.get("pooling_mode_mean_tokens") else "cls" if config.get("pooling_mode_cls_token") else None)
    rest = modules[2:]
    if pooling not in ("mean", "cls") or any(not isinstance(m, models.Normalize) for m in rest):
        log.info("embedding model not exported to ONNX: pooling %s, modules %s", pooling, [type(m).__name__ for m in modules])
        return False
    samples = ["What did Shoigu ask Wallace?", "A longer sentence, to check padding and masks, about ten words."]
    sample = model.tokenizer(samples, padding=True, return_tensors="pt")
    inputs = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample]

    class Hidden(torch.nn.Module):
        def __init__(self, transformer):
            super().__init__()
            self.transformer = transformer

        def forward(self, *args):
            return self.transformer(**dict(zip(inputs, args))).last_hidden_state

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on the model's Python code
            torch.onnx.export(
                Hidden(modules[0].auto_model.eval()), tuple(sample[k] for k in inputs), str(tmp / "model.onnx"),
                input_names=inputs, output_names=["last_hidden_state"],
                dynamic_axes={k: {0: "batch", 1: "tokens"} for k in [*inputs, "last_hidden_state"]},
                opset_version=17, dynamo=False,
            )
        model.tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        reference = model.encode(samples, show_progress_bar=False, convert_to_numpy=True)
        meta = {"version": EXPORT_VERSION, "inputs": inputs, "pooling": pooling, "normalize": bool(rest),
                "max_seq_length": int(model.max_seq_length), "dim": int(reference.shape[1])}
        (tmp / "meta.json").write_text(json.dumps(meta))
        error = float(np.abs(OnnxEncoder(tmp).encode(samples) - reference).max())
        if error > MAX_EXPORT_ERROR:
            log.warning("ONNX export differs from the model by %.2g; not used", error)
            return False
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
        return True
    except Exception as exc:  # exporting is an optimisation: never fail the caller for it
        log.warning("could not export the embedding model to ONNX: %s", exc)
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
