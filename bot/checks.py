"""Start-up checks for `qa serve` and `qa doctor`: everything that would otherwise fail on
the first question, found at once, each with what to do. No message holds a token.

A check is fatal unless it says otherwise: `qa serve` refuses to start on any fatal one
(after listing them all); warnings are printed and the bot starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.errors import QAError
from retrieval.settings import Settings

SLACK_TIMEOUT = 10  # seconds for auth.test: a start-up check must not hang


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # what was found; for a problem, also what to do
    fatal: bool = True

    def line(self) -> str:
        status = "ok" if self.ok else ("FAIL" if self.fatal else "warn")
        return f"{status:<5} {self.name:<16} {self.detail}"


def slack_configured(settings: Settings) -> bool:
    return any(s is not None for s in (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token,
                                       settings.slack_client_id, settings.slack_client_secret))


def run_checks(settings: Settings, slack: bool, holder=None) -> list[Check]:
    """Every check, whatever fails: the model, the store, the corpora, and with `slack` the
    Slack credentials, the access file and the state database. Leaves the store open (qa
    serve goes on to use it; an embedded store stays held by this process, named as `holder`
    says)."""
    checks = [_model(settings)]
    if settings.llm:
        checks.append(_llm(settings))
    store_check, client = _store(settings, holder)
    checks.append(store_check)
    if client is not None:
        checks.extend(_corpora(settings, client))
    if slack:
        checks.extend(_slack(settings))
        checks.extend(_access(settings))
        checks.append(_state_database(settings))
    return checks


def problems(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.ok and c.fatal]


def _model(settings: Settings) -> Check:
    from retrieval.search.embeddings import SentenceEmbeddings

    embeddings = SentenceEmbeddings.from_settings(settings)
    try:
        embeddings.encode(["start-up check"])
    except QAError as exc:
        return Check("embedding model", False, str(exc))
    except Exception as exc:  # a broken install, an unreadable cache...
        return Check("embedding model", False, f"cannot run '{embeddings.name}' ({type(exc).__name__}: {exc}); "
                     "set QA_EMBED_MODEL to a local sentence-transformers model, or reinstall with ./setup.sh")
    return Check("embedding model", True, f"{embeddings.name} loads")


def _llm(settings: Settings) -> Check:
    """QA_LLM names a chat model that can be set up: its provider package is installed and
    it has what it needs to start (an API key...). Nothing is sent to it: a start-up check
    must not cost a request, and answers fall back to extractive when the model fails."""
    from retrieval.answer.chat_model import chat_model

    try:
        chat_model(settings)
    except QAError as exc:
        return Check("LLM", False, str(exc))
    return Check("LLM", True, f"{settings.llm} is set up (not called)")  # no URL: it may hold credentials


def _store(settings: Settings, holder):
    from retrieval.store.client import open_client

    where = (f"Chroma server at {settings.chroma_host}:{settings.chroma_port}" if settings.server_mode
             else f"embedded index in {settings.data_dir}")
    try:
        return Check("store", True, f"{where} answers"), open_client(settings, holder)
    except QAError as exc:  # StoreUnavailable, StoreBusy, an unusable data directory
        return Check("store", False, str(exc)), None
    except Exception as exc:
        return Check("store", False, f"cannot open the {where} ({type(exc).__name__}: {exc})"), None


def _corpora(settings: Settings, client) -> list[Check]:
    """The default corpus must be there; a corpus only some channels (or the access file) use
    is a warning (those channels are told it is not ingested yet, and it is picked up once it is)."""
    from bot.slack.access import configured_corpora
    from retrieval.errors import CorpusNotFound
    from retrieval.search.embeddings import model_id
    from retrieval.store.corpus import CorpusStore

    checks = []
    for corpus in [settings.corpus, *sorted(configured_corpora(settings) - {settings.corpus})]:
        fatal = corpus == settings.corpus
        name = f"corpus '{corpus}'"
        try:
            store = CorpusStore(client, settings, corpus, model_id(settings.embed_model))
            passages = store.count()
            unfinished = store.unfinished_write()
        except CorpusNotFound:
            checks.append(Check(name, False, f"not ingested yet; run: qa ingest PATH --corpus {corpus}", fatal))
            continue
        except QAError as exc:  # embedded with another model, or the store went away
            checks.append(Check(name, False, str(exc), fatal))
            continue
        if passages == 0:
            checks.append(Check(name, False, f"has no passages; run: qa ingest PATH --corpus {corpus}", fatal))
        elif unfinished:
            checks.append(Check(name, False, f"{passages} passages, but an ingest by {unfinished} did not finish "
                                "(killed?); what it committed answers; run the same qa ingest again to complete it",
                                fatal=False))
        else:
            checks.append(Check(name, True, f"{passages} passages"))
    return checks


def _slack(settings: Settings) -> list[Check]:
    checks = []
    if settings.slack_app_token is not None:
        if settings.slack_app_token.get_secret_value().startswith("xapp-"):
            checks.append(_app_token(settings))
        else:
            checks.append(Check("Slack mode", False, "SLACK_APP_TOKEN is not an app-level token (xapp-...); create one "
                                "with connections:write under Basic Information > App-Level Tokens, or unset it for HTTP mode"))
    elif settings.slack_signing_secret is None or not settings.slack_signing_secret.get_secret_value().strip():
        checks.append(Check("signing secret", False, "SLACK_SIGNING_SECRET is not set; HTTP mode needs it to verify "
                            "requests: copy it from your app's Basic Information page (or set SLACK_APP_TOKEN for Socket Mode)"))
    else:
        checks.append(Check("signing secret", True, "set (HTTP mode)"))
    if settings.slack_client_id is not None or settings.slack_client_secret is not None:
        checks.append(_oauth(settings))
        if settings.oauth_install:
            return checks  # each workspace's token comes with its install: SLACK_BOT_TOKEN is not used
    checks.append(_bot_token(settings))
    return checks


def _oauth(settings: Settings) -> Check:
    """Installing into workspaces (bot/slack/install.py): both credentials, HTTP mode, the
    scopes asked for, and how many workspaces have installed the app so far."""
    if settings.slack_client_id is None or settings.slack_client_secret is None:
        missing = "SLACK_CLIENT_SECRET" if settings.slack_client_secret is None else "SLACK_CLIENT_ID"
        return Check("OAuth install", False, f"{missing} is not set; copy both the Client ID and the Client Secret "
                     "from your app's Basic Information page, or unset the other to serve one workspace")
    if settings.slack_app_token is not None:
        return Check("OAuth install", False, "needs HTTP mode (the install pages are served at /slack/install and "
                     "/slack/oauth_redirect); unset SLACK_APP_TOKEN")
    from bot.slack.install import bot_scopes
    from bot.slack.state import SlackState, installed_workspaces

    scopes = bot_scopes(settings)
    where = "SLACK_SCOPES" if settings.slack_scopes.strip() else "bot/manifest.yaml"
    try:
        state = SlackState.from_settings(settings)
    except QAError:
        count = "unknown (see the state database check)"
    else:
        try:
            count = str(len(installed_workspaces(state, settings.slack_client_id)))
        except Exception as exc:  # the database stopped answering: the state database check says more
            count = f"unknown ({type(exc).__name__})"
        finally:
            state.close()
    redirect = settings.slack_redirect_uri or "the app's configured Redirect URL"
    note = "" if settings.slack_bot_token is None else "; SLACK_BOT_TOKEN is ignored"
    return Check("OAuth install", True, f"client {settings.slack_client_id}: /slack/install asks for {len(scopes)} "
                 f"bot scopes ({where}), back to {redirect}; workspaces installed: {count}{note}")


def _bot_token(settings: Settings) -> Check:
    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value().strip():
        return Check("Slack bot token", False, "SLACK_BOT_TOKEN is not set; copy the Bot User OAuth Token (xoxb-...) "
                     "from your app's OAuth & Permissions page into the environment or .env")
    from slack_sdk import WebClient

    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url,
                       timeout=SLACK_TIMEOUT)
    identity, failed = _ask_slack(settings, "Slack bot token", "SLACK_BOT_TOKEN", client.auth_test,
                                  "copy the current Bot User OAuth Token (xoxb-...) from your app's OAuth & Permissions page")
    return failed or Check("Slack bot token", True, f"valid: bot {identity.get('user_id')} in team {identity.get('team_id')}")


def _ask_slack(settings: Settings, name: str, variable: str, call, what_to_do: str):
    """(call's response, None), or (None, the failed Check): Slack's error code, or that Slack
    is out of reach. Never the request, which holds the token."""
    from slack_sdk.errors import SlackApiError

    try:
        return call(), None
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        return None, Check(name, False, f"Slack rejected {variable} ({error or exc.response.status_code}); {what_to_do}")
    except Exception as exc:  # no network, DNS, a proxy
        return None, Check(name, False, f"cannot reach Slack at {settings.slack_api_url} ({type(exc).__name__}); "
                           "check the network, or SLACK_API_URL")


def _app_token(settings: Settings) -> Check:
    """Socket Mode's token, tried as `qa serve` will use it: apps.connections.open hands out a
    connection URL (which nothing opens) or says why not."""
    from slack_sdk import WebClient

    client = WebClient(base_url=settings.slack_api_url, timeout=SLACK_TIMEOUT)
    _, failed = _ask_slack(settings, "Slack mode", "SLACK_APP_TOKEN",
                           lambda: client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value()),
                           "copy a current app-level token with connections:write from Basic Information > App-Level Tokens")
    return failed or Check("Slack mode", True, "Socket Mode (SLACK_APP_TOKEN accepted)")


def _access(settings: Settings) -> list[Check]:
    """The access file parses. `qa serve` re-reads it on change and keeps the last good rules
    when it breaks; this names what is wrong."""
    if settings.slack_access is None:
        return [Check("access rules", True, "QA_SLACK_ACCESS is not set: every member may ask, "
                      "each channel as QA_SLACK_CHANNEL_CORPORA says, DMs and the panel the default corpus", fatal=False)]
    from bot.slack.access import AccessFileError, access_files, per_workspace, read_policy

    if per_workspace(settings):
        return _workspace_access(settings, access_files(settings))
    try:
        policy = read_policy(settings.slack_access)
    except AccessFileError as exc:
        return [Check("access rules", False, f"{settings.slack_access}: {exc}")]
    default = f"'{policy.default.corpus}'" if policy.default.corpus else "none (refused)"
    checks = [Check("access rules", True, f"{settings.slack_access}: default corpus {default}, "
                    f"{len(policy.channels)} channel rule(s), external users "
                    f"{'allowed' if policy.external_users else 'refused'}")]
    if settings.slack_channel_corpora:
        checks.append(Check("access rules", False, "QA_SLACK_CHANNEL_CORPORA is ignored while QA_SLACK_ACCESS is set; "
                            "move its channels into [channels.ID] tables", fatal=False))
    return checks


def _workspace_access(settings: Settings, files: dict) -> list[Check]:
    """One access file per workspace (`{team}` in QA_SLACK_ACCESS): each that exists parses."""
    from bot.slack.access import AccessFileError, read_policy

    if not files:
        return [Check("access rules", False, f"no file matches {settings.slack_access} yet: every workspace's "
                      "questions are refused until its file (its team ID in place of {team}) exists", fatal=False)]
    checks = []
    for team, path in files.items():
        try:
            policy = read_policy(path)
        except AccessFileError as exc:
            checks.append(Check("access rules", False, f"{path}: {exc}"))
            continue
        default = f"'{policy.default.corpus}'" if policy.default.corpus else "none (refused)"
        checks.append(Check("access rules", True, f"workspace {team} ({path.name}): default corpus {default}, "
                            f"{len(policy.channels)} channel rule(s)"))
    checks.append(Check("access rules", True, f"workspaces with no file matching {settings.slack_access}: "
                        "every question refused", fatal=False))
    return checks


def _state_database(settings: Settings) -> Check:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.slack.state import SlackState, first_line

    try:
        state = SlackState.from_settings(settings)
    except QAError as exc:
        return Check("state database", False, str(exc))
    try:
        problem, version = state.integrity_problem(), state.schema_version()
    except SQLAlchemyError as exc:
        return Check("state database", False, f"{state.where} stopped answering: {first_line(exc)}")
    finally:
        state.close()
    if problem:
        return Check("state database", False, f"{state.where} is damaged ({problem}); move it aside "
                     "(a new one is started) or restore it from a backup")
    return Check("state database", True, f"{state.where} is sound (schema version {version})")
