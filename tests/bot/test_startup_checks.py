"""`qa serve` and `qa doctor` check the whole set-up before the first question: the model,
the store, the corpus, the Slack token (auth.test, here against the fake Slack), the
signing secret and the feedback file. Every problem is listed at once with what to do;
`qa serve` then exits 1 without serving. No output ever holds a token."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bot.cli import cli
from retrieval.ingest.pipeline import ingest
from retrieval.store.client import close_client, open_client
from retrieval.store.corpus import CorpusStore
from tests.support.openai_fake import FakeOpenAI, Step
from tests.support.ports import free_port
from tests.support.seed import SEED_CORPUS
from tests.support.slack_fake import FakeSlack, FakeSocketMode

pytestmark = pytest.mark.integration
TOKEN = "xoxb-startup-SECRET-value"
SECRET = "startup-signing-secret"


@pytest.fixture
def slack(monkeypatch):
    fake = FakeSlack()
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    yield fake
    fake.close()


def run(*args):
    return CliRunner().invoke(cli, list(args))


def statuses(output: str) -> dict[str, str]:
    """doctor's lines as {check name: status}."""
    return {line[6:22].strip(): line[:5].strip() for line in output.splitlines() if line[:5].strip() in {"ok", "FAIL", "warn"}}


def test_doctor_says_ok_to_every_check_of_a_sound_setup(settings, slack, monkeypatch):
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    result = run("doctor")
    assert result.exit_code == 0, result.output
    assert statuses(result.output) == {"embedding model": "ok", "store": "ok", "corpus 'default'": "ok",
                                       "signing secret": "ok", "Slack bot token": "ok", "access rules": "ok",
                                       "state database": "ok"}
    assert "7 passages" in result.output and [c.method for c in slack.calls] == ["auth.test"]
    assert TOKEN not in result.output and SECRET not in result.output


def test_doctor_without_slack_settings_checks_the_index_alone(settings):
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    result = run("doctor")
    assert result.exit_code == 0
    assert statuses(result.output) == {"embedding model": "ok", "store": "ok", "corpus 'default'": "ok"}


def test_serve_lists_every_problem_at_once_each_with_what_to_do(settings, slack, monkeypatch):
    settings.data_dir.mkdir(parents=True)
    (settings.data_dir / "slack.sqlite3").write_bytes(b"this is not a database" * 100)
    slack.script("auth.test", None, (200, {}, {"ok": False, "error": "invalid_auth"}))
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    result = run("serve")  # no corpus, no signing secret, a revoked token, a damaged feedback file
    assert result.exit_code == 1
    first, *problems = result.output.strip().splitlines()
    assert first == "Error: qa serve cannot start; fix these 4 problems:"
    assert problems[0].startswith("  - corpus 'default': not ingested yet; run: qa ingest PATH --corpus default")
    assert problems[1].startswith("  - signing secret: SLACK_SIGNING_SECRET is not set;") and "Basic Information" in problems[1]
    assert problems[2].startswith("  - Slack bot token: Slack rejected SLACK_BOT_TOKEN (invalid_auth); copy")
    assert problems[3].startswith("  - state database:") and "is damaged" in problems[3] and "move it aside" in problems[3]
    assert TOKEN not in result.output and "Traceback" not in result.output


def test_serve_with_the_store_down_and_no_token_says_both(monkeypatch, slack):
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(free_port()))
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    result = run("serve")
    assert result.exit_code == 1
    assert "  - store: cannot reach the Chroma server at 127.0.0.1:" in result.output
    assert "  - Slack bot token: SLACK_BOT_TOKEN is not set; copy the Bot User OAuth Token" in result.output
    assert slack.calls == []


@pytest.mark.parametrize("app_token, error", [("xapp-1-revoked-SECRET", "invalid_auth"),
                                              ("xoxb-not-an-app-token-SECRET", None)])
def test_a_socket_mode_token_slack_refuses_is_a_problem_serve_names(settings, slack, monkeypatch, app_token, error):
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    FakeSocketMode(slack, "xapp-1-the-real-one-SECRET")
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", app_token)
    result = run("serve")
    assert result.exit_code == 1 and "Traceback" not in result.output
    [problem] = result.output.strip().splitlines()[1:]
    if error:  # tried with Slack, as serve would use it
        assert problem.startswith(f"  - Slack mode: Slack rejected SLACK_APP_TOKEN ({error}); copy")
    else:
        assert problem.startswith("  - Slack mode: SLACK_APP_TOKEN is not an app-level token (xapp-...)")
    assert app_token not in result.output and TOKEN not in result.output


