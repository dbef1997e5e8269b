"""README and CI agree: CI runs exactly the README's test command, and the README's links resolve."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = _bash_blocks(readme)
    test_commands = [b for b in blocks if b.endswith("pytest")]
    assert len(test_commands) == 1, "the README shows exactly one test command"
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert test_commands[0] in ci_lines


def test_readme_gives_two_one_line_commands_for_a_fresh_machine() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [b for b in _bash_blocks(readme) if b.startswith("python3 -m venv .venv")]
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    assert "cim-twin generate example" in commands[0] or "cim-twin demo" in commands[0]


def test_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = [t for t in re.findall(r"\]\(([^)#]+)\)", readme) if not t.startswith(("http://", "https://"))]
    assert targets
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, missing
