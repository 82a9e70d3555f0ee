"""The embedded store's lock, in one process: shared by every client this process opens,
let go when the last one closes; and how a holder is named to the processes it keeps out,
which its caller says (the CLI names its command), not the store."""

import json
import os

import pytest
from click.testing import CliRunner
from filelock import FileLock, Timeout

from bot.cli import cli
from retrieval.store.client import close_client, open_client
from retrieval.store.naming import lock_file, owner_file
from retrieval.store.process_lock import Holder, StoreBusy


@pytest.mark.parametrize("args, label, long_running", [
    (["corpora"], "qa corpora", False),
    (["chat"], "qa chat", True),  # others refuse at once rather than wait for a chat to end
])
def test_each_qa_command_names_itself_to_the_processes_it_keeps_out(settings, args, label, long_running):
    CliRunner().invoke(cli, args, input="quit\n")
    owner = json.loads(owner_file(settings.data_dir).read_text())
    assert (owner["command"], owner["long_running"], owner["pid"]) == (label, long_running, os.getpid())


def test_a_waiting_process_is_told_through_its_callers_hook_and_the_store_prints_nothing(settings, capfd):
    settings.data_dir.mkdir(parents=True)
    other = FileLock(str(lock_file(settings.data_dir)), thread_local=False)  # as another process's lock would
    other.acquire()
    owner_file(settings.data_dir).write_text(json.dumps(Holder("qa ingest").record()))
    heard: list[str] = []
    try:
        with pytest.raises(StoreBusy, match=r"still in use by `qa ingest` \(pid \d+\) after waiting 0.2 s"):
            open_client(settings.model_copy(update={"lock_wait": 0.2}), Holder("qa ask", on_wait=heard.append))
    finally:
        other.release()
    assert heard == [f"waiting for `qa ingest` (pid {os.getpid()}) to finish with {settings.data_dir.resolve()} ..."]
    assert capfd.readouterr() == ("", "")


def other_process_could_lock(settings) -> bool:
    """Whether a second lock on the file (as another process would take) gets it at once."""
    lock = FileLock(str(lock_file(settings.data_dir)), thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    lock.release()
    return True


def test_clients_of_one_process_share_the_store_and_the_last_close_lets_go(settings):
    first = open_client(settings)
    second = open_client(settings)  # no waiting for ourselves
    assert not other_process_could_lock(settings)
    close_client(first)
    assert not other_process_could_lock(settings)  # the second client still uses the store
    close_client(second)
    assert other_process_could_lock(settings)
