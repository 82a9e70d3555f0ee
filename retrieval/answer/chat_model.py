"""The chat model behind LLM answers: chosen with `QA_LLM=provider:model` through LangChain's
`init_chat_model`, asked for structured output, streamed under a hard deadline.

LangChain and the provider packages are imported here only, and only when QA_LLM is set,
so the extractive default neither needs them nor pays for importing them.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import QAError
from ..settings import Settings

# Citations come before the answer so that, while the answer streams, its quotes are
# already complete and checked: nothing unverified is shown as a draft.
REPLY_SCHEMA: dict[str, Any] = {
    "title": "cited_answer",
    "description": "An answer to the question, supported by verbatim quotes from the passages.",
    "type": "object",
    "properties": {
        "citations": {
            "type": "array",
            "description": "Quotes copied character for character from the passages.",
            "items": {
                "type": "object",
                "properties": {
                    "passage": {"type": "string", "description": "Id of the quoted passage, e.g. P1."},
                    "quote": {"type": "string", "description": "Exact words from that passage."},
                },
                "required": ["passage", "quote"],
                "additionalProperties": False,
            },
        },
        "answer": {"type": "string", "description": "Short answer citing the quotes as [P1], [P2]."},
        "answerable": {"type": "boolean", "description": "False when the passages do not answer the question."},
    },
    "required": ["citations", "answer", "answerable"],
    "additionalProperties": False,
}

# Keyword arguments each provider's chat model accepts for a request timeout, retries and a
# cap on generated tokens. Others get none: the deadline in `stream_structured` still bounds
# every call.
_CLIENT_OPTIONS: dict[str, Callable[[Settings], dict]] = {
    "openai": lambda s: {"timeout": s.llm_timeout, "max_retries": s.llm_max_retries, "max_tokens": s.llm_max_tokens},
    "azure_openai": lambda s: {"timeout": s.llm_timeout, "max_retries": s.llm_max_retries, "max_tokens": s.llm_max_tokens},
    "anthropic": lambda s: {"timeout": s.llm_timeout, "max_retries": s.llm_max_retries, "max_tokens": s.llm_max_tokens},
    "ollama": lambda s: {"client_kwargs": {"timeout": s.llm_timeout}, "num_predict": s.llm_max_tokens},
}
_EXTRAS = {"openai": "openai", "azure_openai": "openai", "anthropic": "anthropic", "ollama": "ollama"}


TOO_LONG = "the reply ran past QA_LLM_MAX_TOKENS"
TIMED_OUT = "the model's API timed out"


class ModelFailed(Exception):
    """The model gave no usable reply; `reason` is short and safe to show a user."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def chat_model(settings: Settings):
    """The configured chat model. Configuration problems are QAErrors naming the fix."""
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:
        raise QAError("QA_LLM needs LangChain's model loader: pip install -e '.[openai]' (or .[anthropic], .[ollama])") from None
    provider, _, model = settings.llm.partition(":")
    options = _CLIENT_OPTIONS.get(provider, lambda s: {})(settings)
    if settings.llm_base_url:
        options["base_url"] = settings.llm_base_url
    if settings.llm_api_key is not None:
        options["api_key"] = settings.llm_api_key.get_secret_value()
    try:
        return init_chat_model(model, model_provider=provider, temperature=0, **options)
    except ImportError:
        extra = _EXTRAS.get(provider, provider)
        raise QAError(f"QA_LLM={settings.llm} needs the provider's package: pip install -e '.[{extra}]'") from None
    except Exception as exc:  # e.g. no API key: the SDKs raise their own error types
        raise QAError(f"QA_LLM={settings.llm} could not be set up: {_first_line(exc)}") from None


def structured(model) -> Any:
    """`model` bound to reply with REPLY_SCHEMA (JSON schema or tool calling, whichever
    `with_structured_output` uses for it), or the plain model where that is unsupported.

    Only the binding is kept, not LangChain's parser: the raw reply streams, and
    `parse_reply` reads it tolerantly (code fences, preamble) yet completely (a reply cut
    short is a failure, where a streaming JSON parser would return the part it got)."""
    try:
        chain = model.with_structured_output(REPLY_SCHEMA)
    except NotImplementedError:
        return model
    return getattr(chain, "first", model)


def stream_structured(runnable, messages, timeout: float, on_partial: Callable[[dict], None] | None = None) -> dict:
    """The model's complete reply as a dict, calling `on_partial` with the partial reply
    parsed from what has streamed so far.

    The call runs in a worker thread so that `timeout` holds whatever the provider's client
    does; a late worker is abandoned (its own client timeout ends it). A reply cut short
    or not in the asked-for shape is a failure, never a partial answer."""
    results: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            for chunk in runnable.stream(messages):
                results.put(("chunk", chunk))
            results.put(("done", None))
        except BaseException as exc:  # handed to the caller's thread
            results.put(("error", exc))

    threading.Thread(target=work, name="llm-stream", daemon=True).start()
    deadline = time.monotonic() + timeout
    raw = None  # the reply message so far
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ModelFailed(f"no complete reply within {timeout:g} s")
        try:
            kind, chunk = results.get(timeout=remaining)
        except queue.Empty:
            continue
        if kind == "error":
            reason = describe_failure(chunk)
            if reason == TIMED_OUT:  # the client's timeout is ours: under load its error can come first
                reason = f"no complete reply within {timeout:g} s"
            raise ModelFailed(reason) from chunk
        if kind == "done":
            break
        raw = chunk if raw is None else raw + chunk
        if raw.additional_kwargs.get("refusal"):  # OpenAI's structured-output refusal
            raise ModelFailed("the model declined to answer")
        if on_partial is not None:
            partial = _partial(_reply_text(raw))
            if partial:
                on_partial(partial)
    reply = parse_reply(_reply_text(raw)) if raw is not None else None
    if reply is None and raw is not None and raw.response_metadata.get("finish_reason") == "length":
        raise ModelFailed(TOO_LONG)
    if reply is None or not isinstance(reply.get("answer"), str) or not isinstance(reply.get("citations"), list):
        raise ModelFailed("the reply was not the JSON object asked for")
    return reply


def parse_reply(text: str) -> dict | None:
    """The first complete JSON object in `text`, wherever the model put it (alone, in a
    code fence, after a sentence of preamble); None when there is none."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _reply_text(message) -> str:
    """The reply's JSON text: the message content, or a tool call's arguments (tool calling)."""
    calls = getattr(message, "tool_call_chunks", None) or []
    if calls and calls[0].get("args"):
        return calls[0]["args"]
    content = message.content
    if isinstance(content, list):  # content blocks
        content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return content or ""


def _partial(text: str) -> dict | None:
    from langchain_core.utils.json import parse_partial_json

    start = text.find("{")
    try:
        value = parse_partial_json(text[start:]) if start >= 0 else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def describe_failure(exc: BaseException) -> str:
    """A short, secret-free reason: HTTP status and kind, never the provider's message
    (which can echo request details)."""
    name = type(exc).__name__
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    if "Refusal" in name:
        return "the model declined to answer"
    if "LengthFinishReason" in name:  # the OpenAI SDK's own check of a structured reply
        return TOO_LONG
    if status == 429:
        return "the model's API is rate-limiting us (429)"
    if status:
        return f"the model's API answered HTTP {status}"
    if "Timeout" in name:
        return TIMED_OUT
    if "Connection" in name:
        return "the model's API could not be reached"
    if "OutputParser" in name or isinstance(exc, ValueError):
        return "the reply was not the JSON object asked for"
    return f"the model call failed ({name})"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
