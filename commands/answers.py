"""What the person behind a request is told about it: at once, and when it is decided.

The slash command's acknowledgement says at once that it was received and where the
request goes; the outcome (approved, rejected, expired) is told to the requester where
they typed when that is not the request's own channel, where they would see it anyway.
"""

from __future__ import annotations

from alerts.slack_text import escape
from commands.approval import ApprovalRequest, Outcome
from commands.config import DeployConfig
from commands.parsing import OperationRequest, command_line
from commands.plan import request_of

RECEIVED = (
    "Got it: `{command}`. The approval request goes to <#{channel}> once it is checked; "
    "if it cannot run, you are told here."
)
STATUS_RECEIVED = "Got it: looking up what runs where; the answer follows here."
DECIDED = "Your request `{command}` in <#{channel}> is *{outcome}*."
# The outcomes a requester is told of; the run's progress is in the request's thread.
TOLD = frozenset({Outcome.APPROVED, Outcome.REJECTED, Outcome.EXPIRED})


def received(request: OperationRequest, config: DeployConfig) -> str:
    """The acknowledgement of a command that parsed (the service is one of the config's)."""
    channel = config.services[request.target.service].channel
    return RECEIVED.format(command=escape(command_line(request)), channel=channel)


def decided(request: ApprovalRequest, channel: str) -> str:
    return DECIDED.format(
        command=escape(command_line(request_of(request.operation))),
        channel=channel,
        outcome=request.status.value,
    )
