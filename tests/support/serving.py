"""Starting `qa serve` for the benchmarks and tests that drive it over HTTP (loopback only)."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx


def start_serve(env: dict, port: int, log=subprocess.DEVNULL, timeout: float = 180, flags: bool = True,
                cwd=None) -> subprocess.Popen:
    """`qa serve` in HTTP mode on 127.0.0.1:`port`, returned once /health answers 200.
    Without `flags`, it is told where to listen by its settings alone (environment, .env in `cwd`)."""
    where = ["--host", "127.0.0.1", "--port", str(port)] if flags else []
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", *where],
                               env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"qa serve exited with status {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"qa serve did not answer /health within {timeout:.0f} s")
