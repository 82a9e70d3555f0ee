"""How every question is answered, live or taken over from a replica that died: from its
Question, by its kind's `answer` function, and then settled, which is the one place a claim
is marked done."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import BoltContext
from slack_sdk import WebClient

from ..questions import Question, claim_key, question_from_body
from ..replies import Replier

# answer(replier, client, question, give_up): posts the answer (or the refusal, or nothing
# for a message that is no question); with give_up, says the answer failed instead.
Answerer = Callable[[Replier, WebClient, Question, bool], None]


def answer_live(replier: Replier, client: WebClient, body: dict, context: BoltContext, answer: Answerer) -> None:
    """A listener's lazy half: the question this request asks, answered."""
    key, question = claim_key(body), question_from_body(body, context)
    if question is None:  # an edit, a bot's post...: nothing to answer; its claim holds no question to take over
        return
    settle(replier, key, lambda: answer(replier, client, question, False))


def settle(replier: Replier, key: str | None, run: Callable[[], None]) -> None:
    """Runs one attempt at a claimed question. Returning means it is dealt with (posted,
    refused, or not a question after all): the claim is done. Raising (Slack refused the
    post, the database was down...) leaves the claim open, to be taken over once stale."""
    try:
        run()
        replier.answered(key)
    finally:
        if key is not None:
            replier.state.release(key)
