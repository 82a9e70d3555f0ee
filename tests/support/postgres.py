"""A throwaway PostgreSQL cluster for the tests: `initdb` in a temp dir, `pg_ctl start` on a
free loopback port, password authentication over TCP (so the tests see a real password that
must never be printed), `pg_ctl stop` at the end. No binaries is an error, never a skip."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from glob import glob
from pathlib import Path

USER = "qa"


def pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} was not found: install PostgreSQL 15 (apt-get install -y postgresql); "
                           "the state tests run against a real database")
    return found


def _as_owner(command: list[str]) -> list[str]:
    # initdb refuses to run as root: as root, run the server binaries as the postgres user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    root: Path
    port: int
    password: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        subprocess.run(_as_owner([pg_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster:
    # Not under pytest's temp dir: that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="qa-pg-"))
    password = secrets.token_urlsafe(16)
    (root / "pwfile").write_text(password + "\n")
    (root / "sock").mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        for path in root.iterdir():
            shutil.chown(path, "postgres")
    data = root / "data"
    init = subprocess.run(_as_owner([pg_bin("initdb"), "-D", str(data), "-U", USER, "--pwfile", str(root / "pwfile"),
                                     "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"]),
                          capture_output=True, text=True, timeout=120)
    if init.returncode:
        raise RuntimeError(f"initdb failed: {init.stderr.strip()}")
    for _ in range(5):  # another process may take the free port before the server binds it
        port = _free_port()
        started = subprocess.run(_as_owner([pg_bin("pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w",
                                            "-t", "60", "-o", f"-p {port} -k {root / 'sock'} -c listen_addresses=127.0.0.1 "
                                            "-c fsync=off", "start"]), capture_output=True, text=True, timeout=90)
        if started.returncode == 0:
            return Cluster(root, port, password)
    log = (root / "server.log").read_text(errors="replace")[-2000:] if (root / "server.log").exists() else ""
    raise RuntimeError(f"PostgreSQL did not start: {started.stderr.strip()} {log}")

