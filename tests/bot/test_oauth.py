"""Installing into several workspaces: a real `qa serve` in HTTP mode with SLACK_CLIENT_ID and
SLACK_CLIENT_SECRET (no SLACK_BOT_TOKEN), its state (installations included) in a real
PostgreSQL, driven over HTTP. The install is followed hop by hop as a browser would follow
it (no headless browser is installable here): /slack/install -> Slack's authorize page (the
fake's, approving at once) -> /slack/oauth_redirect, with the state cookie carried by hand
(it is Secure, so an http:// cookie jar would drop it). Events are signed as Slack signs
them; the fake records the token of every Web API call."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from slack_bolt import BoltRequest
from slack_bolt.oauth.callback_options import FailureArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from sqlalchemy.engine import make_url

from bot.slack.app import AnsweringPool, build
from bot.slack.install import manifest_bot_scopes, not_installed
from bot.slack.server import warm
from bot.slack.state import BOTS, EVENTS, INSTALLATIONS, OAUTH_STATES, SlackState, state_url
from retrieval.engine import Engine
from retrieval.ingest.pipeline import ingest
from retrieval.settings import Settings
from tests.support.ports import free_port
from tests.support.seed import ROOT, SEED_CORPUS, SHOIGU_SENTENCE
from tests.support.serving import start_serve
from tests.support.slack_fake import FakeSlack, app_mention, event_callback, post_signed, sign

pytestmark = [pytest.mark.integration, pytest.mark.server]
SECRET = "oauth-test-signing-secret"
CLIENT_ID, CLIENT_SECRET = "1234.5678", "oauth-test-CLIENT-SECRET-value"
LEAVE = "Every employee gets 30 days of paid leave a year"
QUESTION = "What did Shoigu ask Wallace?"
ALPHA, BETA, GAMMA, NEVER = "T0ALPHA", "T0BETA", "T0GAMMA", "T0NEVER"
TOKENS = {ALPHA: "xoxb-alpha-SECRET-token", BETA: "xoxb-beta-SECRET-token", GAMMA: "xoxb-gamma-SECRET-token",
          NEVER: "xoxb-never-SECRET-token"}
BOT_USERS = {ALPHA: "U0ALPHABOT", BETA: "U0BETABOT", GAMMA: "U0GAMMABOT", NEVER: "U0NEVERBOT"}
BETA_HR = "U0BETAHR"


@dataclass
class Deployment:
    base: str
    fake: FakeSlack
    state_url: str
    log: object
    process: subprocess.Popen
    env: dict

    def db(self) -> sa.Engine:
        return sa.create_engine(make_url(self.state_url).set(drivername="postgresql+psycopg"))

    def rows(self, table: sa.Table, **where) -> list:
        engine = self.db()
        try:
            with engine.connect() as db:
                return db.execute(sa.select(table).where(*[table.c[k] == v for k, v in where.items()])).all()
        finally:
            engine.dispose()

    def start_install(self, team: str) -> tuple[httpx.Response, str]:
        """GET /slack/install: the response and the state cookie it set."""
        self.fake.installing = team
        response = httpx.get(f"{self.base}/slack/install", timeout=10)
        cookie = response.headers.get("set-cookie", "").split(";")[0]
        return response, cookie

    def approve(self, install: httpx.Response) -> str:
        """The authorize page's answer (the installer approves): the redirect URL back."""
        page = httpx.get(install.headers["location"], timeout=10)
        assert page.status_code == 302, page.text
        return page.headers["location"]

    def redirect(self, url: str, cookie: str | None) -> httpx.Response:
        return httpx.get(url, headers={"Cookie": cookie} if cookie else {}, timeout=30)

    def install(self, team: str) -> httpx.Response:
        install, cookie = self.start_install(team)
        return self.redirect(self.approve(install), cookie)

    def mention(self, team: str, text: str, channel: str, user: str = "U0ASKER", event_id: str | None = None):
        event = app_mention(text, channel, user=user, team=team, bot_user=BOT_USERS[team])
        body = json.dumps(event_callback(event, event_id, team=team, bot_user=BOT_USERS[team]))
        return post_signed(f"{self.base}/slack/events", body, "application/json", SECRET)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, postgres):
    root = tmp_path_factory.mktemp("oauth")
    (root / "handbook").mkdir()
    (root / "handbook" / "leave.txt").write_text(f"{LEAVE}, taken in days or half days.\n\nSick leave is separate.\n")
    # Alpha: everyone asks the seed corpus. Beta: only its HR person, the handbook.
    # Gamma installs the app but has no access file: refused.
    (root / f"access-{ALPHA}.toml").write_text('[default]\ncorpus = "default"\n')
    (root / f"access-{BETA}.toml").write_text(f'contact = "#beta-it"\n[default]\ncorpus = "handbook"\nusers = ["{BETA_HR}"]\n')
    name = "t" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    state_url = make_url(postgres).set(database=name).render_as_string(hide_password=False)

    fake = FakeSlack()
    for team, label in ((ALPHA, "Alpha"), (BETA, "Beta"), (GAMMA, "Gamma"), (NEVER, "Never")):
        fake.add_workspace(team, label, TOKENS[team], BOT_USERS[team])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fake.oauth_app(CLIENT_ID, CLIENT_SECRET, f"{base}/slack/oauth_redirect")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "QA_DATA_DIR": str(root / "data"),
           "QA_STATE_URL": state_url, "SLACK_API_URL": fake.api_url, "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET,
           "SLACK_REDIRECT_URI": f"{base}/slack/oauth_redirect", "SLACK_AUTHORIZE_URL": fake.authorize_url,
           "QA_SLACK_ACCESS": str(root / "access-{team}.toml")}
    env.pop("SLACK_BOT_TOKEN", None)
    for path, corpus in ((SEED_CORPUS, "default"), (root / "handbook", "handbook")):
        subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(path), "--corpus", corpus], env=env, check=True,
                       capture_output=True, cwd=root)
    log_path = root / "serve.log"
    process = start_serve(env, port, open(log_path, "w"))
    try:
        yield Deployment(base, fake, state_url, log_path, process, env)
    finally:
        process.terminate()
        process.wait(timeout=30)
        fake.close()
    log = log_path.read_text()
    for secret in (*TOKENS.values(), CLIENT_SECRET):
        assert secret not in log


