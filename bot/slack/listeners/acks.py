"""The ack half of every listener. It runs on the request's thread and does nothing else, so
Slack hears back at once; the work is the listener's lazy function, on the answering pool."""

from slack_bolt import Ack


def acknowledge(ack: Ack) -> None:
    ack()
