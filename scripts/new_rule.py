"""Scaffold a new rule: ``python scripts/new_rule.py CODE name family``.

Writes the rule card (``rules/<family>/<CODE>-<name>.md``, with a bad example marked
``# expect: CODE`` and a good one), a check stub registered in ``mllint.checks.ALL_CHECKS`` (it
reports calls to a placeholder function, so the card's examples pass until you write the real
logic), a fixture with its ``# expect:`` marker, and regenerates the README's rule table. Then edit
the three files (search for TODO) and run the fast tests; see CONTRIBUTING.md.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from mllint.catalogue import CODE_RE, NAME_RE, load_catalogue  # noqa: E402
from mllint.targets import FAMILIES  # noqa: E402

#: Code prefix -> (framework, check base import, base class, fixtures folder, default target)
FRAMEWORKS = {
    "PT": ("torch", "from mllint.checks.base import Check", "Check", "torch", "torch-export"),
    "TF": ("tensorflow", "from mllint.checks.tf_scope import TFCheck", "TFCheck", "tensorflow", "savedmodel"),
}
PLACEHOLDER = "replace_me_hazard"

CARD = """\
+++
code = "{code}"
name = "{name}"
family = "{family}"
implemented-by = "{cls}"
framework = "{framework}"
summary = "TODO: what the code does that breaks export"
message = "`{{expr}}` TODO: what breaks (reached from `{{entry}}`)"
precision = "medium"

[targets]
{target} = {{ severity = "warning", effect = "fails" }}

[[fix]]
works-on = ["{target}"]
text = "TODO: how to write it instead"
+++
## What it does
TODO: which code this rule flags, and which look-alikes it leaves alone.

## Why is this bad?
TODO: what the exporter does (cite /work/shared/research or a real export in a test).

## Example
```python bad
{bad}```

Use instead:

```python good
{good}```
"""

TORCH_BAD = f"""\
from torch import nn


class Net(nn.Module):
    def forward(self, x):
        return {PLACEHOLDER}(x)  # expect: {{code}}
"""
TORCH_GOOD = """\
from torch import nn


class Net(nn.Module):
    def forward(self, x):
        return x * 2
"""
TF_BAD = f"""\
import keras


@keras.saving.register_keras_serializable()
class Block(keras.layers.Layer):
    def call(self, x):
        return {PLACEHOLDER}(x)  # expect: {{code}}
"""
TF_GOOD = """\
import keras


@keras.saving.register_keras_serializable()
class Block(keras.layers.Layer):
    def call(self, x):
        return x * 2
"""

CHECK = '''\
"""{code} {name} (family: {family}). TODO: one line on the hazard."""

from __future__ import annotations

import libcst as cst

from mllint.analysis.names import dotted
from mllint.analysis.walker import FunctionContext
{base_import}


class {cls}({base}):
    """{code}: TODO (see rules/{family}/{code}-{name}.md)."""

    codes = ("{code}",)
    frameworks = ("{framework}",)

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        # TODO: the real test. Per-walk state goes in ``ctx.scratch``, never on ``self``.
        if dotted(node.func) == "{placeholder}":
            ctx.report("{code}", node, expr=ctx.code(node))
'''


def _snake(name: str) -> str:
    return name.replace("-", "_")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def check_path(code: str, name: str, family: str) -> Path:
    """Where the check module goes: the family's sub-package of checks/ if it has one."""
    checks = REPO / "src" / "mllint" / "checks"
    prefix = code[:2].lower()
    package = checks / _snake(family)
    folder = package if (package / "__init__.py").is_file() else checks
    return folder / f"{prefix}_{_snake(name)}.py"


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO / "src").with_suffix("")
    return ".".join(rel.parts)


def _register(module: str, cls: str) -> None:
    init = REPO / "src" / "mllint" / "checks" / "__init__.py"
    text = init.read_text(encoding="utf-8")
    imports = list(re.finditer(r"^from mllint\.checks\.[\w.]+ import [^\n]+\n", text, re.M))
    at = imports[-1].end() if imports else 0
    text = text[:at] + f"from {module} import {cls}\n" + text[at:]
    end = text.index("\n]", text.index("ALL_CHECKS")) + 1  # the list's closing bracket, on its own line
    text = text[:end] + f"    {cls},\n" + text[end:]
    init.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("code", help="e.g. PT230 or TF209")
    parser.add_argument("name", help="kebab-case, e.g. tensor-to-list-in-forward")
    parser.add_argument("family", choices=[f for f in FAMILIES if f not in ("tool", "confirm")])
    args = parser.parse_args(argv)
    code, name, family = args.code.upper(), args.name, args.family
    if not CODE_RE.match(code) or code[:2] not in FRAMEWORKS:
        parser.error(f"code {code!r} must look like PT230 or TF209")
    if not NAME_RE.match(name):
        parser.error(f"name {name!r} must be kebab-case")
    if code in load_catalogue(str(REPO / "rules")).by_code:
        parser.error(f"{code} already exists")
    framework, base_import, base, fixtures, target = FRAMEWORKS[code[:2]]
    cls = _camel(name)
    bad, good = (TORCH_BAD, TORCH_GOOD) if framework == "torch" else (TF_BAD, TF_GOOD)
    card = REPO / "rules" / family / f"{code}-{name}.md"
    module_path = check_path(code, name, family)
    fixture = REPO / "fixtures" / fixtures / f"{_snake(name)}.py"
    for path in (card, module_path, fixture):
        if path.exists():
            parser.error(f"{path} exists")
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(
        CARD.format(
            code=code,
            name=name,
            family=family,
            cls=cls,
            framework=framework,
            target=target,
            bad=bad.format(code=code),
            good=good,
        ),
        encoding="utf-8",
    )
    module_path.write_text(
        CHECK.format(
            code=code,
            name=name,
            family=family,
            cls=cls,
            framework=framework,
            base_import=base_import,
            base=base,
            placeholder=PLACEHOLDER,
        ),
        encoding="utf-8",
    )
    _register(_module_name(module_path), cls)
    fixture.write_text(
        textwrap.dedent(f'''\
        """{code} fixture: TODO replace with realistic model code that has the hazard (and look-alikes)."""
        ''')
        + "\n\n"
        + bad.format(code=code),
        encoding="utf-8",
    )
    subprocess.run([sys.executable, str(REPO / "scripts" / "gen_readme_rules.py")], check=True)
    for path in (card, module_path, fixture):
        print(f"wrote {path.relative_to(REPO)}")
    print("registered", cls, "in src/mllint/checks/__init__.py; README rule table regenerated")
    print(
        "next: fill in the TODOs, then MLLINT_UPDATE_GOLDEN=1 python -m pytest tests/test_sarif.py "
        "and python -m pytest -m 'not export and not slow'"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
