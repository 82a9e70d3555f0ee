"""`qa`: ingest documents and ask questions of them, from a terminal.

Heavy libraries (torch, sentence-transformers, chromadb) are imported inside the commands
that need them, so `qa --help` is instant.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from retrieval.settings import CORPUS_NAME_PATTERN

CORPUS_HELP = "Corpus to use (default: $QA_CORPUS or 'default')."


class UsageFailure(click.ClickException):
    exit_code = 2


def load_settings(ctx: click.Context, **overrides):
    from pydantic import ValidationError

    from retrieval.settings import Settings

    values = {k: v for k, v in {**ctx.obj, **overrides}.items() if v is not None}
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise UsageFailure(f"invalid setting: {problems}") from None


def _numbered_lines(file):
    """Each line of `file` with its number; a file that is not UTF-8 is a usage error, not a
    traceback (decoded a block at a time, so no line number is given)."""
    try:
        yield from enumerate(file, 1)
    except UnicodeDecodeError:
        raise UsageFailure(f"{file.name}: not UTF-8 text") from None


def holder(ctx: click.Context):
    """This command as another qa process sees it when this one holds the index: `qa serve`
    and `qa chat` are long-running (the other refuses at once rather than wait for them);
    waiting for another is said on stderr when it is a terminal."""
    from retrieval.store.process_lock import Holder

    return Holder(f"qa {ctx.info_name}", long_running=ctx.info_name in ("serve", "chat"), on_wait=_say_waiting)


def _say_waiting(message: str) -> None:
    if sys.stderr.isatty():
        click.echo(message, err=True)


def user_errors(command):
    """Errors the user can act on become one line (exit 2 for usage, 1 otherwise)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from retrieval.errors import QAError, UsageError

        try:
            return command(*args, **kwargs)
        except UsageError as exc:
            raise UsageFailure(str(exc)) from None
        except QAError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def corpus_option(command):
    return click.option("--corpus", "corpus", default=None, metavar="NAME", help=CORPUS_HELP, callback=_check_corpus)(command)


def _check_corpus(ctx, param, value):
    import re

    if value is not None and not re.match(CORPUS_NAME_PATTERN, value):
        raise UsageFailure(f"invalid corpus name '{value}': use letters, digits, '-' and '_' (at most 63)")
    return value