def test_the_install_page_sends_the_installer_to_slack_with_the_client_id_the_manifests_scopes_and_a_state(deployment):
    response, cookie = deployment.start_install(ALPHA)
    assert response.status_code == 302
    location = urllib.parse.urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == deployment.fake.authorize_url
    query = dict(urllib.parse.parse_qsl(location.query))
    assert query["client_id"] == CLIENT_ID
    assert query["scope"].split(",") == manifest_bot_scopes() and "app_mentions:read" in query["scope"]
    assert query["redirect_uri"] == f"{deployment.base}/slack/oauth_redirect"
    state = query["state"]
    assert cookie == f"slack-app-oauth-state={state}" and "Secure" in response.headers["set-cookie"]
    assert len(deployment.rows(OAUTH_STATES, state=state)) == 1  # kept in the shared database until used


def test_a_valid_code_and_state_store_the_workspace_and_use_the_state_up(deployment):
    install, cookie = deployment.start_install(BETA)
    back = deployment.approve(install)
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))["state"]
    page = deployment.redirect(back, cookie)
    assert page.status_code == 200 and "installed in Beta" in page.text
    assert TOKENS[BETA] not in page.text and CLIENT_SECRET not in page.text
    [bot] = deployment.rows(BOTS, team_id=BETA)
    assert (bot.bot_token, bot.bot_user_id, bot.client_id) == (TOKENS[BETA], BOT_USERS[BETA], CLIENT_ID)
    assert deployment.rows(INSTALLATIONS, team_id=BETA) and deployment.rows(OAUTH_STATES, state=state) == []

    # The same redirect again (a reload, a replay): the state is used up.
    again = deployment.redirect(back, cookie)
    assert again.status_code == 401 and "expired or was already used" in again.text
    assert len(deployment.rows(BOTS, team_id=BETA)) == 1


