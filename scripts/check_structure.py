"""Structure limits of the application code (issue 15), checked in `make lint`.

Three limits over bot/, alerts/, commands/ and actions/:
- no module over 400 lines;
- no function or method over 60 lines (from its `def` line to its last line, decorators not
  counted, so adding a decorator never pushes a function over);
- no import cycle between modules, counting every import statement wherever it stands
  (function-level, under TYPE_CHECKING, relative): those are the ones that hide cycles.

Offenders present when the check was introduced are listed in scripts/structure_baseline.txt,
one key per line, so the check guards against new ones at once while the old ones are fixed.
Keys carry no line numbers: they shift with every edit above them.

A cycle is reported per strongly connected component of the import graph, keyed by its sorted
module names. Breaking part of a baselined component leaves a smaller one whose modules are all
in the baselined key; that counts as covered, so a partial fix never fails the check.

Exit status: 0 when every offence is in the baseline, 1 otherwise. Baseline entries that no
longer offend are a warning only: others remove them as they fix them.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("bot", "alerts", "commands", "actions", "incidents", "oncall")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
DEFAULT_ROOT = Path(__file__).resolve().parent.parent
BASELINE_NAME = "scripts/structure_baseline.txt"


@dataclass(frozen=True)
class Offence:
    key: str  # stable identity, as written in the baseline
    where: str  # path:line, for the reader
    detail: str


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. bot.alerts.intake (a package's __init__ is the package)
    path: Path
    rel: str  # posix path from the root, e.g. bot/alerts/intake.py
    is_package: bool
    tree: ast.Module
    lines: int


def load_modules(root: Path) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for package in PACKAGES:
        base = root / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(root)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            parts = list(rel.with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            text = path.read_text(encoding="utf-8")
            name = ".".join(parts)
            modules[name] = Module(
                name=name,
                path=path,
                rel=rel.as_posix(),
                is_package=is_package,
                tree=ast.parse(text, filename=str(path)),
                lines=len(text.splitlines()),
            )
    return modules


def module_offences(modules: dict[str, Module]) -> Iterator[Offence]:
    for module in modules.values():
        if module.lines > MAX_MODULE_LINES:
            yield Offence(
                key=f"module {module.rel}",
                where=f"{module.rel}:1",
                detail=f"module has {module.lines} lines (limit {MAX_MODULE_LINES})",
            )


def _functions(node: ast.AST, prefix: str) -> Iterator[tuple[str, ast.AST]]:
    """Every function and method under node with its dotted qualified name."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{child.name}"
            yield name, child
            yield from _functions(child, f"{name}.")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, f"{prefix}{child.name}.")
        else:
            yield from _functions(child, prefix)


def function_offences(modules: dict[str, Module]) -> Iterator[Offence]:
    for module in modules.values():
        for name, node in _functions(module.tree, ""):
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            end = node.end_lineno or node.lineno
            length = end - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                yield Offence(
                    key=f"function {module.rel}:{name}",
                    where=f"{module.rel}:{node.lineno}",
                    detail=f"function has {length} lines (limit {MAX_FUNCTION_LINES})",
                )


def _resolve(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module named by a `from ... import` statement."""
    if node.level == 0:
        return node.module or ""
    # For a package's __init__ the first dot means the package itself.
    parts = module.name.split(".")
    if not module.is_package:
        parts = parts[:-1]
    keep = len(parts) - (node.level - 1)
    base = parts[: max(keep, 0)]
    if node.module:
        base.append(node.module)
    return ".".join(base)


def _longest_known(name: str, known: dict[str, Module]) -> str | None:
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def imported_modules(module: Module, known: dict[str, Module]) -> set[str]:
    """Application modules this module imports, anywhere in its body.

    `from pkg import name` counts as importing pkg.name when that is a module, else pkg;
    `import a.b.c` counts as importing the deepest of a.b.c, a.b, a that exists. The parent
    packages Python also initialises are not counted: otherwise every package whose
    __init__ re-exports a submodule would be "in a cycle" with its own children.
    """
    targets: set[str] = set()
    for node in ast.walk(module.tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            names = [f"{base}.{alias.name}" if base else alias.name for alias in node.names]
        for name in names:
            target = _longest_known(name, known)
            if target is not None and target != module.name:
                targets.add(target)
    return targets


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph is small, but recursion limits are not)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            advanced = False
            for target in edges:
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    advanced = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _shortest_cycle(graph: dict[str, set[str]], members: list[str]) -> list[str]:
    """One concrete cycle through the component's first module, to show the reader."""
    inside = set(members)
    start = members[0]
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node] & inside):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if target not in previous:
                previous[target] = node
                queue.append(target)
    return members