def test_doctor_accepts_the_socket_mode_token_slack_accepts(settings, slack, monkeypatch):
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    FakeSocketMode(slack, "xapp-1-the-real-one-SECRET")
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-the-real-one-SECRET")
    result = run("doctor")
    assert result.exit_code == 0, result.output
    assert statuses(result.output)["Slack mode"] == "ok" and "SECRET" not in result.output
    assert [c.method for c in slack.calls] == ["apps.connections.open", "auth.test"]


def test_slack_out_of_reach_is_a_problem_not_a_hang(settings, monkeypatch):
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    monkeypatch.setenv("SLACK_API_URL", f"http://127.0.0.1:{free_port()}/api/")
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    result = run("doctor")
    assert result.exit_code == 1
    assert statuses(result.output)["Slack bot token"] == "FAIL" and "cannot reach Slack at http://127.0.0.1:" in result.output
    assert TOKEN not in result.output


def test_an_ingest_that_never_finished_is_a_warning_that_says_to_rerun_it(settings):
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    client = open_client(settings)
    CorpusStore(client, settings, "default", embed_model=None).begin_write("elsewhere:4242")  # then killed
    close_client(client)
    result = run("doctor")
    assert result.exit_code == 0
    assert statuses(result.output)["corpus 'default'"] == "warn"
    assert "an ingest by elsewhere:4242 did not finish" in result.output and "run the same qa ingest again" in result.output


def test_with_qa_llm_set_the_model_must_be_set_up_and_is_never_called(settings, monkeypatch):
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    monkeypatch.setenv("QA_LLM", "openai:gpt-4o-mini")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = run("doctor")  # no API key anywhere
    assert result.exit_code == 1
    assert statuses(result.output)["LLM"] == "FAIL"
    assert "QA_LLM=openai:gpt-4o-mini could not be set up: Missing credentials" in result.output

    with FakeOpenAI(Step("{}")) as fake:
        monkeypatch.setenv("QA_LLM_BASE_URL", fake.base_url)
        monkeypatch.setenv("QA_LLM_API_KEY", "sk-test-SECRET")
        result = run("doctor")
    assert result.exit_code == 0, result.output
    assert statuses(result.output)["LLM"] == "ok" and fake.requests == []
    assert "SECRET" not in result.output


def test_serve_lists_a_model_that_cannot_be_set_up_with_the_other_problems(settings, slack, monkeypatch):
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    monkeypatch.setenv("QA_LLM", "nosuchprovider:model-x")
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    result = run("serve")  # and no signing secret
    assert result.exit_code == 1
    first, *problems = result.output.strip().splitlines()
    assert first == "Error: qa serve cannot start; fix these 2 problems:"
    assert problems[0].startswith("  - LLM: QA_LLM=nosuchprovider:model-x could not be set up")
    assert problems[1].startswith("  - signing secret: SLACK_SIGNING_SECRET is not set")


def test_an_access_file_that_does_not_parse_is_named_and_serve_does_not_start(settings, slack, monkeypatch, tmp_path):
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    access = tmp_path / "access.toml"
    access.write_text('[default]\ncorpus = "default"\nusers = "U0123"\n')  # a string, not a list
    for name, value in {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "QA_SLACK_ACCESS": str(access)}.items():
        monkeypatch.setenv(name, value)
    doctor = run("doctor")
    assert doctor.exit_code == 1 and statuses(doctor.output)["access rules"] == "FAIL"
    assert f"{access}: [default] users: expected a list of Slack IDs" in doctor.output
    serve = run("serve")
    assert serve.exit_code == 1 and "  - access rules:" in serve.output
    access.write_text('external_users = false\n[default]\ncorpus = "default"\n[channels.C0HR]\ncorpus = "hr"\n')
    doctor = run("doctor")
    assert statuses(doctor.output)["access rules"] == "ok" and "external users refused" in doctor.output
    assert statuses(doctor.output)["corpus 'hr'"] == "warn"  # a corpus only the file names: not fatal