def test_an_expired_state_a_missing_cookie_and_a_bad_code_are_refused_with_a_page_and_store_nothing(deployment):
    fake = deployment.fake
    # Expired: the state is in the database, but past its lifetime.
    install, cookie = deployment.start_install(GAMMA)
    back = deployment.approve(install)
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))["state"]
    engine = deployment.db()
    with engine.begin() as db:
        db.execute(OAUTH_STATES.update().where(OAUTH_STATES.c.state == state)
                   .values(expire_at=sa.func.now() - sa.text("interval '1 hour'")))
    engine.dispose()
    expired = deployment.redirect(back, cookie)
    assert expired.status_code == 401 and "expired or was already used" in expired.text

    # No cookie: the redirect was not started in this browser.
    install, cookie = deployment.start_install(GAMMA)
    no_cookie = deployment.redirect(deployment.approve(install), None)
    assert no_cookie.status_code == 400 and "cookie" in no_cookie.text

    # A code Slack does not know (a forged or stale one), with a good state and cookie.
    install, cookie = deployment.start_install(GAMMA)
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(install.headers["location"]).query))["state"]
    bad = deployment.redirect(f"{deployment.base}/slack/oauth_redirect?code=not-a-code&state={state}", cookie)
    assert bad.status_code == 401 and "did not accept the authorization code" in bad.text
    assert [c.body for c in fake.calls if c.method == "oauth.v2.access" and not c.ok][-1]["code"] == "not-a-code"

    # The installer cancelled on Slack's page.
    install, cookie = deployment.start_install(GAMMA)
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(install.headers["location"]).query))["state"]
    cancelled = deployment.redirect(f"{deployment.base}/slack/oauth_redirect?error=access_denied&state={state}", cookie)
    assert "cancelled" in cancelled.text
    for page in (expired, no_cookie, bad, cancelled):
        assert "Traceback" not in page.text and CLIENT_SECRET not in page.text
    assert deployment.rows(BOTS, team_id=GAMMA) == [] and deployment.rows(INSTALLATIONS, team_id=GAMMA) == []


def test_each_installed_workspace_is_answered_with_its_own_token_and_its_own_access_rules(deployment):
    fake = deployment.fake
    for team in (ALPHA, BETA, GAMMA):
        if not deployment.rows(BOTS, team_id=team):
            assert deployment.install(team).status_code == 200

    assert deployment.mention(ALPHA, QUESTION, "C0ALPHA").status_code == 200
    assert deployment.mention(BETA, "How many days of paid leave do employees get?", "C0BETA", user=BETA_HR).status_code == 200
    assert deployment.mention(BETA, QUESTION, "C0BETA2").status_code == 200  # not Beta's HR: refused
    assert deployment.mention(GAMMA, QUESTION, "C0GAMMA").status_code == 200  # installed, no access file: refused

    [alpha] = fake.wait_for(lambda: fake.posts("C0ALPHA"))
    assert SHOIGU_SENTENCE in json.dumps(alpha["blocks"])  # Alpha's [default]: the seed corpus
    [beta] = fake.wait_for(lambda: fake.posts("C0BETA"))
    assert LEAVE in json.dumps(beta["blocks"])  # Beta's [default]: the handbook
    [refused] = fake.wait_for(lambda: fake.posts("C0BETA2", method="chat.postEphemeral"))
    assert "'handbook'" in refused["text"] and "#beta-it" in refused["text"]
    [closed] = fake.wait_for(lambda: fake.posts("C0GAMMA", method="chat.postEphemeral"))
    assert "no corpus is open" in closed["text"]
    assert fake.posts("C0BETA2") == [] and fake.posts("C0GAMMA") == []

    # Every call about a workspace's channel carried that workspace's token, and nothing else did.
    for channel, team in (("C0ALPHA", ALPHA), ("C0BETA", BETA), ("C0BETA2", BETA), ("C0GAMMA", GAMMA)):
        calls = fake.calls_about(channel)
        assert calls and {c.token for c in calls} == {TOKENS[team]}, (channel, [(c.method, c.token) for c in calls])
        assert all(c.authorization == f"Bearer {TOKENS[team]}" for c in calls)
    assert all(c.ok for c in fake.calls if c.method in ("chat.postMessage", "chat.postEphemeral", "auth.test"))


def test_an_event_from_a_workspace_that_never_installed_the_app_is_not_answered(deployment):
    fake = deployment.fake
    before = len(fake.calls)
    response = deployment.mention(NEVER, QUESTION, "C0NEVER", event_id="Ev0NEVER")
    assert response.status_code == 200  # acknowledged, so Slack does not retry it
    assert deployment.mention(ALPHA, QUESTION, "C0ALPHA3").status_code == 200  # a marker: handled after it
    fake.wait_for(lambda: fake.posts("C0ALPHA3"))
    assert fake.calls_about("C0NEVER") == []
    assert not any(c.token == TOKENS[NEVER] for c in fake.calls[before:])
    assert deployment.rows(EVENTS, event_id="Ev0NEVER") == []  # not even claimed


