"""Classification and redaction of botocore failures."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from actions.aws.errors import redact, translate


def client_error(code: str, message: str = "boom", status: int = 400) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "UpdateService")


@pytest.mark.parametrize(
    "code", ["Throttling", "ThrottlingException", "ServiceUnavailable", "ServerException"]
)
def test_throttling_and_server_errors_are_transient(code: str) -> None:
    error = translate(client_error(code), "ecs", "update_service")

    assert error.transient
    assert error.code == code
    assert str(error) == f"AWS ecs update_service failed ({code}): boom"


def test_any_5xx_or_429_is_transient() -> None:
    assert translate(client_error("Weird", status=503), "ecs", "x").transient
    assert translate(client_error("Weird", status=429), "ecs", "x").transient


def test_client_mistakes_are_permanent_and_redacted() -> None:
    message = (
        "User: arn:aws:sts::123456789012:assumed-role/chatops/i-0abc is not authorized to "
        "perform: secretsmanager:GetSecretValue on resource: "
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf "
        "with key AKIAIOSFODNN7EXAMPLE"
    )

    error = translate(client_error("AccessDeniedException", message), "ecs", "x")

    assert not error.transient
    assert str(error) == (
        "AWS ecs x failed (AccessDeniedException): User: [arn] is not authorized to perform: "
        "secretsmanager:GetSecretValue on resource: [arn] with key [access key]"
    )


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="https://ecs.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://ecs.us-east-1.amazonaws.com"),
    ],
)
def test_connection_failures_are_transient_and_name_no_endpoint(exc: Exception) -> None:
    error = translate(exc, "ecs", "describe_services")

    assert error.transient
    assert str(error).startswith("AWS ecs describe_services failed: could not reach AWS (")
    assert "amazonaws.com" not in str(error)


def test_missing_credentials_are_permanent() -> None:
    error = translate(NoCredentialsError(), "elbv2", "modify_listener")

    assert not error.transient
    assert str(error) == "AWS elbv2 modify_listener failed: no usable AWS credentials"


def test_parameter_errors_do_not_echo_values() -> None:
    exc = ParamValidationError(report="Invalid value for environment: hunter2")

    error = translate(exc, "ecs", "register_task_definition")

    assert not error.transient
    assert "hunter2" not in str(error)
    assert str(error) == "AWS ecs register_task_definition failed (ParamValidationError)"


def test_redact_collapses_whitespace_and_truncates() -> None:
    assert redact("a\n  b") == "a b"
    assert len(redact("x" * 1000)) == 300
