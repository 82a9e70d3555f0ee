"""A real `chroma run` on loopback that a test can stop and start again on the same folder
and port: what a Chroma server going away under a running bot looks like."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .ports import free_port, wait_for_heartbeat


class ChromaServer:
    def __init__(self, folder: Path, port: int | None = None):
        self.folder, self.port = folder, port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(self.port)}

    def start(self) -> ChromaServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "server.log", "ab")
        chroma = Path(sys.executable).with_name("chroma")
        self.process = subprocess.Popen(
            [str(chroma), "run", "--path", str(self.folder / "db"), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()  # the child has its own descriptor
        wait_for_heartbeat(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
