"""The one place configuration is read: environment variables and an optional `.env` file.

Every other module receives a `Settings` object; none reads `os.environ` itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

CORPUS_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(Path(".qa"), alias="QA_DATA_DIR", description="Where the embedded Chroma index, lexical cache and feedback live.")
    model_cache: Path | None = Field(None, alias="QA_MODEL_CACHE", description="Where the ONNX export of the embedding model is kept (default: DATA_DIR/models).")
    corpus: str = Field("default", alias="QA_CORPUS", pattern=CORPUS_NAME_PATTERN, description="Corpus used when a command names none.")
    embed_model: str = Field("", alias="QA_EMBED_MODEL", description="sentence-transformers model name or path, or all-mpnet-base-v2 (the mpnet extra); empty means the bundled all-MiniLM-L6-v2.")
    chroma_host: str | None = Field(None, alias="CHROMA_HOST", description="Use a Chroma server at this host instead of the embedded store.")
    chroma_port: int = Field(8000, alias="CHROMA_PORT", ge=1, le=65535, description="Port of the Chroma server.")
    chroma_timeout: float = Field(
        30.0, alias="QA_CHROMA_TIMEOUT", gt=0, le=3600,
        description="Seconds to wait for each answer from the Chroma server before giving up with an error (a slow server never hangs a question).",
    )
    lock_wait: float = Field(
        30.0, alias="QA_LOCK_WAIT", ge=0, le=86400,
        description="Seconds a command waits for another qa process to let go of the embedded index, or of a corpus being ingested on a server, before giving up.",
    )
    max_file_mb: float = Field(
        50, alias="QA_MAX_FILE_MB", gt=0, le=1_000_000,
        description="Files larger than this many megabytes (MiB) are skipped by qa ingest with a warning, before they are read.",
    )
    max_question_chars: int = Field(1000, alias="QA_MAX_QUESTION_CHARS", ge=1, description="Longer questions are refused.")
    top_k: int = Field(5, alias="QA_TOP_K", ge=1, le=50, description="Passages returned with each answer.")
    window_chars: int = Field(600, alias="QA_WINDOW_CHARS", ge=100, le=5000, description="Target size of a retrieval passage (whole sentences).")
    max_citations: int = Field(3, alias="QA_MAX_CITATIONS", ge=1, le=3, description="Citations shown with an answer.")

    # Optional LLM answers (issue: any LangChain chat model; quotes verified). Unset: extractive.
    llm: str = Field("", alias="QA_LLM", description="Chat model as provider:model (e.g. openai:gpt-4o-mini, ollama:llama3.2); empty: extractive answers.")
    llm_base_url: str | None = Field(None, alias="QA_LLM_BASE_URL", description="Base URL of the model's API (an OpenAI-compatible server, Ollama...); OPENAI_BASE_URL also works for openai.")
    llm_api_key: SecretStr | None = Field(None, alias="QA_LLM_API_KEY", description="API key for the model; unset: the provider's own variable (OPENAI_API_KEY...).")
    llm_timeout: float = Field(30.0, alias="QA_LLM_TIMEOUT", gt=0, le=600, description="Seconds to wait for the model's whole answer before answering extractively.")
    llm_max_retries: int = Field(2, alias="QA_LLM_MAX_RETRIES", ge=0, le=10, description="Retries after a 429 or 5xx from the model's API.")
    llm_max_tokens: int = Field(
        400, alias="QA_LLM_MAX_TOKENS", ge=16, le=8192,
        description="Most tokens the model may generate for one answer, so that a reply that runs on ends in seconds, not at the timeout.",
    )

    # Slack (qa serve). Tokens are SecretStr so they never show up in a repr or a log line.
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN", description="Bot token (xoxb-...).")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET", description="Verifies HTTP requests from Slack.")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN", description="App-level token (xapp-...): Socket Mode instead of HTTP.")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL", description="Slack Web API base URL (proxies, tests).")
    slack_channel_corpora: str = Field("", alias="QA_SLACK_CHANNEL_CORPORA", description="Per-channel corpus: 'C0123=handbook,C0456=news'.")
    slack_suggested_prompts: str = Field(
        "What did Shoigu ask Wallace?;What would Russia like to avoid?", alias="QA_SLACK_SUGGESTED_PROMPTS",
        description="Questions offered when an assistant thread opens on the default corpus, separated by ';'.",
    )
    slack_access: Path | None = Field(
        None, alias="QA_SLACK_ACCESS",
        description="TOML file saying who may ask which corpus (re-read when it changes); unset: everyone asks, as QA_SLACK_CHANNEL_CORPORA says.",
    )
    slack_followups: Literal["mention", "question", "all"] = Field(
        "question", alias="QA_SLACK_FOLLOWUPS",
        description="Which later messages in a channel thread the bot answered get an answer: mention, question (mentions and questions) or all.",
    )
    slack_retention_days: float = Field(
        30, alias="QA_SLACK_RETENTION_DAYS", gt=0, le=3650,
        description="Days questions, answers and feedback are kept in the Slack state database before they are deleted.",
    )
    # Installing into several workspaces (OAuth): both set turn it on (bot/slack/install.py).
    slack_client_id: str | None = Field(
        None, alias="SLACK_CLIENT_ID",
        description="The app's Client ID (Basic Information); with SLACK_CLIENT_SECRET, qa serve installs into any number of workspaces through /slack/install, each with its own bot token, and SLACK_BOT_TOKEN is not used.",
    )
    slack_client_secret: SecretStr | None = Field(None, alias="SLACK_CLIENT_SECRET", description="The app's Client Secret (Basic Information), for the OAuth install.")
    slack_scopes: str = Field(
        "", alias="SLACK_SCOPES",
        description="Bot scopes the install asks for, separated by commas; empty: the bot scopes of bot/manifest.yaml.",
    )
    slack_redirect_uri: str | None = Field(
        None, alias="SLACK_REDIRECT_URI",
        description="The OAuth Redirect URL, e.g. https://qa.example.com/slack/oauth_redirect; unset: the one set in the app's OAuth & Permissions page.",
    )
    slack_authorize_url: str = Field(
        "https://slack.com/oauth/v2/authorize", alias="SLACK_AUTHORIZE_URL",
        description="Where /slack/install sends the installer to approve the app (Slack's page; the tests' fake).",
    )
    # Several replicas share their Slack state in PostgreSQL. SecretStr: the URL holds a password.
    state_url: SecretStr | None = Field(
        None, alias="QA_STATE_URL",
        description="Keep the Slack state (events, threads, answers, feedback) in this database, e.g. postgresql://user:pw@host/qa, shared by every qa serve replica; unset: DATA_DIR/slack.sqlite3.",
    )
    state_claim_timeout: float = Field(
        60.0, alias="QA_STATE_CLAIM_TIMEOUT", gt=0, le=3600,
        description="Seconds after which a question a replica claimed, did not answer and stopped renewing (it died mid-answer) is answered by another replica: the one Slack's next retry reaches, or the first whose claim sweeper finds it.",
    )
    serve_host: str = Field("0.0.0.0", alias="QA_SERVE_HOST", min_length=1, description="Where qa serve listens in HTTP mode: the address.")
    serve_port: int = Field(3000, alias="QA_SERVE_PORT", ge=1, le=65535, description="Where qa serve listens in HTTP mode: the port.")

    @field_validator("chroma_host")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("llm")
    @classmethod
    def _provider_and_model(cls, value: str) -> str:
        value = value.strip()
        provider, _, model = value.partition(":")
        if value and not (provider.strip() and model.strip()):
            raise ValueError(f"expected provider:model, e.g. openai:gpt-4o-mini or ollama:llama3.2, got '{value}'")
        return value

    @field_validator("slack_channel_corpora")
    @classmethod
    def _channel_map(cls, value: str) -> str:
        parse_channel_corpora(value)
        return value

    @field_validator("state_url", mode="before")
    @classmethod
    def _blank_url_is_none(cls, value):
        return value or None

    @field_validator("state_url")
    @classmethod
    def _state_database(cls, value: SecretStr | None) -> SecretStr | None:
        # Only the scheme is named: the rest of the URL may hold a password.
        scheme = value.get_secret_value().partition(":")[0].lower() if value else ""
        if value and scheme not in ("postgresql", "postgres", "postgresql+psycopg", "sqlite"):
            raise ValueError(f"expected postgresql://USER:PASSWORD@HOST/DATABASE or sqlite:///PATH, got a '{scheme}:' URL")
        return value

    @field_validator("slack_client_id", "slack_client_secret", "slack_redirect_uri", mode="before")
    @classmethod
    def _blank_oauth_is_none(cls, value):
        return value or None

    @field_validator("slack_access", mode="before")
    @classmethod
    def _blank_path_is_none(cls, value):
        return value or None

    @property
    def server_mode(self) -> bool:
        return self.chroma_host is not None

    @property
    def oauth_install(self) -> bool:
        """Installed into workspaces through OAuth (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set)."""
        return self.slack_client_id is not None and self.slack_client_secret is not None

    @property
    def channel_corpora(self) -> dict[str, str]:
        """QA_SLACK_CHANNEL_CORPORA as channel id -> corpus."""
        return parse_channel_corpora(self.slack_channel_corpora)


def parse_channel_corpora(value: str) -> dict[str, str]:
    """'C0123=handbook,C0456=news' as a dict; the one parser of that format."""
    mapping = {}
    for pair in filter(None, (p.strip() for p in value.split(","))):
        channel, _, corpus = pair.partition("=")
        if not channel.strip() or not re.match(CORPUS_NAME_PATTERN, corpus.strip()):
            raise ValueError(f"expected CHANNEL=CORPUS pairs separated by commas, got '{pair}'")
        mapping[channel.strip()] = corpus.strip()
    return mapping
