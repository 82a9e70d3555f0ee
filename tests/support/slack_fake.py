"""The only fake in the suite: a small Slack Web API on a free loopback port that records
every call's body and the token it carried. It answers as Slack does, errors included:
blocks past Slack's limits are `invalid_blocks`, an over-long text `msg_too_long`, a post to
a channel the bot may not post in `not_in_channel`. Workspace facts the app looks up
(externally shared channels, usergroup members) are set on the fake; responses can also be
scripted per method (e.g. a 429 before success).

OAuth (`oauth_app` on): Slack's authorize page at /oauth/v2/authorize, as if the installer
approved at once for the workspace `installing` names (a 302 back to the redirect URL with
a one-time code and the state), and `oauth.v2.access`, which trades the code for that
workspace's bot token (`invalid_code` for an unknown or used one, `bad_client_secret`,
`bad_redirect_uri`). Once a workspace is installed, calls bearing a token the fake never
issued get `invalid_auth`, and `auth.test` answers for the token's own workspace."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

BOT_USER, BOT_ID, TEAM = "UQABOT", "BQABOT", "T0TEAM"


@dataclass
class Call:
    method: str  # Web API method, or "response_url" for posts to a response_url
    body: dict
    status: int
    path: str
    at: float  # time.monotonic() on arrival
    ok: bool = True  # what Slack answered: False for {"ok": false, "error": ...}
    authorization: str | None = None  # the Authorization header as sent

    @property
    def token(self) -> str | None:
        """The bearer token the call was made with (None: none, or Basic auth)."""
        scheme, _, value = (self.authorization or "").partition(" ")
        return value if scheme.lower() == "bearer" else None


@dataclass
class Workspace:
    """A workspace the fake can install the app into."""

    team: str
    name: str
    token: str  # the bot token oauth.v2.access hands out for it
    bot_user: str
    installer: str = "U0INSTALLER"


class FakeSlack:
    def __init__(self):
        self.calls: list[Call] = []
        self.scripts: dict[tuple[str, str | None], list[tuple[int, dict, dict]]] = {}
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self.shared_channels: set[str] = set()  # conversations.info says is_ext_shared
        self.usergroups: dict[str, list[str]] = {}  # usergroups.users.list
        self.closed_channels: set[str] = set()  # chat.postMessage there is not_in_channel
        self.socket_mode: FakeSocketMode | None = None  # apps.connections.open hands out its URLs
        # OAuth: the app's credentials (oauth_app), the workspaces it can be installed into,
        # the one the next visit to the authorize page installs, the codes handed out.
        self.client_id: str | None = None
        self.client_secret: str | None = None
        self.redirect_uri: str | None = None
        self.workspaces: dict[str, Workspace] = {}
        self.installing: str | None = None
        self.codes: dict[str, str] = {}  # code -> team, until used
        self.installed: set[str] = set()  # teams whose token oauth.v2.access handed out
        self.authorize_visits: list[dict] = []  # the query of each visit to the authorize page
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the browser's side: Slack's authorize page)
                path, _, query = self.path.partition("?")
                if path != "/oauth/v2/authorize":
                    self.send_response(404)
                    self.end_headers()
                    return
                status, location, text = fake._authorize({k: v[0] for k, v in urllib.parse.parse_qs(query).items()})
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                data = text.encode()
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                method = "response_url" if self.path.startswith("/response/") else self.path.rsplit("/", 1)[-1]
                authorization = self.headers.get("Authorization")
                status, headers, payload = fake._respond(method, body, authorization)
                with fake._lock:
                    fake.calls.append(Call(method, body, status, self.path, time.monotonic(), payload.get("ok", True),
                                           authorization))
                data = json.dumps(payload).encode()
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.api_url = f"http://127.0.0.1:{self.port}/api/"
        self.authorize_url = f"http://127.0.0.1:{self.port}/oauth/v2/authorize"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def oauth_app(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        """The app as registered with Slack: its credentials and its one Redirect URL."""
        self.client_id, self.client_secret, self.redirect_uri = client_id, client_secret, redirect_uri

    def add_workspace(self, team: str, name: str, token: str, bot_user: str) -> Workspace:
        self.workspaces[team] = Workspace(team, name, token, bot_user)
        return self.workspaces[team]

    def code_for(self, team: str) -> str:
        """A code as the authorize page hands one out for `team` (single use)."""
        code = f"{team}.{uuid.uuid4().hex}"
        with self._lock:
            self.codes[code] = team
        return code

    def _authorize(self, query: dict) -> tuple[int, str | None, str]:
        """Slack's authorize page, its installer approving at once: (status, Location, text)."""
        with self._lock:
            self.authorize_visits.append(query)
        if self.client_id is None or query.get("client_id") != self.client_id:
            return 400, None, "invalid_client_id"
        redirect = query.get("redirect_uri") or self.redirect_uri
        if redirect != self.redirect_uri:
            return 400, None, "bad_redirect_uri"
        if self.installing not in self.workspaces:
            return 200, None, "(nobody approved)"
        back = {"code": self.code_for(self.installing)}
        if "state" in query:
            back["state"] = query["state"]
        return 302, f"{redirect}?{urllib.parse.urlencode(back)}", ""

    def _oauth_v2_access(self, body: dict, authorization: str | None) -> dict:
        scheme, _, value = (authorization or "").partition(" ")
        client_id, secret = body.get("client_id"), body.get("client_secret")
        if scheme.lower() == "basic":
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        if body.get("redirect_uri") not in (None, self.redirect_uri):
            return {"ok": False, "error": "bad_redirect_uri"}
        with self._lock:
            team = self.codes.pop(body.get("code") or "", None)
        if team is None:
            return {"ok": False, "error": "invalid_code"}
        workspace = self.workspaces[team]
        with self._lock:
            self.installed.add(team)
        return {"ok": True, "access_token": workspace.token, "token_type": "bot", "scope": ",".join(self.scopes()),
                "bot_user_id": workspace.bot_user, "app_id": "A0QABOT", "team": {"name": workspace.name, "id": team},
                "enterprise": None, "authed_user": {"id": workspace.installer}, "is_enterprise_install": False}

    def scopes(self) -> list[str]:
        """The scopes of the latest visit to the authorize page (what the install asked for)."""
        with self._lock:
            return (self.authorize_visits[-1].get("scope") or "").split(",") if self.authorize_visits else []

    def workspace_of(self, token: str | None) -> Workspace | None:
        return next((w for w in self.workspaces.values() if w.token == token), None)

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def script(self, method: str, channel: str, *responses: tuple[int, dict, dict]) -> None:
        """Next responses to `method` calls for `channel`: (status, headers, body), used once each."""
        self.scripts.setdefault((method, channel), []).extend(responses)

    def _respond(self, method: str, body: dict, authorization: str | None = None) -> tuple[int, dict, dict]:
        with self._lock:
            scripted = self.scripts.get((method, body.get("channel")))
            if scripted:
                return scripted.pop(0)
        if method == "oauth.v2.access":
            return 200, {}, self._oauth_v2_access(body, authorization)
        workspace = None
        if self.installed and method != "response_url":  # OAuth mode: only issued tokens work
            workspace = self.workspace_of(Call(method, body, 0, "", 0, True, authorization).token)
            if workspace is None or workspace.team not in self.installed:
                return 200, {}, {"ok": False, "error": "invalid_auth"}
        if method == "auth.test" and workspace is not None:
            return 200, {}, {"ok": True, "user_id": workspace.bot_user, "bot_id": "B" + workspace.bot_user[1:],
                             "team_id": workspace.team, "user": "qa", "team": workspace.name}
        if method in MESSAGE_METHODS:
            error = message_error(body, method)
            if error:
                return (404 if method == "response_url" else 200), {}, {"ok": False, "error": error}
            if method == "chat.postMessage" and body.get("channel") in self.closed_channels:
                return 200, {}, {"ok": False, "error": "not_in_channel"}
        if method == "conversations.info":
            channel = body.get("channel")
            return 200, {}, {"ok": True, "channel": {"id": channel, "is_channel": True,
                                                     "is_ext_shared": channel in self.shared_channels}}
        if method == "usergroups.users.list":
            if body.get("usergroup") not in self.usergroups:
                return 200, {}, {"ok": False, "error": "no_such_subteam"}
            return 200, {}, {"ok": True, "users": self.usergroups[body["usergroup"]]}
        if method == "apps.connections.open":  # only the app-level token of a Socket Mode app
            token = Call(method, body, 0, "", 0, True, authorization).token or ""
            if not token.startswith("xapp-"):
                return 200, {}, {"ok": False, "error": "not_allowed_token_type"}
            if self.socket_mode is None or token != self.socket_mode.app_token:
                return 200, {}, {"ok": False, "error": "invalid_auth"}
            return 200, {}, {"ok": True, "url": self.socket_mode.new_url()}
        if method == "auth.test":
            return 200, {}, {"ok": True, "user_id": BOT_USER, "bot_id": BOT_ID, "team_id": TEAM, "user": "qa", "team": "Test"}
        if method == "chat.postMessage":
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            return 200, {}, {"ok": True, "channel": body.get("channel"), "ts": ts, "message": {"text": body.get("text"), "ts": ts}}
        if method == "conversations.replies":
            return 200, {}, {"ok": True, "messages": [], "has_more": False}
        return 200, {}, {"ok": True}

    def posts(self, channel: str | None = None, method: str = "chat.postMessage") -> list[dict]:
        """What Slack accepted for `method` (in `channel`)."""
        with self._lock:
            return [c.body for c in self.calls if c.method == method and c.status == 200 and c.ok
                    and (channel is None or c.body.get("channel") == channel)]

    def calls_about(self, channel: str) -> list[Call]:
        """Every call the app made that names `channel` (posts, ephemerals, reactions, lookups...)."""
        with self._lock:
            return [c for c in self.calls if channel in (c.body.get("channel"), c.body.get("channel_id"))]

    def responses(self, name: str) -> list[dict]:
        """What the app posted to the response_url named `name`."""
        with self._lock:
            return [c.body for c in self.calls if c.method == "response_url" and c.path == f"/response/{name}"]

    def wait_for(self, predicate, timeout: float = 30.0):
        """Polls until `predicate()` is truthy (answers are posted after the ack)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting; calls so far: {[c.method for c in self.calls]}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


MESSAGE_METHODS = {"chat.postMessage", "chat.update", "chat.postEphemeral", "response_url", "views.publish"}
# Slack's documented limits (Block Kit reference, chat.postMessage)
MAX_BLOCKS, MAX_VIEW_BLOCKS, MAX_TEXT_OBJECT, MAX_CONTEXT_ELEMENTS = 50, 100, 3000, 10
MAX_MESSAGE_TEXT, MAX_BUTTON_TEXT, MAX_BUTTON_VALUE = 40_000, 75, 2000


class FakeSocketMode:
    """Slack's Socket Mode end: a WebSocket server on a free loopback port. Each connection
    gets `hello`; `send` puts an envelope on the newest connection (as Slack does after a
    refresh), and every message the app sends back is recorded (acks carry envelope_id);
    `disconnect` asks the app to reconnect, which it does through apps.connections.open."""

    def __init__(self, slack: FakeSlack, app_token: str):
        """`app_token`: the app-level token apps.connections.open accepts (any other: invalid_auth)."""
        from websockets.sync.server import serve

        self.app_token = app_token
        self.connections: list = []
        self.paths: list[str] = []
        self.received: list[dict] = []
        self._urls = itertools.count(1)
        self._lock = threading.Lock()
        self.server = serve(self._session, "127.0.0.1", 0)
        self.port = self.server.socket.getsockname()[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        slack.socket_mode = self

    def new_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/{next(self._urls)}"

    def _session(self, websocket) -> None:
        from websockets.exceptions import ConnectionClosed

        with self._lock:
            self.connections.append(websocket)
            self.paths.append(websocket.request.path.partition("?")[0])
        websocket.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake-socket-mode"},
                                   "connection_info": {"app_id": "A0QABOT"}}))
        try:
            for raw in websocket:
                with self._lock:
                    self.received.append(json.loads(raw))
        except ConnectionClosed:
            pass  # the app replaced this connection

    def send(self, kind: str, payload: dict, retry_attempt: int = 0) -> str:
        """An envelope of `kind` (events_api, slash_commands, interactive); its envelope_id."""
        envelope_id = str(uuid.uuid4())
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                    "accepts_response_payload": kind != "events_api"}
        if kind == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason="timeout" if retry_attempt else "")
        with self._lock:
            websocket = self.connections[-1]
        websocket.send(json.dumps(envelope))
        return envelope_id

    def acked(self, envelope_id: str) -> dict | None:
        with self._lock:
            return next((m for m in self.received if m.get("envelope_id") == envelope_id), None)

    def disconnect(self) -> None:
        with self._lock:
            websocket = self.connections[-1]
        websocket.send(json.dumps({"type": "disconnect", "reason": "refresh_requested",
                                   "debug_info": {"host": "fake-socket-mode"}}))

    def close(self) -> None:
        self.server.shutdown()


def message_error(body: dict, method: str) -> str | None:
    """The error Slack answers a message (or Home view) with, or None when it is accepted."""
    if len(str(body.get("text") or "")) > MAX_MESSAGE_TEXT:
        return "msg_too_long"
    blocks = (body.get("view") or {}).get("blocks") if method == "views.publish" else body.get("blocks")
    if isinstance(body.get("view"), str):
        blocks = json.loads(body["view"]).get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not blocks:
        return None
    if len(blocks) > (MAX_VIEW_BLOCKS if method == "views.publish" else MAX_BLOCKS):
        return "invalid_blocks"
    return "invalid_blocks" if any(not _valid_block(b) for b in blocks) else None


def _valid_text(obj, limit: int = MAX_TEXT_OBJECT) -> bool:
    return (isinstance(obj, dict) and obj.get("type") in ("mrkdwn", "plain_text") and isinstance(obj.get("text"), str)
            and 0 < len(obj["text"]) <= limit and (obj["type"] == "mrkdwn" or "verbatim" not in obj))


def _valid_block(block: dict) -> bool:
    kind = block.get("type")
    if kind == "section":
        return _valid_text(block.get("text"))
    if kind == "context":
        elements = block.get("elements") or []
        return 0 < len(elements) <= MAX_CONTEXT_ELEMENTS and all(_valid_text(e) for e in elements)
    if kind == "actions":
        elements = block.get("elements") or []
        return 0 < len(elements) <= 25 and all(
            _valid_text(e.get("text"), MAX_BUTTON_TEXT) and e["text"]["type"] == "plain_text"
            and len(e.get("value", "")) <= MAX_BUTTON_VALUE for e in elements)
    return kind in ("divider", "header", "rich_text")


def sign(secret: str, body: str, timestamp: int | None = None) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def post_signed(url: str, body: str, content_type: str, secret: str, timestamp: int | None = None,
                headers: dict | None = None) -> httpx.Response:
    return httpx.post(url, content=body.encode(), timeout=10,
                      headers={"Content-Type": content_type, **sign(secret, body, timestamp), **(headers or {})})


_ids = itertools.count(1)


def event_callback(event: dict, event_id: str | None = None, team: str = TEAM, bot_user: str = BOT_USER) -> dict:
    """The envelope Slack's Events API wraps every event in (for the app in workspace `team`)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "api_app_id": "A0QABOT",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:12].upper()}",  # unique across processes
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": team, "user_id": bot_user, "is_bot": True,
                            "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6ImFwcF9tZW50aW9uIn0",
    }