def import_graph(modules: dict[str, Module]) -> dict[str, set[str]]:
    return {name: imported_modules(module, modules) for name, module in modules.items()}


def cycle_offences(modules: dict[str, Module]) -> Iterator[Offence]:
    graph = import_graph(modules)
    for members in _strongly_connected(graph):
        path = _shortest_cycle(graph, members)
        yield Offence(
            key="cycle " + " ".join(members),
            where=f"{modules[members[0]].rel}:1",
            detail=f"import cycle of {len(members)} modules, e.g. {' -> '.join(path)}",
        )


def all_offences(root: Path) -> list[Offence]:
    modules = load_modules(root)
    found = [*module_offences(modules), *function_offences(modules), *cycle_offences(modules)]
    return sorted({offence.key: offence for offence in found}.values(), key=lambda o: o.key)


def read_baseline(path: Path) -> list[str]:
    if not path.exists():
        return []
    keys = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keys.append(line)
    return keys


def _covered(key: str, baseline: set[str], baseline_cycles: list[set[str]]) -> bool:
    if key in baseline:
        return True
    if key.startswith("cycle "):
        members = set(key.split()[1:])
        return any(members <= known for known in baseline_cycles)
    return False


def compare(
    offences: Iterable[Offence], baseline_keys: Iterable[str]
) -> tuple[list[Offence], list[Offence], list[str]]:
    """Split offences into (new, known) and list baseline keys that no longer offend."""
    baseline = set(baseline_keys)
    baseline_cycles = [set(k.split()[1:]) for k in baseline if k.startswith("cycle ")]
    new: list[Offence] = []
    known: list[Offence] = []
    for offence in offences:
        (known if _covered(offence.key, baseline, baseline_cycles) else new).append(offence)
    current = {o.key for o in known}
    current_cycles = [set(o.key.split()[1:]) for o in known if o.key.startswith("cycle ")]
    fixed = []
    for key in sorted(baseline):
        if key in current:
            continue
        if key.startswith("cycle ") and any(c <= set(key.split()[1:]) for c in current_cycles):
            continue  # partly fixed: a smaller cycle inside it remains
        fixed.append(key)
    return new, known, fixed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="repository root")
    parser.add_argument("--baseline", type=Path, help=f"default: ROOT/{BASELINE_NAME}")
    parser.add_argument(
        "--write-baseline", action="store_true", help="write today's offences as the baseline"
    )
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    baseline_path: Path = args.baseline or root / BASELINE_NAME
    offences = all_offences(root)
    if args.write_baseline:
        header = (
            "# Structure offences known when scripts/check_structure.py came (issue 15).\n"
            "# Delete a line when you fix its offence; never add one. A module moved or renamed\n"
            "# while its offence remains: rename it in its line.\n"
        )
        body = "".join(f"{o.key}\n" for o in offences)
        baseline_path.write_text(header + body, encoding="utf-8")
        print(f"structure: wrote {len(offences)} offences to {baseline_path}")
        return 0
    new, known, fixed = compare(offences, read_baseline(baseline_path))
    for offence in new:
        print(f"{offence.where}: NEW {offence.detail} [{offence.key}]")
    for offence in known:
        print(f"{offence.where}: baseline {offence.detail} [{offence.key}]")
    for key in fixed:
        print(f"warning: fixed, remove from baseline: {key}")
    print(
        f"structure: {len(new)} new offence(s), {len(known)} in the baseline, "
        f"{len(fixed)} baseline entr{'y' if len(fixed) == 1 else 'ies'} fixed"
        f" (limits: module {MAX_MODULE_LINES} lines, function {MAX_FUNCTION_LINES} lines,"
        " no import cycle)"
    )
    if new:
        print("structure: FAILED: fix the new offences above (do not add them to the baseline)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
