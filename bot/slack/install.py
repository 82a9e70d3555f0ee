"""Installing into several workspaces: Slack's OAuth v2 install, through Bolt's
OAuthSettings, when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set (HTTP mode).

- GET /slack/install: a new one-time state is stored, its cookie set, and the installer is
  sent (302) to Slack's authorize page (SLACK_AUTHORIZE_URL) with the client id, the bot
  scopes (SLACK_SCOPES, else bot/manifest.yaml's) and the state.
- GET /slack/oauth_redirect?code=...&state=...: the state must be the one this browser was
  given, unexpired and unused (it is used up here, by exactly one replica); the code is
  exchanged with oauth.v2.access for the workspace's bot token, which is stored. Anything
  else gets a page saying what went wrong and what to do, and nothing is stored.

Both stores are slack_sdk's SQLAlchemy ones on the state database's engine (the tables are
made by its versioned migrations, bot/slack/state.py): the installations beside the rest of
the Slack state, on SQLite or on the PostgreSQL every replica shares. Tokens and the client
secret are never logged, nor shown on a page.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
import yaml
from slack_bolt import BoltResponse
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from retrieval.settings import Settings

from .state import SlackState

MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yaml"
STATE_LIFETIME = 600  # seconds an install started at /slack/install may take to come back
log = logging.getLogger(__name__)

# What the installer is told, per reason Bolt gives for a failed redirect (else UNKNOWN).
START_AGAIN = "Start again from the install link (/slack/install)."
FAILURES = {
    "access_denied": "The installation was cancelled on Slack's page, so nothing was installed.",
    "invalid_browser": "This page was opened without the cookie the install link sets (another browser, or cookies "
                       f"blocked), so it cannot be trusted and nothing was installed. {START_AGAIN}",
    "invalid_state": "This install link has expired or was already used, so nothing was installed. " + START_AGAIN,
    "missing_code": "Slack sent no authorization code, so nothing was installed. " + START_AGAIN,
    "invalid_code": "Slack did not accept the authorization code (it expired, was already used, or the app's "
                    f"credentials on this server are wrong), so nothing was installed. {START_AGAIN} If it keeps "
                    "failing, the person who runs this bot should check SLACK_CLIENT_ID and SLACK_CLIENT_SECRET.",
    "storage_error": "The installation could not be saved on this server, so it did not complete. Try again in a "
                     "minute; the error is in the server's log.",
}
UNKNOWN = "The installation did not complete, so nothing was installed. " + START_AGAIN


def manifest_bot_scopes() -> list[str]:
    """The bot scopes bot/manifest.yaml asks for: the one list of them."""
    return list(yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["oauth_config"]["scopes"]["bot"])


def bot_scopes(settings: Settings) -> list[str]:
    listed = [s.strip() for s in settings.slack_scopes.split(",") if s.strip()]
    return listed or manifest_bot_scopes()


class StateStore(SQLAlchemyOAuthStateStore):
    """slack_sdk's store with a consume that is one statement: of two replicas handed the
    same state at once (a double click, a replayed redirect), exactly one uses it."""

    def consume(self, state: str) -> bool:
        now = datetime.now(tz=timezone.utc).replace(tzinfo=None)  # naive UTC, as slack_sdk stores it
        c = self.oauth_states.c
        used = self.oauth_states.delete().where(c.state == state, c.expire_at > now).returning(c.id)
        try:
            with self.engine.begin() as db:
                return db.execute(used).first() is not None
        except sa.exc.SQLAlchemyError as exc:
            log.warning("install state not checked: the state database failed (%s)", type(exc).__name__)
            return False


def installation_store(settings: Settings, state: SlackState) -> SQLAlchemyInstallationStore:
    return SQLAlchemyInstallationStore(client_id=settings.slack_client_id, engine=state.engine, logger=log)


def oauth_settings(settings: Settings, state: SlackState) -> OAuthSettings:
    return OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=bot_scopes(settings),
        user_scopes=[],
        redirect_uri=settings.slack_redirect_uri,
        authorization_url=settings.slack_authorize_url,
        install_page_rendering_enabled=False,  # /slack/install redirects straight to Slack
        installation_store=installation_store(settings, state),
        state_store=StateStore(expiration_seconds=STATE_LIFETIME, engine=state.engine, logger=log),
        state_expiration_seconds=STATE_LIFETIME,
        installation_store_bot_only=True,  # the bot token is all the app uses
        callback_options=CallbackOptions(success=installed, failure=not_installed),
        logger=log,
    )


def installed(args: SuccessArgs) -> BoltResponse:
    team = args.installation.team_name or args.installation.team_id or "your workspace"
    log.info("installed into workspace %s", args.installation.team_id)
    return page(200, "qa-bot is installed",
                f"qa-bot is now installed in {team}. Invite it to a channel (/invite @qa-bot) and mention it, or "
                "send it a direct message.", args)


def not_installed(args: FailureArgs) -> BoltResponse:
    # Bolt's code word, or the redirect's own `error` parameter, which anyone can write:
    # quoted and cut short, so it cannot forge a log line.
    log.warning("an install was refused: %r", args.reason[:100])
    return page(args.suggested_status_code, "qa-bot was not installed", FAILURES.get(args.reason, UNKNOWN), args)


def page(status: int, title: str, text: str, args: SuccessArgs | FailureArgs) -> BoltResponse:
    body = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    # The state cookie has done its job (or failed it): the browser forgets it either way.
    return BoltResponse(status=status, body=body, headers={
        "Content-Type": "text/html; charset=utf-8",
        "Set-Cookie": [args.settings.state_utils.build_set_cookie_for_deletion()]})
