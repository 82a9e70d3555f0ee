"""`qa ingest` while `qa serve` holds the embedded index: the bot does the ingest.

The first tests drive the socket protocol (bot/handoff.py) against a bot running the real
ingest in this process. The four that must hold an ingest mid-way (a second ingest waiting
for the first, giving up, a client or the bot going away mid-ingest) use a scripted ingest
that can be held. The last ones run a real `qa serve` and real `qa ingest` processes, as a
user would."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.handoff import Caller, CallerRules, HandoffServer, HandoffUnavailable, hand_over_ingest, socket_path
from retrieval.errors import QAError, UsageError
from retrieval.ingest.loaders import LINK_NOT_FOLLOWED
from retrieval.ingest.pipeline import IngestReport, ingest
from retrieval.store.client import close_client, open_client
from retrieval.store.corpus import CorpusStore
from retrieval.store.naming import owner_file
from tests.support.index_checks import audit, problems, qa_env
from tests.support.ports import free_port
from tests.support.seed import SEED_CORPUS
from tests.support.serving import start_serve
from tests.support.slack_fake import FakeSlack, app_mention, event_callback, post_signed

SECRET = "handoff-signing-secret"
CANTEEN = "The canteen serves lentil soup on Fridays."


class RealIngest:
    """The real ingest, as `qa serve` runs it for a `qa ingest` (bot/handoff.py's
    start_handoff), recording what each call was asked to do."""

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(self, paths, corpus, settings, prune, on_document, cwd=None, follow_symlinks=False, may_read=None):
        self.calls.append({"paths": paths, "corpus": corpus, "prune": prune, "window_chars": settings.window_chars})
        self.rules = {"cwd": cwd, "follow_symlinks": follow_symlinks, "max_file_mb": settings.max_file_mb,
                      "may_read": may_read}
        return ingest(paths, corpus, settings, prune=prune, progress=False, on_document=on_document, cwd=cwd,
                      follow_symlinks=follow_symlinks, may_read=may_read)


class ScriptedIngest:
    """Stands in for the real ingest where a test must hold one mid-way: records each call,
    commits every path as a document (or `documents` made-up ones), reporting progress after
    each, and reports them all added. With `block`, it waits for that event before the first;
    with `hold`, for that one after the first (a stop then lands mid-ingest)."""

    def __init__(self, block: threading.Event | None = None, documents: int | None = None,
                 hold: threading.Event | None = None):
        self.calls: list[dict] = []
        self.block, self.documents, self.hold = block, documents, hold
        self.running = self.most_at_once = 0
        self.stopped_by: BaseException | None = None
        self.finished = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, paths, corpus, settings, prune, on_document, cwd=None, follow_symlinks=False, may_read=None):
        with self._lock:
            self.calls.append({"paths": paths, "corpus": corpus, "prune": prune, "window_chars": settings.window_chars})
            self.rules = {"cwd": cwd, "follow_symlinks": follow_symlinks, "max_file_mb": settings.max_file_mb,
                          "may_read": may_read}
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            if self.block is not None:
                self.block.wait(10)
            sources = paths if self.documents is None else [f"{paths[0]}/doc{i}.txt" for i in range(self.documents)]
            for done, source in enumerate(sources, 1):
                on_document(source, done, len(sources))
                if done == 1 and self.hold is not None:
                    self.hold.wait(30)
            return IngestReport(corpus, added=list(sources), passages_written=len(sources))
        except BaseException as exc:
            self.stopped_by = exc
            raise
        finally:
            with self._lock:
                self.running -= 1
            self.finished.set()


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def bot(settings):
    """A listening HandoffServer running the real ingest; `bot(ingest=..., **settings)` for others."""
    started: list[HandoffServer] = []

    def start(ingest=None, **overrides) -> HandoffServer:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        server = HandoffServer(settings.model_copy(update=overrides), ingest or RealIngest())
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def documents(folder: Path, *names: str) -> list[str]:
    """One-sentence documents named `names` under `folder`, distinct so none is a duplicate."""
    paths = []
    for number, name in enumerate(names):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"Note {number}: {CANTEEN}\n")
        paths.append(str(path))
    return paths


def test_the_bot_runs_the_ingest_it_is_handed_and_sends_back_progress_and_the_report(settings, bot, tmp_path):
    real = RealIngest()
    bot(ingest=real)
    a, b = documents(tmp_path, "a.txt", "b/inside.txt")
    progress: list[str] = []
    report, pid = hand_over_ingest(settings, [a, str(tmp_path / "b")], "news", True, progress.append)
    assert pid == os.getpid()
    assert real.calls == [{"paths": [a, str(tmp_path / "b")], "corpus": "news", "prune": True,
                           "window_chars": settings.window_chars}]
    assert progress == [f"1/2 passages: {a}", f"2/2 passages: {b}"]
    assert report == IngestReport("news", added=[a, b], passages_written=2)


def test_the_socket_is_open_to_its_user_alone_and_removed_when_the_bot_stops(settings, bot, tmp_path):
    server = bot()
    mode = os.stat(socket_path(settings)).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    server.close()
    assert not socket_path(settings).exists()
    with pytest.raises(HandoffUnavailable, match="nothing answers on"):
        hand_over_ingest(settings, documents(tmp_path, "x.txt"), "default", False)


def test_a_socket_left_by_a_killed_bot_answers_nobody_and_the_next_bot_replaces_it(settings, bot, tmp_path):
    settings.data_dir.mkdir(parents=True)
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(socket_path(settings)))  # bound, then its process died: the file stays, nobody listens
    leftover.close()
    paths = documents(tmp_path, "x.txt")
    with pytest.raises(HandoffUnavailable, match="nothing answers on"):
        hand_over_ingest(settings, paths, "default", False)
    bot()
    assert hand_over_ingest(settings, paths, "default", False)[0].added == paths


def test_a_socket_that_someone_answers_on_is_never_taken_over(settings, bot, tmp_path):
    bot()
    with pytest.raises(QAError, match="another process answers on"):
        bot()
    paths = documents(tmp_path, "x.txt")
    assert hand_over_ingest(settings, paths, "default", False)[0].added == paths  # the first still serves


def test_a_second_ingest_waits_for_the_first(settings, bot):
    release = threading.Event()
    scripted = ScriptedIngest(block=release)
    bot(ingest=scripted)
    reports: list = []
    first = threading.Thread(target=lambda: reports.append(hand_over_ingest(settings, ["/first.txt"], "default", False)))
    first.start()
    wait_until(lambda: scripted.calls)
    heard: list[str] = []

    def progress(message: str) -> None:
        heard.append(message)
        if message.startswith("waiting"):
            release.set()  # the first finishes only once the second has been told to wait

    report, pid = hand_over_ingest(settings, ["/second.txt"], "default", False, progress)
    first.join(10)
    assert not first.is_alive() and reports[0][0].added == ["/first.txt"]
    assert heard[0] == f"waiting for the ingest `qa serve` (pid {pid}) is already running ..."
    assert report.added == ["/second.txt"] and [c["paths"] for c in scripted.calls] == [["/first.txt"], ["/second.txt"]]
    assert scripted.most_at_once == 1


def test_a_second_ingest_gives_up_after_qa_lock_wait(settings, bot):
    release = threading.Event()
    scripted = ScriptedIngest(block=release)
    bot(ingest=scripted, lock_wait=0.3)
    first = threading.Thread(target=hand_over_ingest, args=(settings, ["/first.txt"], "default", False))
    first.start()
    wait_until(lambda: scripted.calls)
    try:
        with pytest.raises(QAError, match=r"is still running another ingest after waiting 0.3 s \(QA_LOCK_WAIT\); try again"):
            hand_over_ingest(settings, ["/second.txt"], "default", False)
    finally:
        release.set()
        first.join(10)
    assert len(scripted.calls) == 1


@pytest.mark.parametrize("paths, corpus, model, error, message", [
    ([""], "default", "", UsageError, "paths must be a non-empty list of paths"),
    (["/docs"], "bad name!", "", UsageError, "invalid corpus name 'bad name!'"),
    (["/docs"], "default", "other/model", QAError, "embeds with 'sentence-transformers/all-MiniLM-L6-v2', not 'other/model'"),
])
def test_a_request_the_bot_cannot_honour_is_refused_and_nothing_runs(settings, bot, paths, corpus, model, error, message):
    real = RealIngest()
    bot(ingest=real)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        hand_over_ingest(settings.model_copy(update={"embed_model": model}), paths, corpus, False)
    assert real.calls == []


def test_the_clients_window_size_is_used_as_a_local_ingest_would(settings, bot, tmp_path):
    real = RealIngest()
    bot(ingest=real)
    long = tmp_path / "long.txt"
    long.write_text(" ".join(f"Sentence number {i} says something about the canteen menu." for i in range(60)))
    hand_over_ingest(settings.model_copy(update={"window_chars": 900}), [str(long)], "default", False)
    assert real.calls[0]["window_chars"] == 900
    client = open_client(settings)
    try:
        lengths = [len(text) for _, text, _ in CorpusStore(client, settings, "default", None).iter_passages()]
    finally:
        close_client(client)
    assert 600 < max(lengths) <= 1800  # windows of the client's size (at most twice it, to a paragraph's end)


def test_garbage_on_the_socket_is_answered_with_an_error_line(settings, bot):
    bot()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(socket_path(settings)))
        conn.sendall(b"GET / HTTP/1.1\n")
        reply = json.loads(conn.makefile().readline())
    assert reply == {"type": "error", "message": "the request is not a JSON object", "usage": True}


def test_a_client_that_goes_away_stops_the_ingest_after_the_document_in_hand(settings, bot):
    resume = threading.Event()
    scripted = ScriptedIngest(documents=200, hold=resume)
    bot(ingest=scripted)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:  # as `qa ingest` does, then Ctrl-C
        conn.connect(str(socket_path(settings)))
        conn.sendall(json.dumps({"protocol": 1, "command": "ingest", "paths": ["/docs"], "cwd": os.getcwd(),
                                 "corpus": "default"}).encode() + b"\n")
        with conn.makefile() as lines:
            assert json.loads(lines.readline())["type"] == "accepted"
            assert json.loads(lines.readline())["type"] == "progress"
    resume.set()  # the client is gone before the second document
    assert scripted.finished.wait(10)
    assert type(scripted.stopped_by).__name__ == "ClientGone"  # raised out of on_document, as Ctrl-C would be


def test_a_bot_that_is_stopped_mid_ingest_ends_it_after_the_document_in_hand_and_says_so(settings, bot):
    resume = threading.Event()
    scripted = ScriptedIngest(documents=200, hold=resume)
    server = bot(ingest=scripted)
    failure: list[BaseException] = []

    def client():
        try:
            hand_over_ingest(settings, ["/docs"], "default", False)
        except QAError as exc:
            failure.append(exc)

    handing_over = threading.Thread(target=client)
    handing_over.start()
    wait_until(lambda: scripted.calls)
    closing = threading.Thread(target=server.close)  # what `qa serve` does on SIGTERM or Ctrl-C
    closing.start()
    wait_until(lambda: server._stop.is_set())
    resume.set()  # the stop is in before the second document
    closing.join(30)
    assert scripted.finished.is_set()  # close() waited for the ingest to stop
    assert type(scripted.stopped_by).__name__ == "_Stopping"
    handing_over.join(10)
    assert str(failure[0]).endswith("was stopped during the ingest; the documents it committed are kept: "
                                    "run the same qa ingest again to finish it")


def test_a_bot_that_dies_mid_ingest_is_one_clear_error(settings):
    settings.data_dir.mkdir(parents=True)
    dying = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dying.bind(str(socket_path(settings)))
    dying.listen(1)

    def accept_then_die():
        conn, _ = dying.accept()
        conn.makefile().readline()
        conn.sendall(b'{"type": "accepted", "pid": 4242}\n')
        conn.close()  # what the kernel does for a process killed with SIGKILL

    threading.Thread(target=accept_then_die, daemon=True).start()
    try:
        with pytest.raises(QAError, match=r"`qa serve` \(pid 4242\) stopped before it finished the ingest \(killed\?\); "
                                          "what it committed is kept: run the same qa ingest again"):
            hand_over_ingest(settings, ["/docs"], "default", False)
    finally:
        dying.close()


def test_the_bot_reads_by_the_callers_rules_its_links_setting_and_the_smaller_size_cap(settings, bot, tmp_path, shared):
    real = RealIngest()
    bot(ingest=real, max_file_mb=20)
    documents(tmp_path, "docs/a.txt")
    documents(shared, "b.txt")
    hand_over_ingest(settings.model_copy(update={"max_file_mb": 5}), ["docs", str(shared)], "default", False,
                     follow_symlinks=True)
    rules = real.rules
    assert rules["follow_symlinks"] is True and rules["max_file_mb"] == 5
    assert rules["cwd"] == os.path.realpath(tmp_path)  # the test runs in tmp_path: the caller's cwd, as /proc shows it
    caller_rules = rules["may_read"]
    assert caller_rules.caller == Caller(os.getpid(), os.getuid(), os.getgid())  # from SO_PEERCRED, not the request
    assert caller_rules.roots == [os.path.realpath(tmp_path), os.path.realpath(tmp_path / "docs"), os.path.realpath(shared)]
    hand_over_ingest(settings.model_copy(update={"max_file_mb": 500}), ["docs"], "default", False)
    assert real.rules["max_file_mb"] == 20 and real.rules["follow_symlinks"] is False  # never above the bot's


def test_a_cwd_that_is_not_the_callers_own_is_refused(settings, bot):
    real = RealIngest()
    bot(ingest=real)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(socket_path(settings)))
        conn.sendall(json.dumps({"protocol": 1, "command": "ingest", "paths": [".env"], "cwd": "/root",
                                 "corpus": "default"}).encode() + b"\n")
        reply = json.loads(conn.makefile().readline())
    assert reply == {"type": "error", "usage": True,
                     "message": f"cwd '/root' is not the working directory of the process that asked (pid {os.getpid()})"}
    assert real.calls == []


NOBODY = Caller(pid=0, uid=65534, gid=65534)  # another user than the bot's (root here)


@pytest.fixture
def shared():
    """A folder another user may pass through (pytest's own temporary folders are root's
    alone), for files with various modes."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        yield Path(folder)