@click.group()
@click.version_option(package_name="qa-bot")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Data directory for the embedded index (default: $QA_DATA_DIR or ./.qa).")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None):
    """Answer questions from your documents, quoted word for word and cited."""
    ctx.obj = {"data_dir": data_dir}


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@corpus_option
@click.option("--prune", is_flag=True, help="Drop documents whose file is gone from an ingested folder.")
@click.option("--follow-symlinks", is_flag=True,
              help="Inside a folder, follow symbolic links whose target stays inside that folder (default: skip every link).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
@user_errors
def ingest(ctx, paths, corpus, prune, follow_symlinks, as_json):
    """Add or update documents (.txt .md .html .pdf, folders recursively) in a corpus.

    Re-running is safe: unchanged files are skipped, changed files replace their old
    passages, and nothing is stored twice. A PATH you name is read even when it is a
    symbolic link; links inside a folder are skipped (and listed) unless --follow-symlinks.
    Files larger than QA_MAX_FILE_MB are skipped with a warning. While `qa serve` runs on
    the same embedded index, the bot does the ingest (and answers from it at once).
    """
    from retrieval.ingest.pipeline import ingest as run_ingest
    from retrieval.store.process_lock import StoreBusy

    settings = load_settings(ctx, corpus=corpus)
    try:
        report = run_ingest(list(paths), settings.corpus, settings, prune=prune, holder=holder(ctx),  # checks every path first
                            follow_symlinks=follow_symlinks)
    except StoreBusy as busy:
        report = _ingest_through_serve(settings, list(paths), prune, follow_symlinks, busy)
    for item in report.skipped:
        click.echo(f"warning: skipped {item['source']}: {item['reason']}", err=True)
    if as_json:
        from dataclasses import asdict

        click.echo(json.dumps(asdict(report)))
        return
    click.echo(
        f"corpus '{report.corpus}': {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed, {len(report.skipped)} skipped"
        + _skipped_names(report.skipped)
        + f"; {report.passages_written} passages written"
        + (f", {report.duplicate_passages} duplicate passages not stored again" if report.duplicate_passages else "")
    )


def _skipped_names(skipped: list[dict], shown: int = 5) -> str:
    """The summary names what it skipped (the warnings above it say why): a link left out of
    a folder must be visible where the counts are read."""
    if not skipped:
        return ""
    names = [item["source"] for item in skipped[:shown]]
    more = f" and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return f" ({', '.join(names)}{more})"


def _ingest_through_serve(settings, paths: list[str], prune: bool, follow_symlinks: bool, busy):
    """The embedded index is held by another process. When that is `qa serve`, it does the
    ingest (bot/handoff.py); any other holder (`qa chat`...) keeps the refusal."""
    from bot.handoff import HandoffUnavailable, hand_over_ingest
    from retrieval.store.process_lock import StoreBusy

    if not busy.owner or busy.owner.get("command") != "qa serve":
        raise busy

    def show(message: str) -> None:  # progress as a local ingest shows its bar: on a terminal only
        if sys.stderr.isatty():
            click.echo(f"qa serve: {message}", err=True)

    try:
        # The bot has its own working directory: it is told ours, and names documents as we would.
        report, pid = hand_over_ingest(settings, paths, settings.corpus, prune, show, follow_symlinks=follow_symlinks)
    except HandoffUnavailable as exc:  # a bot that does not listen (started before hand-overs existed...)
        raise StoreBusy(f"{busy}; it did not take the ingest over itself ({exc})", busy.owner) from None
    click.echo(f"ingested by the running `qa serve` (pid {pid}), which holds the index in {settings.data_dir}", err=True)
    return report


@cli.command()
@click.argument("question", required=False)
@corpus_option
@click.option("--batch", type=click.File("r", encoding="utf-8"), help="Answer every line of a JSONL file ({\"id\", \"question\"}).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per answer.")
@click.option("--stream/--no-stream", default=None,
              help="Show an LLM answer's text on stderr as it arrives (default: when stderr is a terminal).")
@click.pass_context
@user_errors
def ask(ctx, question, corpus, batch, as_json, stream):
    """Answer QUESTION with a verbatim, cited quote from the corpus.

    With QA_LLM set, a language model writes the answer and every quote it gives is
    checked word for word against the documents; anything that fails the check is not
    shown, and the answer falls back to the best passage.
    """
    from retrieval.engine import Engine

    if (question is None) == (batch is None):
        raise UsageFailure("give a QUESTION or --batch FILE (not both)")
    settings = load_settings(ctx, corpus=corpus)
    engine = Engine(settings, holder=holder(ctx))
    if batch is None:
        stream = stream if stream is not None else sys.stderr.isatty() and not as_json
        _print_answer(_answer_streaming(engine, question, stream), as_json)
        return
    from retrieval.errors import UsageError

    for number, line in _numbered_lines(batch):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text = item["question"]
            if not isinstance(text, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise UsageFailure(f"{batch.name} line {number}: expected a JSON object with a \"question\" string") from None
        try:
            result = engine.answer(text).to_dict()
        except UsageError as exc:  # one bad question does not stop the batch
            result = {"question": text, "error": str(exc)}
        if "id" in item:
            result = {"id": item["id"], **result}
        if as_json:
            click.echo(json.dumps(result))
        else:
            from bot.render import answer_text
            from retrieval.types import Answer

            rendered = result.get("error") or answer_text(Answer.from_dict(result))
            click.echo(f"[{item.get('id', number)}] {text}\n{rendered}\n")


def _answer_streaming(engine, question: str, stream: bool):
    """The engine's answer; with an LLM and `stream`, its draft text is shown on stderr as
    it comes (and cleared on a terminal) while stdout gets only the checked answer."""
    if engine.llm is None or not stream:
        return engine.answer(question)
    from bot.render import TerminalDraft

    draft = TerminalDraft()
    try:
        return engine.answer(question, on_draft=draft)
    finally:
        draft.clear()


def _print_answer(answer, as_json: bool) -> None:
    from bot.render import answer_text

    click.echo(json.dumps(answer.to_dict()) if as_json else answer_text(answer))


@cli.command()
@corpus_option
@click.pass_context
@user_errors
def chat(ctx, corpus):
    """Ask questions one after another; the model stays loaded. Ctrl-D or 'quit' ends."""
    from retrieval.engine import Engine
    from retrieval.errors import QAError

    settings = load_settings(ctx, corpus=corpus)
    engine = Engine(settings, holder=holder(ctx))
    engine.warm_up()  # fail now, not after the first question, if the corpus is missing
    click.echo(f"Asking corpus '{settings.corpus}'. Ctrl-D or 'quit' to end.")
    while True:
        try:
            question = input("question> ")
        except EOFError:
            click.echo()
            return
        if question.strip().lower() in {"quit", "exit"}:
            return
        if not question.strip():
            continue
        try:
            _print_answer(_answer_streaming(engine, question, sys.stderr.isatty()), as_json=False)
        except QAError as exc:  # a bad question, or the store failing: say so, keep the session
            click.echo(f"error: {exc}", err=True)
        click.echo()


@cli.command(name="eval")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@corpus_option
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON, one object per file.")
@click.option("--answerable-only", is_flag=True, help="Skip the unanswerable questions of the files.")
@click.pass_context
@user_errors
def evaluate(ctx, files, corpus, as_json, answerable_only):
    """Score the corpus on question files (seed JSONL or SQuAD JSON), each reported apart.

    For each file: quote accuracy (the first quote holds an expected answer), recall@5,
    false abstention (answerable questions refused), abstention on unanswerable questions,
    whether every quote is verbatim, and latency p50/p95. Give a set's development and
    held-out files together to see both.
    """
    from retrieval.engine import Engine
    from retrieval.evaluation import evaluate as run_eval
    from retrieval.evaluation import load_questions

    sets = []
    for file in files:
        try:
            questions = load_questions(file)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UsageFailure(f"{file} is neither seed-format JSONL nor SQuAD JSON ({type(exc).__name__}: {exc})") from None
        sets.append((file, [q for q in questions if q.answerable] if answerable_only else questions))
    settings = load_settings(ctx, corpus=corpus)
    engine = Engine(settings, holder=holder(ctx))
    engine.warm_up()  # latency figures are for warm answers
    results = [{"corpus": settings.corpus, "file": str(file), **run_eval(questions, lambda q: engine.answer(q), k=5)}
               for file, questions in sets]
    if as_json:
        for metrics in results:
            click.echo(json.dumps(metrics))
        return
    for key in results[0]:
        values = ["-" if m[key] is None else str(m[key]) for m in results]
        click.echo(f"{key:>24}  " + "  ".join(f"{v:<24}" for v in values).rstrip())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
@user_errors
def corpora(ctx, as_json):
    """List corpora with their document and passage counts."""
    from dataclasses import asdict

    from retrieval.store.client import open_client
    from retrieval.store.corpus import list_corpora

    settings = load_settings(ctx)
    infos = list_corpora(open_client(settings, holder(ctx)), settings)
    if as_json:
        click.echo(json.dumps([asdict(i) for i in infos]))
        return
    if not infos:
        click.echo("no corpora yet; add one with: qa ingest PATH [--corpus NAME]")
    for info in infos:
        click.echo(f"{info.corpus}\t{info.documents} documents\t{info.passages} passages")


@cli.command()
@click.option("--corpus", "corpus", required=True, metavar="NAME", help="Corpus to delete.", callback=_check_corpus)
@click.pass_context
@user_errors
def remove(ctx, corpus):
    """Delete a corpus and everything stored for it."""
    import shutil

    from retrieval.store.client import open_client
    from retrieval.store.corpus import remove_corpus
    from retrieval.store.naming import lexical_cache

    settings = load_settings(ctx, corpus=corpus)
    remove_corpus(open_client(settings, holder(ctx)), settings, corpus, holder(ctx))
    shutil.rmtree(lexical_cache(settings.data_dir) / corpus, ignore_errors=True)
    click.echo(f"removed corpus '{corpus}'")


@cli.command()
@click.option("--host", help="HTTP mode: address to listen on (default: $QA_SERVE_HOST or 0.0.0.0).")
@click.option("--port", type=click.IntRange(1, 65535), help="HTTP mode: port (default: $QA_SERVE_PORT or 3000).")
@click.pass_context
@user_errors
def serve(ctx, host, port):
    """Run the Slack bot: Socket Mode when SLACK_APP_TOKEN is set, else HTTP.

    HTTP mode serves Slack's events, commands and interactions at /slack/events (signed
    with SLACK_SIGNING_SECRET) and a health check at /health. It first checks what `qa
    doctor` checks and, if anything is wrong, lists every problem and exits with status 1.
    With an embedded index, it also does the `qa ingest` runs on its data directory
    (through the socket DATA_DIR/serve.sock), answering from them at once.
    """
    import logging

    from bot.checks import problems, run_checks
    from bot.handoff import taking_ingests
    from bot.slack.server import serve as run

    settings = load_settings(ctx, serve_host=host, serve_port=port)
    checks = run_checks(settings, slack=True, holder=holder(ctx))
    found = problems(checks)
    if found:
        raise click.ClickException(
            f"qa serve cannot start; fix {'this problem' if len(found) == 1 else f'these {len(found)} problems'}:\n"
            + "\n".join(f"  - {c.name}: {c.detail}" for c in found)
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for check in checks:
        if not check.ok:
            logging.getLogger("qa.serve").warning("%s: %s", check.name, check.detail)
    # An embedded index is this process's from the checks on: `qa ingest` hands its work here.
    with taking_ingests(settings):
        run(settings, holder(ctx))


@cli.command()
@click.option("--slack/--no-slack", default=None,
              help="Also check the Slack settings (default: when any SLACK_ variable is set).")
@click.pass_context
@user_errors
def doctor(ctx, slack):
    """Check the set-up: model, store, corpora and (for qa serve) Slack. Lists every problem
    with what to do; exit status 1 if any."""
    from bot.checks import problems, run_checks, slack_configured

    settings = load_settings(ctx)
    checks = run_checks(settings, slack=slack_configured(settings) if slack is None else slack, holder=holder(ctx))
    for check in checks:
        click.echo(check.line())
    found = problems(checks)
    if found:
        click.echo(f"{len(found)} problem{'s' if len(found) > 1 else ''} found", err=True)
        ctx.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print every feedback record as JSON lines.")
@click.option("--users", "with_users", is_flag=True, help="Also show who voted (Slack user ids).")
@click.pass_context
@user_errors
def feedback(ctx, as_json, with_users):
    """Summarise the Helpful / Not helpful votes from Slack: counts, and the latest questions
    voted unhelpful. Who voted is shown only with --users."""
    from bot.slack.state import SlackState

    settings = load_settings(ctx)
    state = SlackState.from_settings(settings)
    if as_json:
        for row in state.feedback_rows():
            if not with_users:
                row.pop("user")
            click.echo(json.dumps(row))
        return
    summary = state.feedback_summary()
    if not summary:
        click.echo("no feedback yet")
    for item in summary:
        total = item.helpful + item.not_helpful
        click.echo(f"{item.corpus}\t{item.helpful} helpful\t{item.not_helpful} not helpful\t{100 * item.helpful / total:.0f}% helpful")
    unhelpful = [r for r in state.feedback_rows() if not r["helpful"]][-5:]
    if unhelpful:
        click.echo("\nlatest 'not helpful':")
        for row in unhelpful:
            click.echo(f"  [{row['corpus']}] {row['question']}" + (f"  ({row['user']})" if with_users else ""))


def main() -> None:
    cli(prog_name="qa")


if __name__ == "__main__":
    main()
