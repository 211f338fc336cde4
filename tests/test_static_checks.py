"""The codebase's own checks, in the test run so CI runs them: lint with bandit's
security rules (ruff's S rules), formatting, strict types, and known vulnerabilities in
what we depend on.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_ruff_with_bandit_s_security_rules_finds_nothing() -> None:
    done = _run(sys.executable, "-m", "ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_code_is_formatted() -> None:
    done = _run(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_types_check_strictly(tmp_path: Path) -> None:
    """mypy --strict over the product's packages (pyproject's [tool.mypy])."""
    done = _run(sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_installed_dependency_has_a_known_vulnerability() -> None:
    if shutil.which("pip-audit") is None:
        pytest.fail("pip-audit is not installed: pip install -e '.[dev]'")
    done = _run("pip-audit", "--format", "json", "--progress-spinner", "off")
    report = json.loads(done.stdout or "{}")
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    if dependencies and not audited:
        # No vulnerability database answered (no route to PyPI's JSON API or OSV):
        # nothing was checked, which is not the same as nothing found.
        pytest.skip(f"no vulnerability database reachable: {len(dependencies)} packages unaudited")
    vulnerable = {d["name"]: [v["id"] for v in d["vulns"]] for d in audited if d.get("vulns")}
    assert vulnerable == {}, vulnerable
