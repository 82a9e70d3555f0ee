"""The embedded store's lock, in one process: shared by every client this process opens,
let go when the last one closes; and how a holder is named to the processes it keeps out."""

import pytest
from filelock import FileLock, Timeout

from retrieval.locking import LOCK_FILE, process_label
from retrieval.store import close_client, open_client


@pytest.mark.parametrize("argv, label", [
    (["/srv/.venv/bin/qa", "--data-dir", "/srv/qa", "serve", "--port", "3000"], "qa serve"),
    (["/srv/bot/cli.py", "chat", "--corpus", "news"], "qa chat"),
    (["/usr/bin/pytest", "-k", "serve"], "pytest"),  # not the qa command: its arguments mean nothing
    (["-c"], "python"),
])
def test_a_holder_is_named_by_its_qa_command(monkeypatch, argv, label):
    monkeypatch.setattr("sys.argv", argv)
    assert process_label() == label


def other_process_could_lock(settings) -> bool:
    """Whether a second lock on the file (as another process would take) gets it at once."""
    lock = FileLock(str(settings.data_dir / LOCK_FILE), thread_local=False)
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
