"""Runs moto's AWS stand-in server in a child process for tests that talk to AWS over HTTP.

Why a child process rather than moto's ThreadedMotoServer inside the test process: moto
keeps its state in module globals, so an in-process server would share that state with
(and be wiped by) any `mock_aws` used elsewhere in the suite, and moto's behaviour knobs
(e.g. MOTO_ECS_SERVICE_RUNNING) are read from os.environ. A child keeps both to itself.
The child still uses ThreadedMotoServer, bound to port 0, and reports the port it got,
so no other process can grab the port between choosing and binding it.

Usage: `with running_moto_server() as moto: boto3.client("ecs", **moto.client_kwargs())`.
Code under test that uses boto3's default credential chain needs `credentials_env()` in
its environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import boto3

DEFAULT_REGION = "us-east-1"
# moto accepts any credentials; these only have to exist so botocore can sign requests.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_READY = "moto-server-port="
_START_TIMEOUT = 30.0


def credentials_env(region: str = DEFAULT_REGION) -> dict[str, str]:
    """Environment variables that make boto3's default chain use the fake credentials."""
    return {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": region}


@dataclass
class MotoServer:
    """A running moto server; `endpoint_url` is what boto3 clients should talk to."""

    endpoint_url: str
    _process: subprocess.Popen[str] = field(repr=False)

    def client_kwargs(self, region: str = DEFAULT_REGION) -> dict[str, str]:
        """Keyword arguments for boto3.client() that point it at this server."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": region,
            "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "aws_session_token": FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        }

    def client(self, service: str, region: str = DEFAULT_REGION) -> Any:
        return boto3.client(service, **self.client_kwargs(region))

    def reset(self) -> None:
        """Forget every resource in every service (moto's POST /moto-api/reset)."""
        # The URL is our own http://127.0.0.1 endpoint, hence the S310 exemptions.
        url = f"{self.endpoint_url}/moto-api/reset"
        request = urllib.request.Request(url, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    def stop(self) -> None:
        # SIGTERM ends the child at once (moto's state is only in memory); an orderly
        # interpreter shutdown would cost a few hundred milliseconds for nothing.
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()


def _read_ready_line(stdout: IO[str], timeout: float) -> str | None:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else None


def start_moto_server(*, env: Mapping[str, str] | None = None) -> MotoServer:
    """Start a moto server on 127.0.0.1 and a free port; `env` adds moto knobs."""
    with tempfile.TemporaryFile(mode="w+") as log:
        # -P: keep this directory off the child's sys.path, so that helper modules
        # beside this one cannot shadow anything moto imports.
        process = subprocess.Popen(
            [sys.executable, "-P", os.path.abspath(__file__)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, **FAKE_CREDENTIALS, **(env or {})},
        )
        assert process.stdout is not None
        line = _read_ready_line(process.stdout, _START_TIMEOUT)
        if not line or not line.startswith(_READY):
            process.kill()
            process.wait()
            log.seek(0)
            raise RuntimeError(f"moto server did not start: {log.read()[-2000:]}")
    port = int(line.removeprefix(_READY))
    return MotoServer(f"http://127.0.0.1:{port}", process)


@contextmanager
def running_moto_server(*, env: Mapping[str, str] | None = None) -> Iterator[MotoServer]:
    server = start_moto_server(env=env)
    try:
        yield server
    finally:
        server.stop()


def _serve() -> None:
    """Child side: serve until terminated, or until stdin reaches EOF because the parent
    died without stopping us, so that no orphaned server outlives the test run."""
    import logging

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    # werkzeug logs every request; the parent only reads stderr when startup fails.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(f"{_READY}{port}", flush=True)
    sys.stdin.read()
    # No server.stop(): its shutdown polls for half a second, and all state is in memory
    # anyway; the serving thread is a daemon and ends with the process.


if __name__ == "__main__":
    _serve()
