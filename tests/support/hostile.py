"""Hostile inputs as hypothesis strategies, shared by the property tests and tests/fuzz.py
(which draws far more of them). Each one aims at a way real input goes wrong: bytes that
are not what the file name says, truncated files, odd Unicode, pathological sizes."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
import urllib.parse
from dataclasses import dataclass, field

from hypothesis import strategies as st

from tests.helpers import minimal_pdf
from tests.support.slack_fake import app_mention, event_callback, slash_command

# Characters that trip text handling: zero-width and direction marks, BOMs, line and paragraph
# separators, C0/C1 controls, combining marks, astral characters, typographic punctuation.
ODD_CHARACTERS = (
    "\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u202e\u2066\u2069"  # zero-width, bidi
    "\u2028\u2029\u0085\x0b\x0c\r\t\xa0\u3000"  # separators, odd spaces
    "\x01\x07\x1b\x7f\x9f"  # controls (NUL is left to the byte-level strategies)
    "\u0301\u20dd"  # combining marks
    "😀𝔘𐍈中文עבריתالعربية"  # astral, CJK, right-to-left
    "“”‘’«»…—–"  # typographic punctuation
)
WORDS = ["Shoigu", "Wallace", "asked", "the", "UK", "troops", "Ukraine", "date", "2022-02-11", "Mr.", "e.g.", "U.S.",
         "said", "a", "I", "3.14", "http://x.y/z?q=1", "#", "<b>", "&amp;"]
PIECES = WORDS + [" ", " ", "\n", "\n\n", "\n \n", ". ", "! ", "? ", ".", "...", ":", ";", '"', "'", "(", ")", "-",
                  "\t", "  "]

hostile_text = st.lists(
    st.one_of(
        st.sampled_from(PIECES),
        st.sampled_from(PIECES),  # listed twice: mostly prose-like, so sentences form
        st.text(alphabet=ODD_CHARACTERS, min_size=1, max_size=4),
        st.text(max_size=8),  # anything in Unicode (hypothesis leaves out lone surrogates)
        st.builds(lambda piece, n: piece * n, st.sampled_from([" ", "a", ".", "\n", "word\n", "# ", "\u200b"]),
                  st.integers(50, 3000)),  # long runs: very long lines, many soft wraps
    ),
    max_size=80,
).map("".join)

# ---- files -------------------------------------------------------------------------------

TEXT_SUFFIXES = [".txt", ".md", ".markdown", ".text"]
ALL_SUFFIXES = TEXT_SUFFIXES + [".html", ".htm", ".pdf", ".json", ".png", ""]


def _encoded(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


text_bytes = st.one_of(
    st.builds(_encoded, hostile_text, st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-32"])),
    st.binary(max_size=3000),
    st.builds(lambda head, n, tail: head + b"\x00" * n + tail, st.binary(max_size=50), st.integers(0, 3),
              st.binary(max_size=50)),
)

html_tags = st.sampled_from(["div", "p", "b", "span", "script", "style", "title", "noscript", "template", "table", "td",
                             "li", "a href='x'", "br", "!--", "![CDATA[", "svg", "math", "textarea"])


@st.composite
def html_bytes(draw) -> bytes:
    """Nested (sometimes thousands deep), unclosed, mis-closed and entity-laden HTML."""
    parts = []
    for _ in range(draw(st.integers(0, 8))):
        tag = draw(html_tags)
        depth = draw(st.sampled_from([1, 2, 5, 50, 3000]))
        name = tag.split()[0]
        closing = draw(st.sampled_from([f"</{name}>", "", f"</{name}", "</wrong>"]))
        inner = draw(hostile_text)
        if draw(st.booleans()):
            inner = draw(st.sampled_from(["&#xd800;", "&#0;", "&#x110000;", "&nbsp;", "&bogus;", "&#99999999999;"])) + inner
        parts.append(f"<{tag}>" * depth + inner + closing * depth)
    raw = "".join(parts).encode("utf-8", "replace")
    if draw(st.booleans()):
        raw = raw[: draw(st.integers(0, len(raw)))]  # truncated mid-tag
    return raw


@st.composite
def pdf_bytes(draw) -> bytes:
    """A valid little PDF, then truncated, bit-flipped, or with a byte range copied in."""
    latin1 = hostile_text.map(lambda t: t[:200].encode("latin-1", "replace").decode("latin-1"))  # what it can show
    data = bytearray(minimal_pdf(draw(st.lists(latin1, min_size=1, max_size=3))))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "splice"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from([b"<<", b">>", b"[", b"]", b"9999999999", b"-1", b" 0 R", b"obj",
                                                b"/Length 99999", b"/Filter /FlateDecode", b"/Kids [3 0 R 3 0 R]",
                                                b"/Parent 3 0 R", b"stream\n", b"endstream", b"\x00\xff"]))
        else:
            end = draw(st.integers(at, len(data)))
            data[at:at] = data[at:end]
    return bytes(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@st.composite
def squad_bytes(draw) -> bytes:
    """SQuAD-shaped data sets (with odd text and wrong types here and there), other JSON, and
    JSON nested far deeper than the parser allows."""
    kind = draw(st.sampled_from(["squad", "squad", "json", "deep", "escaped"]))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "deep":
        return (draw(st.sampled_from(["[", '{"data":', '{"a":['])) * draw(st.integers(1000, 100_000))).encode()
    context = hostile_text | st.none() | st.integers() | st.lists(st.text(max_size=5), max_size=2)
    articles = draw(st.lists(st.fixed_dictionaries({
        "title": st.text(max_size=20) | st.sampled_from(["Same", "Same-2"]) | st.integers(),
        "paragraphs": st.lists(st.fixed_dictionaries({"context": context}), max_size=4),
    }), max_size=4))
    text = json.dumps({"data": articles}, ensure_ascii=True)
    if kind == "escaped":  # a JSON escape that decodes to a lone UTF-16 surrogate
        text = text.replace("a", "\\ud800", 1)
    return text.encode()


def file_bytes(suffix: str):
    if suffix in {".html", ".htm"}:
        return html_bytes() | text_bytes
    if suffix == ".pdf":
        return pdf_bytes() | st.binary(max_size=500)
    if suffix == ".json":
        return squad_bytes() | text_bytes
    return text_bytes


sidecar_bytes = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={"title": json_values | hostile_text, "date": st.sampled_from(
        ["2022-02-11", "2022-13-45", "<!channel>", "", "yesterday"]) | json_values}).map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=200),
    st.integers(1000, 50_000).map(lambda n: b"[" * n),
    st.just(b'{"title": "\\udc00 broken"}'),
)

# ---- questions ---------------------------------------------------------------------------

SEED_QUESTIONS = ["What did Shoigu ask Wallace?", "What would Russia like to avoid?", "Who is Ben Wallace?"]
questions = st.one_of(
    st.text(),  # any Unicode, control characters included
    hostile_text,
    st.text(alphabet=ODD_CHARACTERS + " ", max_size=30),  # zero-width or controls only
    st.text(alphabet="?!.,;:-–—…'\"()[]{}*&^%$#@~`", min_size=1, max_size=40),  # only punctuation
    st.builds(lambda q, noise: q + noise, st.sampled_from(SEED_QUESTIONS), st.text(alphabet=ODD_CHARACTERS, max_size=10)),
    st.builds(lambda q, n: q * n, st.sampled_from(SEED_QUESTIONS + ["x", " ", "\u200b", "é"]), st.integers(1, 400)),
    st.sampled_from(["", " ", "\n\t", "\u3000", "\x00", "?" * 1000, "a" * 1000, "a" * 1001, " " * 5000 + "Shoigu?"]),
)

# ---- HTTP requests to `qa serve` ---------------------------------------------------------


@dataclass
class SlackRequest:
    method: str
    path: str
    body: bytes
    content_type: str | None
    signature: str  # "valid", "stale" (5 minutes old), "wrong", "none"
    headers: dict = field(default_factory=dict)


FORM = "application/x-www-form-urlencoded"
_envelope_values = json_values | st.sampled_from(["app_mention", "message", "event_callback", "block_actions", "im",
                                                  "url_verification", "feedback_helpful", "post_answer"])
_envelope_keys = st.sampled_from(["type", "event", "event_id", "actions", "command", "team", "user", "channel", "view",
                                  "container", "enterprise", "authorizations", "channel_id", "user_id", "team_id",
                                  "is_enterprise_install", "message", "text", "response_url", "challenge",
                                  "assistant_thread", "bot_id", "subtype", "thread_ts", "channel_type"])
# Slack-like bodies with fields of the wrong type, at the top level and one level down.
slack_shaped = st.dictionaries(_envelope_keys, _envelope_values | st.dictionaries(_envelope_keys, _envelope_values,
                                                                                 max_size=4), max_size=7)


def _real_payloads(question: str) -> list[tuple[bytes, str]]:
    """Payloads as Slack sends them, carrying a hostile question."""
    mention = json.dumps(event_callback(app_mention(question, "CFUZZ")))
    command = urllib.parse.urlencode(slash_command(question, "CFUZZ", "http://127.0.0.1:9/response/fuzz"))
    return [(mention.encode(), "application/json"), (command.encode(), FORM)]


bodies = st.one_of(
    st.binary(max_size=2000).map(lambda b: (b, None)),
    st.text(max_size=300).map(lambda t: (("{" + t).encode("utf-8", "replace"), "application/json")),  # malformed JSON
    json_values.map(lambda v: (json.dumps(v).encode(), "application/json")),
    slack_shaped.map(lambda v: (json.dumps(v).encode(), "application/json")),
    slack_shaped.map(lambda v: (("payload=" + urllib.parse.quote(json.dumps(v))).encode(), FORM)),
    st.lists(st.tuples(st.text(max_size=10), st.text(max_size=30)), max_size=6).map(
        lambda pairs: (urllib.parse.urlencode(pairs).encode(), FORM)),
    st.text(max_size=300).map(lambda t: (("payload=" + t).encode("utf-8", "replace"), FORM)),  # garbage form
    st.builds(lambda q, i: _real_payloads(q)[i], questions.map(lambda q: q[:2000]), st.integers(0, 1)),
    st.builds(lambda body, cut: (body[0][:cut], body[1]), st.builds(lambda q: _real_payloads(q)[0], st.just("hi")),
              st.integers(0, 200)),  # truncated
    st.integers(1_000_001, 1_000_100).map(lambda n: (b"{" + b" " * n + b"}", "application/json")),  # oversized
)


@st.composite
def slack_requests(draw) -> SlackRequest:
    body, content_type = draw(bodies)
    content_type = draw(st.sampled_from([content_type, content_type, content_type, None, "text/plain", "application/json",
                                         FORM, "multipart/form-data; boundary=x", "application/json; charset=utf-16",
                                         "\u00e9/\u00e9"]))
    return SlackRequest(
        method=draw(st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])),
        path=draw(st.sampled_from(["/slack/events", "/slack/events", "/slack/events", "/health", "/", "/slack/events/",
                                   "/slack/events?ssl_check=1", "/slack/install", "/%2e%2e/etc/passwd", "/slack//events",
                                   "/" + "a" * 5000])),
        body=body,
        content_type=content_type,
        signature=draw(st.sampled_from(["valid", "valid", "valid", "stale", "wrong", "none"])),
        headers=draw(st.dictionaries(st.sampled_from(["X-Slack-Retry-Num", "X-Slack-Retry-Reason", "Content-Encoding",
                                                      "Transfer-Encoding", "X-Forwarded-For"]),
                                     st.text(alphabet="abc019,-", min_size=1, max_size=10), max_size=2)),
    )


def send(client, base_url: str, secret: str, request: SlackRequest) -> int:
    """Sends `request` with httpx; returns the HTTP status."""
    headers = {**request.headers}
    if request.content_type is not None:
        headers["Content-Type"] = request.content_type
    if request.signature == "valid":
        headers.update(_sign_bytes(secret, request.body))
    elif request.signature == "stale":
        headers.update(_sign_bytes(secret, request.body, stale=True))
    elif request.signature == "wrong":
        headers.update(_sign_bytes("not-the-secret", request.body))
    # "Transfer-Encoding" from the strategy is dropped: httpx sets the framing itself.
    headers.pop("Transfer-Encoding", None)
    headers = {key: value.encode("utf-8") for key, value in headers.items()}  # bytes: non-ASCII values go as sent
    response = client.request(request.method, base_url + request.path, content=request.body, headers=headers)
    return response.status_code


def _sign_bytes(secret: str, body: bytes, stale: bool = False) -> dict:
    """Slack's signature over the exact bytes (tests.slack_fake.sign takes text)."""
    timestamp = str(int(time.time()) - (400 if stale else 0))
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


