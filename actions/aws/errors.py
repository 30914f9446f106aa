"""Turns boto3/botocore failures into short, Slack-safe messages and a retry verdict.

AWS error text can carry ARNs (of roles, secrets, listeners) and botocore's parameter
validation errors can echo request values such as container environment variables.
Everything that leaves this module is therefore either a fixed phrase or AWS's own message
with ARNs and access-key ids blanked out, and it says whether retrying could help, so the
callers can pick a temporary or a permanent error.
"""

from __future__ import annotations

import re

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    SSLError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

# Error codes that AWS services use for throttling or for failures on their side; the
# same request can succeed later. Each service spells these its own way (ECS says
# ServerException, ELB says Throttling, the generic ones come from the common errors page).
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "EC2ThrottledException",
        "SlowDown",
        "PriorRequestNotComplete",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServerException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

_ARN = re.compile(r"arn:aws[a-zA-Z-]*:[^\s'\"(),]+")
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,}\b")
_MAX_MESSAGE = 300


class AwsError(Exception):
    """An AWS call failed; `str()` is safe to show to people, `transient` says retry may help."""

    def __init__(self, message: str, *, transient: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code


def redact(text: str) -> str:
    """Blank out ARNs and access-key ids and keep the text short enough for a Slack line."""
    text = _ARN.sub("[arn]", text)
    text = _ACCESS_KEY_ID.sub("[access key]", text)
    text = " ".join(text.split())
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"
    return text


def translate(exc: ClientError | BotoCoreError, service: str, operation: str) -> AwsError:
    """Describe a botocore failure of `service.operation` as an AwsError."""
    what = f"AWS {service} {operation}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        transient = code in TRANSIENT_CODES or (
            isinstance(status, int) and (status >= 500 or status == 429)
        )
        message = redact(str(error.get("Message") or "no details"))
        return AwsError(f"{what} failed ({code}): {message}", transient=transient, code=code)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        # Not transient: retrying will not conjure credentials; someone has to fix the
        # instance role or environment.
        return AwsError(f"{what} failed: no usable AWS credentials", transient=False)
    if isinstance(exc, SSLError):
        # A certificate problem will not fix itself between retries.
        return AwsError(f"{what} failed: TLS error talking to AWS", transient=False)
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        # Connection refused, connect/read timeouts, connections dropped mid-response.
        name = type(exc).__name__
        return AwsError(f"{what} failed: could not reach AWS ({name})", transient=True)
    # Anything else (ParamValidationError and friends): only the class name, because
    # such messages quote the values that were sent, which may include environment
    # variables of a task definition.
    return AwsError(f"{what} failed ({type(exc).__name__})", transient=False)
