"""Apps import one way: memories → devices → portal. A lower app never imports a higher
one, at module level or inside a function (import-linter's layers contract in pyproject)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_apps_import_one_way():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[result.stdout.find("Broken contracts"):] + result.stderr
