"""Engine: question -> Answer, what the CLI and the Slack app call; build_chain wraps it as a
LangChain Runnable for code that composes chains (LCEL).

The engine is built once; the embedding model, the Chroma client and each corpus's
retriever are loaded on first use and then kept, so `qa chat` and `qa serve` answer warm.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from .answer.extractive import AnswerSettings, ExtractiveAnswerer
from .errors import UsageError
from .search.embeddings import SentenceEmbeddings
from .search.query import asked
from .search.retriever import HybridRetriever
from .settings import Settings
from .store.client import close_client, open_client
from .store.corpus import CorpusStore
from .store.naming import lexical_cache
from .store.process_lock import Holder
from .types import Answer, Turn


class Engine:
    """Holds what is slow to load; hands out one retriever and answerer per corpus."""

    def __init__(self, settings: Settings, answer_settings: AnswerSettings | None = None, holder: Holder | None = None):
        """`holder`: how this process is named to another that finds it holding the index,
        and what it does while it waits for one (process_lock.Holder); the caller's to say."""
        self.settings, self.holder = settings, holder
        self.embeddings = SentenceEmbeddings.from_settings(settings)
        self.answer_settings = answer_settings or AnswerSettings.for_model(self.embeddings.name)
        self.llm = _llm_answerer(settings, self.embeddings) if settings.llm else None
        self._client = None
        self._corpora: dict[str, tuple[HybridRetriever, ExtractiveAnswerer]] = {}
        self._lock = threading.Lock()
        self._corpus_lock = threading.Lock()

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                self._client = open_client(self.settings, self.holder)
            return self._client

    def corpus(self, name: str) -> tuple[HybridRetriever, ExtractiveAnswerer]:
        cached = self._corpora.get(name)
        if cached is not None:
            return cached
        client = self.client
        with self._corpus_lock:  # one retriever per corpus, however many threads ask at once
            if name in self._corpora:
                return self._corpora[name]
            store = CorpusStore(client, self.settings, name, self.embeddings.name)
            retriever = HybridRetriever(
                store=store,
                embeddings=self.embeddings,
                cache_dir=lexical_cache(self.settings.data_dir),
                k=self.settings.top_k,
            )
            answerer = ExtractiveAnswerer(store, self.answer_settings, self.settings.max_citations, self.embeddings)
            self._corpora[name] = (retriever, answerer)
            return self._corpora[name]

    def forget(self, name: str) -> None:
        """Drop what is cached for a corpus (its collections were deleted or re-created)."""
        with self._corpus_lock:
            self._corpora.pop(name, None)

    def close(self) -> None:
        """Let go of the store: an embedded one is then free for other processes (it allows
        one at a time). A later question opens it again."""
        with self._lock:
            client, self._client = self._client, None
        with self._corpus_lock:
            self._corpora.clear()
        if client is not None:
            close_client(client)

    def warm_up(self, corpus: str | None = None) -> None:
        """Load the model and the corpus's indexes now rather than on the first question."""
        retriever, _ = self.corpus(corpus or self.settings.corpus)
        self.embeddings.encode(["warm-up"])
        retriever.lexical()

    def validate(self, question: str) -> str:
        # A lone surrogate (`qa ask $'\xff'`, a JSON escape) cannot be tokenised: show it as U+FFFD.
        question = (question or "").encode("utf-16", "surrogatepass").decode("utf-16", "replace").strip()
        if not question:
            raise UsageError("the question is empty; ask something, e.g. qa ask \"What did Shoigu ask Wallace?\"")
        if len(question) > self.settings.max_question_chars:
            raise UsageError(
                f"the question is {len(question)} characters long; the limit is "
                f"{self.settings.max_question_chars} (QA_MAX_QUESTION_CHARS)"
            )
        return question

    def answer(self, question: str, corpus: str | None = None, history: Sequence[Turn] = (),
               on_draft: Callable[[str], None] | None = None) -> Answer:
        """Answer `question`; with `history` (earlier turns of a conversation) it is read as a
        follow-up: retrieval also uses the previous question, and what was already quoted is
        not quoted again. With QA_LLM set, a language model writes the answer from the
        retrieved passages (`on_draft` sees its text as it streams); the extractive answer
        is its fallback."""
        question = self.validate(question)
        name = corpus or self.settings.corpus
        try:
            passages, lexical, answer = self._extract(question, name, history)
        except Exception as exc:
            if not _collection_gone(exc):
                raise
            self.forget(name)  # the corpus was removed (and maybe re-ingested) under us
            passages, lexical, answer = self._extract(question, name, history)
        if self.llm is None or not passages:
            return answer
        return self.llm.answer(question, passages, lexical, answer, name, history, on_draft)

    def candidates(self, question: str, corpus: str | None = None) -> list:
        """The extractive answerer's candidate sentences for `question`, before scoring
        (bench/tune_answerer.py re-scores them under other settings)."""
        retriever, answerer = self.corpus(corpus or self.settings.corpus)
        question = asked(question)
        passages = retriever.invoke(question)
        return answerer.candidates(question, self.embeddings.query_vector(question), passages, retriever.lexical())

    def _extract(self, question: str, name: str, history: Sequence[Turn]):
        """Retrieves and answers what `question` asks, without the words it spends on asking
        or on the corpus ("Hi, ...", "according to the article": `asked`); the answer keeps
        the question as typed."""
        retriever, answerer = self.corpus(name)
        wanted = asked(question)
        query = f"{asked(history[-1].question)} {wanted}" if history else wanted
        lexical = retriever.lexical()
        passages = retriever.search(query, lexical)
        exclude = [span for turn in history for span in turn.cited]
        answer = answerer.answer(wanted, self.embeddings.query_vector(query), passages, lexical, exclude)
        return passages, lexical, replace(answer, question=question)


def _llm_answerer(settings: Settings, embeddings: SentenceEmbeddings):
    from .answer.llm import LLMAnswerer  # LangChain's model loader only when QA_LLM is set

    return LLMAnswerer.from_settings(settings, embeddings)


def _collection_gone(exc: Exception) -> bool:
    from chromadb.errors import NotFoundError

    return isinstance(exc, NotFoundError) or "does not exist" in str(exc)


def build_chain(settings: Settings, engine: Engine | None = None) -> Runnable:
    """A Runnable taking a question (str) or {"question", "corpus", "history", "on_draft"}
    to an Answer."""
    engine = engine or Engine(settings)

    def _prepare(value: Any) -> dict:
        if isinstance(value, str):
            value = {"question": value}
        return {"question": value.get("question", ""), "corpus": value.get("corpus"),
                "history": value.get("history", ()), "on_draft": value.get("on_draft")}

    def _answer(x: dict) -> Answer:
        return engine.answer(x["question"], x["corpus"], x["history"], x["on_draft"])

    return (RunnableLambda(_prepare) | RunnableLambda(_answer)).with_config(run_name="cited_answer")