def test_qa_doctor_reports_the_oauth_install_and_each_workspaces_access_file(deployment):
    for team in (ALPHA, BETA):
        if not deployment.rows(BOTS, team_id=team):
            assert deployment.install(team).status_code == 200
    installed = len({row.team_id for row in deployment.rows(BOTS)})
    done = subprocess.run([sys.executable, "-m", "bot.cli", "doctor"], env=deployment.env, capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    out = done.stdout + done.stderr
    oauth = next(line for line in out.splitlines() if "OAuth install" in line)
    assert oauth.startswith("ok") and CLIENT_ID in oauth and f"{len(manifest_bot_scopes())} bot scopes" in oauth
    assert f"workspaces installed: {installed}" in oauth
    assert f"workspace {ALPHA}" in out and f"workspace {BETA}" in out and "Slack bot token" not in out
    for secret in (*TOKENS.values(), CLIENT_SECRET):
        assert secret not in out


def test_a_question_the_sweeper_takes_over_is_answered_with_its_workspaces_token(tmp_path, model_cache, postgres_url):
    """In one process: replica A, installed into Beta through its own OAuth flow, acknowledges
    a mention from Beta and "dies" (its answer never runs); replica B's sweeper answers it,
    with Beta's token, found in the shared installation store."""
    fake = FakeSlack()
    fake.add_workspace(BETA, "Beta", TOKENS[BETA], BOT_USERS[BETA])
    fake.oauth_app(CLIENT_ID, CLIENT_SECRET, "https://qa.example.com/slack/oauth_redirect")
    (tmp_path / f"access-{BETA}.toml").write_text('[default]\ncorpus = "default"\n')
    settings = Settings(data_dir=tmp_path / "data", model_cache=model_cache, slack_api_url=fake.api_url,
                        slack_signing_secret=SECRET, slack_client_id=CLIENT_ID, slack_client_secret=CLIENT_SECRET,
                        slack_redirect_uri="https://qa.example.com/slack/oauth_redirect", state_url=postgres_url,
                        slack_access=str(tmp_path / "access-{team}.toml"))
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    engine = Engine(settings)
    warm(engine, settings)
    timeout = 5.0
    busy, pool = threading.Event(), AnsweringPool(workers=1)
    pool.submit(busy.wait)  # A's one answering thread never frees up: its answer never runs
    a = build(settings, engine, SlackState(state_url(settings), claim_timeout=timeout), pool)
    b = build(settings, engine, SlackState(state_url(settings), claim_timeout=timeout), AnsweringPool())
    try:
        flow = a.app.oauth_flow
        state = flow.settings.state_store.issue()
        installed = flow.handle_callback(BoltRequest(body="", query=f"code={fake.code_for(BETA)}&state={state}",
                                                     headers={"cookie": f"slack-app-oauth-state={state}"}))
        assert installed.status == 200, installed.body

        body = json.dumps(event_callback(app_mention(QUESTION, "C0SWEPT", team=BETA, bot_user=BOT_USERS[BETA]),
                                         "Ev0SWEPT", team=BETA, bot_user=BOT_USERS[BETA]))
        acked = a.app.dispatch(BoltRequest(body=body, headers={"content-type": "application/json", **sign(SECRET, body)}))
        assert acked.status == 200 and fake.posts("C0SWEPT") == []

        [claim] = b.sweeper.sweep(now=time.time() + timeout + 1)
        assert claim.event_id == "Ev0SWEPT" and claim.question["workspace"] == BETA
        [answer] = fake.wait_for(lambda: fake.posts("C0SWEPT"))
        assert SHOIGU_SENTENCE in json.dumps(answer["blocks"])
        assert {c.token for c in fake.calls_about("C0SWEPT")} == {TOKENS[BETA]}
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        busy.set()
        fake.close()


def test_a_refused_install_is_logged_without_letting_the_redirect_forge_a_log_line(caplog):
    """The redirect's `error` parameter reaches the log: quoted on one line, never as written."""
    settings = OAuthSettings(client_id="1.2", client_secret=CLIENT_SECRET, scopes=["chat:write"])
    forged = "access_denied\n2026-12-03 INFO installed into workspace T0FORGED"
    args = FailureArgs(request=BoltRequest(body="", query="error=x"), reason=forged, suggested_status_code=400,
                       settings=settings, default=None)
    with caplog.at_level(logging.WARNING):
        response = not_installed(args)
    assert response.status == 400
    [record] = [r for r in caplog.records if "install was refused" in r.getMessage()]
    assert "\n" not in record.getMessage() and "T0FORGED" in record.getMessage()