def written(path, mode: int, uid: int = 0, gid: int = 0):
    path.write_text("Some words.")
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    return path


def test_the_caller_reads_only_what_its_mode_bits_allow(shared):
    rules = CallerRules(NOBODY, [str(shared)])
    refused = "uid 65534, which asked for this ingest, may not read it: not read"
    assert rules(written(shared / "open.txt", 0o644), False) is None
    assert rules(written(shared / "private.txt", 0o600), False) == refused
    assert rules(written(shared / "theirs.txt", 0o400, uid=65534), False) is None  # the owner's bits apply
    assert rules(written(shared / "not-for-owner.txt", 0o044, uid=65534), False) == refused  # the owner's bits, not the others'
    assert rules(written(shared / "group.txt", 0o640, gid=65534), False) is None  # its group's bits apply
    closed = shared / "closed"
    closed.mkdir()
    written(closed / "inside.txt", 0o644)
    os.chmod(closed, 0o700)
    assert rules(closed / "inside.txt", False) == refused  # cannot pass through the folder above it
    assert rules(closed, True) == refused
    os.chmod(closed, 0o711)
    rules = CallerRules(NOBODY, [str(shared)])  # one per ingest: it remembers the folders it has checked
    assert rules(closed / "inside.txt", False) is None and rules(closed, True) == refused  # searchable, not listable


