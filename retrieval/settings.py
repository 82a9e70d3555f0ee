"""The one place configuration is read: environment variables and an optional `.env` file.

Every other module receives a `Settings` object; none reads `os.environ` itself.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

CORPUS_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(Path(".qa"), alias="QA_DATA_DIR", description="Where the embedded Chroma index, lexical cache and feedback live.")
    corpus: str = Field("default", alias="QA_CORPUS", pattern=CORPUS_NAME_PATTERN, description="Corpus used when a command names none.")
    embed_model: str = Field("", alias="QA_EMBED_MODEL", description="sentence-transformers model name or path; empty means the bundled all-MiniLM-L6-v2.")
    chroma_host: str | None = Field(None, alias="CHROMA_HOST", description="Use a Chroma server at this host instead of the embedded store.")
    chroma_port: int = Field(8000, alias="CHROMA_PORT", ge=1, le=65535, description="Port of the Chroma server.")
    max_question_chars: int = Field(1000, alias="QA_MAX_QUESTION_CHARS", ge=1, description="Longer questions are refused.")
    top_k: int = Field(5, alias="QA_TOP_K", ge=1, le=50, description="Passages returned with each answer.")
    window_chars: int = Field(600, alias="QA_WINDOW_CHARS", ge=100, le=5000, description="Target size of a retrieval passage (whole sentences).")
    max_citations: int = Field(3, alias="QA_MAX_CITATIONS", ge=1, le=3, description="Citations shown with an answer.")

    @field_validator("chroma_host")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def server_mode(self) -> bool:
        return self.chroma_host is not None
