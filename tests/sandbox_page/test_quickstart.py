"""The README's quick-start steps, run command by command against a real sandbox."""

from __future__ import annotations

import re
import shlex
import subprocess
import time

from tests.sandbox_page.conftest import ROOT, Sandbox

# What each step shows once the bot has done its part (the bot acts after it answers).
EXPECTED = {
    "users": "U0000OUT01  sam    Sam Outsider   outsider",
    "alert api-down-p0": "the bot answered 200",
    "messages --channel C0000INCID": "P0 · FIRING · APIDown",
    "click C0000INCID latest Acknowledge --as U0000ONC01": "ok",
    "click C0000INCID latest Declare incident --as U0000ONC01": "ok",
    "messages --channel C0000INCID --json": "Incident #1 declared",
    "command /incident resolve 1 back to normal --as U0000ONC01": "ok",
    "alert api-down-p0 --resolve": "the bot answered 200",
    # The ack: received, and where the request goes.
    "command /deploy api v1.4.0 staging --as U0000DEP01": "The approval request goes to <#C0000DEPLY>",
    "react C0000DEPLY latest white_check_mark --as U0000APR01": "ok",
    "messages --channel C0000DEPLY": "Succeeded · Deploy v1.4.0 to api/staging",
}
PATIENCE = 30.0


def quickstart_steps() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- quickstart -->\n```bash\n(.*?)```", readme, re.DOTALL)
    assert block is not None, "README.md has no quick-start block"
    steps = []
    for line in block.group(1).splitlines():
        words = shlex.split(line, comments=True)
        assert words[:2] == [".venv/bin/chatops", "sandbox"], line
        steps.append(words[2:])
    return steps


def run_until_done(sandbox: Sandbox, args: list[str], expected: str) -> str:
    """Run the step, again while the bot has not caught up (as a person would retry)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        done: subprocess.CompletedProcess[str] = sandbox.cli(*args)
        if done.returncode == 0 and expected in done.stdout:
            return done.stdout
        if time.monotonic() > deadline:
            raise AssertionError(f"{args}: exit {done.returncode}\n{done.stdout}{done.stderr}")
        time.sleep(0.2)


def test_the_readme_quickstart_runs_as_written(sandbox: Sandbox) -> None:
    steps = quickstart_steps()
    assert [" ".join(s) for s in steps] == list(EXPECTED)

    for args in steps:
        run_until_done(sandbox, args, EXPECTED[" ".join(args)])

    incident = run_until_done(sandbox, ["messages", "--channel", "C0000INCID"], "RESOLVED")
    assert "Acknowledged by @U0000ONC01" in incident
    assert "is now *Resolved*" in run_until_done(
        sandbox, ["messages", "--channel", "C0000INCID"], "is now *Resolved*"
    )
    assert any(line.startswith("Open http://127.0.0.1:") for line in sandbox.output)