def new_ts() -> str:
    return f"{int(time.time())}.{next(_ids):06d}"


def app_mention(text: str, channel: str, user: str = "U0ASKER", thread_ts: str | None = None, team: str = TEAM,
                bot_user: str = BOT_USER) -> dict:
    ts = new_ts()
    event = {"type": "app_mention", "user": user, "text": f"<@{bot_user}> {text}", "ts": ts, "channel": channel,
             "event_ts": ts, "team": team, "client_msg_id": f"m-{ts}",
             "blocks": [{"type": "rich_text", "block_id": "b1", "elements": []}]}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def message(text: str, channel: str, channel_type: str, user: str | None = "U0ASKER", thread_ts: str | None = None,
            **extra) -> dict:
    ts = new_ts()
    event = {"type": "message", "text": text, "ts": ts, "channel": channel, "event_ts": ts,
             "channel_type": channel_type, "team": TEAM, **extra}
    if user:
        event["user"] = user
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def slash_command(text: str, channel: str, response_url: str, user: str = "U0ASKER") -> dict:
    return {"token": "legacy-verification-token", "team_id": TEAM, "team_domain": "test", "channel_id": channel,
            "channel_name": "general", "user_id": user, "user_name": "asker", "command": "/ask", "text": text,
            "api_app_id": "A0QABOT", "is_enterprise_install": "false", "response_url": response_url,
            "trigger_id": f"{next(_ids)}.trigger"}


def block_action(action_id: str, value: str, channel: str, response_url: str, user: str = "U0ASKER") -> dict:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "asker", "name": "asker", "team_id": TEAM},
        "api_app_id": "A0QABOT",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": new_ts(), "channel_id": channel, "is_ephemeral": False},
        "trigger_id": f"{next(_ids)}.trigger",
        "team": {"id": TEAM, "domain": "test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "general"},
        "message": {"type": "message", "user": BOT_USER, "ts": new_ts(), "text": "answer"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "answer_actions", "text": {"type": "plain_text", "text": "x"},
                     "value": value, "type": "button", "action_ts": str(time.time())}],
    }
