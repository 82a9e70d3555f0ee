"""A scripted OpenAI-compatible chat-completions server on a free loopback port.

Each request takes the next step of the script (the last step repeats; a step may be a
function of the request, to quote whichever passage the prompt numbered P2): a reply's content
(streamed as server-sent events when the request asks for a stream), an HTTP error, a
delay or a gate the test opens, or a refusal. Every request body is recorded, so tests can read the prompt that was
sent. It stands in for a hosted model or a local Ollama / llama.cpp / vLLM server.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GATE_LIMIT = 120  # a test that never opens its gate fails rather than hangs


@dataclass
class Step:
    content: str = ""
    status: int = 200
    delay: float = 0.0  # seconds before the reply starts
    gate: threading.Event | None = None  # the reply waits until the test sets it (at most GATE_LIMIT s)
    refusal: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


def reply(citations: list[tuple[str, str]], answer: str, answerable: bool = True) -> Step:
    """A well-formed structured reply."""
    return Step(json.dumps({
        "citations": [{"passage": p, "quote": q} for p, q in citations],
        "answer": answer,
        "answerable": answerable,
    }))


def passages_in(body: dict) -> list[tuple[str, str]]:
    """(id, text) of each passage in the prompt of request `body` (without the line of title
    and date it starts with)."""
    prompt = "\n".join(str(m.get("content")) for m in body["messages"])
    return re.findall(r'<passage id="(P\d+)">\nTitle: [^\n]*\n(.*?)\n</passage>', prompt, flags=re.S)


def passage_of(body: dict, text: str) -> str:
    """The id (P1, P2...) the prompt in `body` gave the passage containing `text`."""
    for pid, passage in passages_in(body):
        if text in passage:
            return pid
    raise AssertionError(f"no passage in the prompt contains {text!r}")


def citing(text: str, answer: str, quote: str | None = None) -> Callable[[dict], Step]:
    """A reply quoting `quote` (default: `text`) from the passage that holds `text`,
    whichever number the prompt gave it."""
    return lambda body: reply([(passage_of(body, text), quote or text)], answer.replace("[P]", f"[{passage_of(body, text)}]"))


class FakeOpenAI:
    def __init__(self, *steps: Step | Callable[[dict], Step]):
        self.script = list(steps) or [Step("{}")]
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "FakeOpenAI":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def load(self, *steps: Step | Callable[[dict], Step]) -> None:
        """A new script, from its first step."""
        with self._lock:
            self.script, self.requests = list(steps), []

    def next_step(self, body: dict) -> Step:
        with self._lock:
            self.requests.append(body)
            step = self.script[min(len(self.requests), len(self.script)) - 1]
        return step(body) if callable(step) else step

    def prompt(self, index: int = -1) -> str:
        """All message text of a recorded request."""
        return "\n".join(str(m.get("content")) for m in self.requests[index]["messages"])

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                step = fake.next_step(body)
                time.sleep(step.delay)
                if step.gate is not None:
                    step.gate.wait(GATE_LIMIT)
                try:
                    if step.status != 200:
                        self._send_json(step.status, {"error": {"message": "scripted error", "type": "server_error"}}, step.headers)
                    elif body.get("stream"):
                        self._stream(step, body)
                    else:
                        self._send_json(200, _completion(step, body))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def _send_json(self, status: int, payload: dict, headers=()) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, step: Step, body: dict) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                delta = {"refusal": step.refusal} if step.refusal else None
                pieces = [step.content[i:i + 12] for i in range(0, len(step.content), 12)]
                events = [{"role": "assistant", "content": ""}] + ([delta] if delta else [{"content": p} for p in pieces])
                for number, event in enumerate(events):
                    self._event(_chunk(body, event, None))
                    if number % 8 == 7:
                        time.sleep(0.01)  # arrive in several reads, as a real stream does
                self._event(_chunk(body, {}, "stop"))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def _event(self, payload: dict) -> None:
                self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
                self.wfile.flush()

        return Handler


def _chunk(body: dict, delta: dict, finish: str | None) -> dict:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": body.get("model", "fake"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}


def _completion(step: Step, body: dict) -> dict:
    message = {"role": "assistant", "content": None if step.refusal else step.content, "refusal": step.refusal}
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