def test_the_caller_reads_nothing_outside_its_cwd_and_the_paths_it_gave(shared):
    (shared / "given").mkdir()
    outside = written(shared / "open.txt", 0o644)
    shared = shared / "given"
    (shared / "link.txt").symlink_to(outside)
    for caller in (NOBODY, Caller(os.getpid(), 0, 0)):  # root may read anything, but not from anywhere
        rules = CallerRules(caller, [str(shared)])
        assert rules(outside, False).startswith("outside the working directory of the qa ingest that asked")
        assert rules(shared / "link.txt", False).startswith("outside the working directory")  # the real path counts


def test_a_data_directory_deeper_than_a_socket_address_allows_still_works(settings, bot, tmp_path):
    deep = settings.model_copy(update={"data_dir": tmp_path / ("d" * 60) / ("e" * 60)})
    assert len(str(socket_path(deep))) > 107
    deep.data_dir.mkdir(parents=True)
    server = HandoffServer(deep, RealIngest())
    server.start()
    paths = documents(tmp_path, "x.txt")
    try:
        assert hand_over_ingest(deep, paths, "default", False)[0].added == paths
    finally:
        server.close()
    assert not socket_path(deep).exists()


# -- qa ingest and qa serve, as users run them ---------------------------------------------------

HOLD_AS_SERVE = """
import json, os, socket, sys, time
from retrieval.settings import Settings
from retrieval.store.client import open_client
from retrieval.store.process_lock import Holder
settings = Settings()
# Named `qa serve` but not listening: a bot from before hand-overs, or one whose socket failed.
client = open_client(settings, Holder("qa serve", long_running=True))
print("held", flush=True)
time.sleep(600)
"""


