"""`make audit`: pip-audit over the project's environment, honest about what it checked.

pip-audit says "No known vulnerabilities found" even when it could not look a single
package up (its vulnerability sources, PyPI's JSON API or OSV, unreachable). This reads
its JSON report instead: a vulnerability fails; packages that could not be checked are
reported by count and are fatal only with CHATOPS_AUDIT_STRICT=1 (set it where the
vulnerability service is reachable, so that a broken audit cannot pass silently).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def main() -> int:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    command = [str(pip_audit), "--format", "json", "--progress-spinner", "off", "--skip-editable"]
    strict = os.environ.get("CHATOPS_AUDIT_STRICT") == "1"
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    try:
        report = json.loads(result.stdout)
    except ValueError:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"audit: pip-audit could not run ({last}); dependencies NOT audited")
        return 2 if strict else 0
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    unchecked = [d for d in dependencies if d.get("skip_reason")]
    for dep in vulnerable:
        ids = ", ".join(
            v["id"] + (f" (fix: {','.join(v['fix_versions'])})" if v.get("fix_versions") else "")
            for v in dep["vulns"]
        )
        print(f"audit: {dep['name']} {dep['version']}: {ids}")
    checked = len(dependencies) - len(unchecked)
    print(f"audit: {checked} of {len(dependencies)} packages checked, {len(vulnerable)} vulnerable")
    if unchecked:
        first = unchecked[0]
        print(
            f"audit: {len(unchecked)} packages could NOT be checked "
            f"(first: {first['name']}: {first['skip_reason']}); "
            "is the vulnerability data (pypi.org/pypi/NAME/VERSION/json, api.osv.dev) reachable?"
        )
    if vulnerable:
        return 1
    return 2 if strict and unchecked else 0


if __name__ == "__main__":
    raise SystemExit(main())
