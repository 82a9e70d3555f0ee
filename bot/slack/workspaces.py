"""The Web API client of each workspace the app serves, for the calls made outside a
listener's own request: the access checks' lookups (conversations.info,
usergroups.users.list) and the sweeper's answers to questions taken over from a replica
that died. Inside a listener, Bolt's per-request `client` already carries the token of the
workspace the request came from; these resolve the same token from the same place.

- One workspace (SLACK_BOT_TOKEN): that token, whichever workspace is named.
- Installed through OAuth (SLACK_CLIENT_ID, bot/slack/install.py): the bot token stored
  when that workspace installed the app, or None for a workspace that never did (or
  uninstalled it): nothing is then sent anywhere on its behalf.
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.oauth.installation_store import InstallationStore

from retrieval.settings import Settings

API_TIMEOUT = 15


def api_client(settings: Settings, token: str | None) -> WebClient:
    """A Web API client as every call of the app makes them: SLACK_API_URL, a timeout, 429s
    waited out (Retry-After) and dropped connections retried; other errors surface."""
    client = WebClient(token=token, base_url=settings.slack_api_url, timeout=API_TIMEOUT)
    client.retry_handlers.extend([RateLimitErrorRetryHandler(max_retry_count=3), ConnectionErrorRetryHandler(max_retry_count=2)])
    return client


class OneWorkspace:
    """SLACK_BOT_TOKEN's workspace: its one client, for every request."""

    def __init__(self, client: WebClient):
        self.client = client

    def client_for(self, team: str | None, enterprise: str | None = None) -> WebClient | None:
        return self.client


class InstalledWorkspaces:
    """Workspaces that installed the app: each one's bot token, read from the installation
    store (the state database) when needed, so a re-install or an install on another
    replica is seen at once."""

    def __init__(self, settings: Settings, store: InstallationStore):
        self.settings, self.store = settings, store

    def client_for(self, team: str | None, enterprise: str | None = None) -> WebClient | None:
        if not team:
            return None
        bot = self.store.find_bot(enterprise_id=enterprise, team_id=team)
        if bot is None or not bot.bot_token:
            return None
        return api_client(self.settings, bot.bot_token)


Workspaces = OneWorkspace | InstalledWorkspaces
