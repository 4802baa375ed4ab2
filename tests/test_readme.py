"""The README stays true: its rule table matches the catalogue and CI runs its test command."""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import gen_readme_rules  # noqa: E402


def test_rule_table_is_generated_from_catalogue() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert gen_readme_rules.render(text) == text, "run: python scripts/gen_readme_rules.py"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(python3 -m venv .*?)\n```", readme)
    assert len(commands) == 2
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci.splitlines()