@pytest.mark.integration
def test_a_serve_that_does_not_answer_on_the_socket_keeps_the_refusal_and_says_why(settings, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_AS_SERVE], env=qa_env(settings), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        (tmp_path / "new").mkdir()
        (tmp_path / "new" / "canteen.txt").write_text(CANTEEN)
        result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "new")])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert f"in use by `qa serve` (pid {holder.pid})" in line and "stop it first" in line and "CHROMA_HOST" in line
    assert line.endswith(f"; it did not take the ingest over itself (nothing answers on {socket_path(settings)})")
    assert json.loads(owner_file(settings.data_dir).read_text())["pid"] == holder.pid  # nothing else opened it


def serve_env(settings, fake: FakeSlack) -> dict:
    return qa_env(settings, SLACK_API_URL=fake.api_url, SLACK_BOT_TOKEN="xoxb-handoff", SLACK_SIGNING_SECRET=SECRET)


def qa_ingest(env, cwd, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", "ingest", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def ask_bot(port: int, fake: FakeSlack, question: str, channel: str) -> str:
    body = json.dumps(event_callback(app_mention(question, channel)))
    assert post_signed(f"http://127.0.0.1:{port}/slack/events", body, "application/json", SECRET).status_code == 200
    [post] = fake.wait_for(lambda: fake.posts(channel))
    return json.dumps(post["blocks"])


@pytest.mark.integration
def test_qa_ingest_next_to_qa_serve_is_done_by_the_bot_and_answered_at_once(settings, tmp_path):
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "canteen.txt").write_text(f"Facilities notes for the third floor.\n\n{CANTEEN}\n")
    canteen = "new/canteen.txt"  # named as a local `qa ingest new` run in tmp_path would name it
    (tmp_path / "private.env").write_text("SLACK_BOT_TOKEN=xoxb-not-for-the-corpus")
    (tmp_path / "new" / "notes.txt").symlink_to(tmp_path / "private.env")  # the same rules as a local ingest
    skipped_link = {"source": "new/notes.txt", "reason": LINK_NOT_FOLLOWED}
    fake, port = FakeSlack(), free_port()
    env = serve_env(settings, fake)
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        bot = start_serve(env, port, log)
        try:
            handed = f"ingested by the running `qa serve` (pid {bot.pid}), which holds the index in {settings.data_dir}"
            done = qa_ingest(env, tmp_path, "new", "--json")  # relative to qa ingest's folder, not the bot's
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout) == {"corpus": "default", "added": [canteen], "updated": [], "unchanged": [],
                                               "removed": [], "skipped": [skipped_link], "passages_written": 1,
                                               "duplicate_passages": 0, "recovered": False}
            warning = f"warning: skipped new/notes.txt: {LINK_NOT_FOLLOWED}"
            assert done.stderr.strip().splitlines() == [handed, warning]
            assert CANTEEN in ask_bot(port, fake, "What does the canteen serve on Fridays?", "CHANDOFF1")  # no restart

            again = qa_ingest(env, tmp_path, "new")
            assert again.returncode == 0 and again.stderr.strip().splitlines() == [handed, warning]
            assert again.stdout.strip() == ("corpus 'default': 0 added, 0 updated, 1 unchanged, 0 removed, 1 skipped "
                                            "(new/notes.txt); 0 passages written")  # the summary names the link

            missing = qa_ingest(env, tmp_path, "new/missing.txt")
            assert missing.returncode == 2 and missing.stderr.strip().splitlines() == ["Error: no such file or folder: new/missing.txt"]
            assert CANTEEN in ask_bot(port, fake, "What does the canteen serve on Fridays?", "CHANDOFF2")
        finally:
            bot.terminate()
            bot.wait(timeout=30)
            fake.close()
    assert bot.returncode == -signal.SIGTERM and not socket_path(settings).exists()  # stopping removes the socket
    assert log_path.read_text().count("for qa ingest (pid") == 4  # two ingests handed over (started, done); not the missing path
    assert problems(audit(settings, "default")) == {}  # no duplicated, orphaned or stale passage
    [info] = json.loads(CliRunner().invoke(cli, ["corpora", "--json"]).output)
    assert (info["corpus"], info["documents"], info["passages"]) == ("default", 2, 8)


@pytest.mark.integration
def test_after_qa_serve_is_killed_its_stale_socket_is_ignored_and_qa_ingest_runs_by_itself(settings, tmp_path):
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "canteen.txt").write_text(CANTEEN)
    fake, port = FakeSlack(), free_port()
    env = serve_env(settings, fake)
    try:
        bot = start_serve(env, port)
        bot.send_signal(signal.SIGKILL)
        bot.wait(timeout=30)
    finally:
        fake.close()
    assert stat.S_ISSOCK(os.stat(socket_path(settings)).st_mode)  # left behind
    done = qa_ingest(env, tmp_path, str(tmp_path / "new"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == [str(tmp_path / "new" / "canteen.txt")]
    assert "qa serve" not in done.stderr