# Requests an HTTP client library would not send: broken framing, bad request lines, upgrades.
RAW_REQUESTS = [
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"type\":",  # body cut short
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}",
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFF\r\n" + b"{" * 200,
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}",
    (b"GET /slack/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
    b"FOO /slack/events HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET %zz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n",
    b"POST /slack/events?\xff\xfe=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Slack-Signature: \xff\xfe\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40),  # a TLS hello on the plain port
    b"\r\n\r\n\r\n",
    b"GET / HTTP/1.1\r\n",  # headers never finished
]

raw_requests = st.one_of(
    st.sampled_from(RAW_REQUESTS),
    st.builds(lambda raw, cut: raw[:cut], st.sampled_from(RAW_REQUESTS), st.integers(0, 120)),
    st.binary(max_size=300),
    st.builds(lambda method, path, junk: method + b" " + path + b" HTTP/1.1\r\nHost: x\r\n" + junk + b"\r\n\r\n",
              st.binary(min_size=1, max_size=10), st.binary(min_size=1, max_size=20), st.binary(max_size=60)),
)


def send_raw(port: int, data: bytes, timeout: float = 2.0) -> int | None:
    """Writes `data` on a fresh connection; the status of the reply, or None when the server
    closed the connection or waited for more (both fine for a broken request)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)  # nothing more is coming: a cut-short body stays cut
            reply = sock.recv(64)
        except (TimeoutError, ConnectionError):
            return None
    if not reply.startswith(b"HTTP/1."):
        return None
    return int(reply.split(b" ", 2)[1])

