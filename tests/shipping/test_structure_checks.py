"""`make lint`'s structure checks (issue 15) catch what they are for.

Each check runs on a copy of the application packages with one deliberate offence added, and
must fail naming it; on the real tree both must pass. Copies, because a check that passes on
the real tree proves nothing by itself: it might not look at all.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from tests.shipping.tools import ROOT, required_tool

CHECKER = ROOT / "scripts" / "check_structure.py"
PACKAGES = ("bot", "alerts", "commands", "actions")


def _load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_structure", CHECKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


check_structure = _load_checker()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The application packages, the contracts and the baseline, copied to tmp_path."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "structure_baseline.txt", tmp_path / "scripts")
    return tmp_path


def run_checker(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECKER), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    lint_imports = required_tool(
        "lint-imports", "install the test extra: `.venv/bin/pip install -e '.[test]'`"
    )
    # PYTHONPATH and cwd make the copy, not the installed project, what grimp analyses.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [lint_imports, "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _write(root: Path, relative: str, text: str) -> None:
    (root / relative).write_text(text, encoding="utf-8")


def _long_module(root: Path) -> str:
    _write(root, "alerts/long_module.py", "".join(f"X{i} = {i}\n" for i in range(401)))
    return "module alerts/long_module.py"


def _long_function(root: Path) -> str:
    body = "".join(f"    x{i} = {i}\n" for i in range(59))
    _write(root, "commands/long_function.py", f"def too_long() -> None:\n{body}    return None\n")
    return "function commands/long_function.py:too_long"


def _long_method(root: Path) -> str:
    body = "".join(f"        x{i} = {i}\n" for i in range(60))
    _write(
        root, "actions/long_method.py", f"class Client:\n    async def call(self) -> None:\n{body}"
    )
    return "function actions/long_method.py:Client.call"


def _hidden_cycle(root: Path) -> str:
    # The two halves of the cycle are the kinds that hide one: function-level and
    # TYPE_CHECKING, one of them relative.
    _write(root, "bot/cycle_a.py", "def f() -> None:\n    from bot import cycle_b\n")
    _write(
        root,
        "bot/cycle_b.py",
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from . import cycle_a\n",
    )
    return "cycle bot.cycle_a bot.cycle_b"


@pytest.mark.parametrize(
    "offence", [_long_module, _long_function, _long_method, _hidden_cycle], ids=lambda f: f.__name__
)
def test_structure_check_fails_on_a_new_offence(tree: Path, offence: Callable[[Path], str]) -> None:
    key = offence(tree)
    result = run_checker(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "NEW" in result.stdout and f"[{key}]" in result.stdout, result.stdout
    assert "1 new offence(s)" in result.stdout


def test_limits_are_inclusive_and_decorators_do_not_count(tree: Path) -> None:
    # 400 lines, and a 60-line function under three decorator lines: within the limits.
    _write(tree, "alerts/at_limit.py", "".join(f"X{i} = {i}\n" for i in range(400)))
    body = "".join(f"    x{i} = {i}\n" for i in range(58))
    decorated = (
        f"@staticmethod\n@staticmethod\n@staticmethod\ndef sixty() -> None:\n{body}    return\n"
    )
    _write(tree, "commands/at_limit.py", decorated)
    result = run_checker(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "at_limit" not in result.stdout


def test_structure_check_warns_of_fixed_baseline_entries(tree: Path) -> None:
    baseline = tree / "scripts" / "structure_baseline.txt"
    with baseline.open("a", encoding="utf-8") as file:
        file.write("function alerts/render.py:a_function_since_split\n")
    result = run_checker(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fixed, remove from baseline: function alerts/render.py:a_function_since_split" in (
        result.stdout
    )


def test_a_partly_broken_baseline_cycle_is_covered_and_a_grown_one_is_new() -> None:
    baseline = ["cycle bot.a bot.b bot.c"]

    def cycle(*names: str) -> object:
        return check_structure.Offence(key="cycle " + " ".join(names), where="", detail="")

    new, known, fixed = check_structure.compare([cycle("bot.a", "bot.b")], baseline)
    assert (new, len(known), fixed) == ([], 1, [])
    new, known, fixed = check_structure.compare([cycle("bot.a", "bot.b", "bot.d")], baseline)
    assert len(new) == 1 and known == [] and fixed == baseline


def test_structure_check_passes_on_the_real_tree() -> None:
    result = run_checker(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 new offence(s)" in result.stdout


def test_offence_keys_do_not_move_with_the_lines_above(tree: Path) -> None:
    _long_module(tree)
    _long_function(tree)

    def keys() -> set[str]:
        return {
            offence.key for offence in check_structure.all_offences(tree) if "long_" in offence.key
        }

    before = keys()
    assert before == {"module alerts/long_module.py", "function commands/long_function.py:too_long"}
    path = tree / "commands" / "long_function.py"
    path.write_text("# moved down\n" * 5 + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert keys() == before


def test_baseline_keys_name_a_kind_and_no_line_number() -> None:
    # Empty once every offender is fixed; any line left must still be a key the check prints.
    for key in check_structure.read_baseline(ROOT / "scripts" / "structure_baseline.txt"):
        kind, _, rest = key.partition(" ")
        assert kind in {"module", "function", "cycle"}, key
        assert not any(part.isdigit() for part in rest.replace(":", " ").split()), key


# Each deliberate break: the module to add, its text, the contract's name as lint-imports prints it.
LAYER_BREAKS = {
    "domain_imports_sqlalchemy": (
        "alerts/layer_break.py",
        "import sqlalchemy\n",
        "Domain (alerts, commands, incidents) imports no SDK and no database BROKEN",
    ),
    "domain_imports_bot": (
        "commands/layer_break.py",
        "def f() -> None:\n    from bot import clock\n",
        "Domain (alerts, commands, incidents) imports nothing from bot or actions BROKEN",
    ),
    "actions_imports_bot": (
        "actions/layer_break.py",
        "from bot.settings import Settings\n",
        "actions imports nothing from bot BROKEN",
    ),
    "slack_sdk_outside_slack": (
        "bot/alerts/layer_break.py",
        "from slack_sdk.errors import SlackApiError\n",
        "slack_sdk and slack_bolt only in bot.slack BROKEN",
    ),
    "kubernetes_outside_actions": (
        "bot/report/layer_break.py",
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import kubernetes_asyncio\n",
        "kubernetes_asyncio, boto3 and botocore only in actions BROKEN",
    ),
    "feature_imports_another": (
        "bot/graphs/layer_break.py",
        "from bot.runbooks import approvals\n",
        "Features in bot/ do not import each other, directly or through shared modules BROKEN",
    ),
}


@pytest.mark.parametrize("name", sorted(LAYER_BREAKS))
def test_import_contracts_fail_on_a_layer_break(tree: Path, name: str) -> None:
    path, text, broken = LAYER_BREAKS[name]
    _write(tree, path, text)
    result = run_lint_imports(tree)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert broken in output, output
    assert path.removesuffix(".py").replace("/", ".") in output, output
    assert "1 broken" in output, output


def test_import_contracts_pass_on_the_real_tree(tree: Path) -> None:
    # On the unchanged copy: the breaks above then differ from this run by their one module.
    result = run_lint_imports(tree)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "0 broken" in output, output
