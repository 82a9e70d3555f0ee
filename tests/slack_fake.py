"""The only fake in the suite: a small Slack Web API on a free loopback port that records
every call's body. Responses can be scripted per method (e.g. a 429 before success)."""

from __future__ import annotations

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


class FakeSlack:
    def __init__(self):
        self.calls: list[Call] = []
        self.scripts: dict[tuple[str, str | None], list[tuple[int, dict, dict]]] = {}
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                method = "response_url" if self.path.startswith("/response/") else self.path.rsplit("/", 1)[-1]
                status, headers, payload = fake._respond(method, body)
                with fake._lock:
                    fake.calls.append(Call(method, body, status, self.path, time.monotonic()))
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
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def script(self, method: str, channel: str, *responses: tuple[int, dict, dict]) -> None:
        """Next responses to `method` calls for `channel`: (status, headers, body), used once each."""
        self.scripts.setdefault((method, channel), []).extend(responses)

    def _respond(self, method: str, body: dict) -> tuple[int, dict, dict]:
        with self._lock:
            scripted = self.scripts.get((method, body.get("channel")))
            if scripted:
                return scripted.pop(0)
        if method == "auth.test":
            return 200, {}, {"ok": True, "user_id": BOT_USER, "bot_id": BOT_ID, "team_id": TEAM, "user": "qa", "team": "Test"}
        if method == "chat.postMessage":
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            return 200, {}, {"ok": True, "channel": body.get("channel"), "ts": ts, "message": {"text": body.get("text"), "ts": ts}}
        if method == "conversations.replies":
            return 200, {}, {"ok": True, "messages": [], "has_more": False}
        return 200, {}, {"ok": True}

    def posts(self, channel: str | None = None, method: str = "chat.postMessage") -> list[dict]:
        with self._lock:
            return [c.body for c in self.calls if c.method == method and c.status == 200
                    and (channel is None or c.body.get("channel") == channel)]

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


def sign(secret: str, body: str, timestamp: int | None = None) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def post_signed(url: str, body: str, content_type: str, secret: str, timestamp: int | None = None,
                headers: dict | None = None) -> httpx.Response:
    return httpx.post(url, content=body.encode(), timeout=10,
                      headers={"Content-Type": content_type, **sign(secret, body, timestamp), **(headers or {})})


_ids = itertools.count(1)


def event_callback(event: dict, event_id: str | None = None) -> dict:
    """The envelope Slack's Events API wraps every event in."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0QABOT",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:12].upper()}",  # unique across processes
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": TEAM, "user_id": BOT_USER, "is_bot": True,
                            "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6ImFwcF9tZW50aW9uIn0",
    }


def new_ts() -> str:
    return f"{int(time.time())}.{next(_ids):06d}"


def app_mention(text: str, channel: str, user: str = "U0ASKER", thread_ts: str | None = None) -> dict:
    ts = new_ts()
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text}", "ts": ts, "channel": channel,
             "event_ts": ts, "team": TEAM, "client_msg_id": f"m-{ts}",
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
