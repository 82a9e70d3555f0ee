"""The claim sweeper, one daemon thread in every `qa serve` replica (HTTP and Socket Mode).

Slack retries an event only while it is unacknowledged, and the bot acknowledges at once:
a question whose replica dies mid-answer would never be retried. So every few seconds each
replica's sweeper
- renews the claims its own replica is still working on (a slow answer is not taken over);
- takes over claims of questions neither done nor renewed within QA_STATE_CLAIM_TIMEOUT
  (exactly one replica wins each, bot/slack/state.py), and hands each to `replay`, which
  answers it through the listener code a live question goes through;
- gives up on a question whose MAX_ATTEMPTS answers all died: `replay` then tells the asker
  it failed, and it is never tried again.

Logs name events by id and kind, never by what was asked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .questions import Question
from .state import MAX_ATTEMPTS, Claim, SlackState, first_line

log = logging.getLogger(__name__)


def sweep_interval(claim_timeout: float) -> float:
    """A quarter of the timeout (a live replica renews several times before its claims
    could go stale), between 0.25 s and 15 s."""
    return min(max(claim_timeout / 4, 0.25), 15.0)


class Sweeper:
    def __init__(self, state: SlackState, replay: Callable[[Claim], None], interval: float | None = None):
        self.state, self.replay = state, replay
        self.interval = interval if interval is not None else sweep_interval(state.claim_timeout)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="claim-sweeper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """No sweep starts after this returns (one under way is waited for, up to `timeout`)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.sweep()
            except Exception as exc:  # the database is down, say: keep sweeping once it is back
                log.warning("claim sweep failed (%s: %s); next one in %g s", type(exc).__name__, first_line(exc),
                            self.interval)

    def sweep(self, now: float | None = None) -> list[Claim]:
        """One pass (the thread calls it every `interval` s); returns the claims taken over."""
        now = time.time() if now is None else now
        self.state.renew_held(now)
        claims = self.state.take_over_stale(now)
        for claim in claims:
            kind = claim.question.get("kind")
            if Question.from_dict(claim.question).expired(now):
                # Its response_url no longer takes replies: nowhere to answer, nor to say it failed.
                log.error("event %s (%s): unanswered, and now too old to answer; given up", claim.event_id, kind)
                self.state.fail_event(claim.event_id)
                continue
            if claim.give_up:
                log.error("event %s (%s): no answer after %d attempts; giving up and telling the asker", claim.event_id,
                          kind, claim.attempts)
            else:
                log.warning("event %s (%s): no answer within %g s of its last sign of life; answering it here "
                            "(attempt %d of %d)", claim.event_id, kind, self.state.claim_timeout, claim.attempts,
                            MAX_ATTEMPTS)
            try:
                self.replay(claim)
            except Exception:  # not handed over (shutting down): left to go stale for another replica
                self.state.release(claim.event_id)
                raise
        return claims
