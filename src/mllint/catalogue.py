"""The rule catalogue: every rule's metadata and documentation, read from ``rules/``.

Each rule lives once, in ``rules/<family>/<CODE>-<name>.md``: a TOML front matter block between
``+++`` lines (code, name, targets with severity and effect, message template, fixes) and a
Markdown body (what it does, why it matters, bad and good examples, fix). Code never repeats that
text: ``mllint explain``, ``mllint rules``, the README table, SARIF rule metadata and the example
tests all read it from here.
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from mllint.targets import EFFECTS, FAMILIES, Severity, target_names

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11
    import tomli as tomllib

CODE_RE = re.compile(r"^[A-Z]{2,3}[0-9]{3}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_FENCE_RE = re.compile(r"^```python[ \t]+(bad|good)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
FIX_SAFETIES = ("safe", "unsafe")
DOCS_URL = "https://github.com/mllint/mllint/blob/main/rules/{family}/{code}-{name}.md"


class CatalogueError(Exception):
    """The catalogue itself is malformed (a bug in mllint, caught by the test suite)."""


@dataclass(frozen=True)
class TargetImpact:
    severity: Severity
    effect: str


@dataclass(frozen=True)
class FixSpec:
    text: str
    works_on: Tuple[str, ...]
    #: ``"safe"`` / ``"unsafe"`` when ``mllint check --fix`` can make this change (card key ``safety``), like
    #: ruff's fix safety: safe fixes keep the code's runtime behaviour, unsafe ones (``--unsafe-fixes``) may change it.
    safety: Optional[str] = None


@dataclass(frozen=True)
class Example:
    kind: str  # "bad" or "good"
    code: str
    config: Tuple[Tuple[str, object], ...] = ()


@dataclass(frozen=True)
class RuleSpec:
    code: str
    name: str
    family: str
    framework: str  # "torch", "tensorflow" or "any"
    summary: str
    message: str
    impacts: Mapping[str, TargetImpact]  # target -> impact; empty for tool diagnostics
    fixes: Tuple[FixSpec, ...]
    precision: str
    doc: str  # the Markdown body
    path: Path
    default_enabled: bool = True
    tool_severity: Optional[Severity] = None  # for diagnostics not tied to targets
    examples: Tuple[Example, ...] = field(default=())
    #: the check class (in ``mllint.checks.ALL_CHECKS``) or the module that reports this code
    implemented_by: str = ""
    #: The hazard is a side effect (state, input mutation) that comparing outputs with eager cannot show, so a
    #: clean --confirm export does not rule it out (card key ``side-effect = true``).
    side_effect: bool = False

    @property
    def targets(self) -> Tuple[str, ...]:
        return tuple(t for t in target_names() if t in self.impacts)

    @property
    def default_severity(self) -> Severity:
        if self.tool_severity is not None:
            return self.tool_severity
        return max((i.severity for i in self.impacts.values()), key=lambda s: s.rank)

    @property
    def help_uri(self) -> str:
        return DOCS_URL.format(family=self.family, code=self.code, name=self.name)

    @property
    def fix_safety(self) -> Optional[str]:
        """The safety of the rule's automatic fix (the first ``[[fix]]`` with ``safety``), or None when it has none."""
        return next((f.safety for f in self.fixes if f.safety), None)

    def choose_fix(self, targets: Iterable[str]) -> Optional[str]:
        """The first fix that works on every one of ``targets``; else the first fix."""
        wanted = set(targets)
        for fix in self.fixes:
            if not fix.works_on or wanted <= set(fix.works_on):
                return fix.text
        return self.fixes[0].text if self.fixes else None


def _catalogue_root() -> Path:
    """The installed catalogue (wheel package data), or the checkout's ``rules/``."""
    packaged = resources.files("mllint") / "_catalogue"
    if packaged.is_dir():
        return Path(str(packaged))
    here = Path(__file__).resolve().parents[2] / "rules"
    if here.is_dir():
        return here
    raise CatalogueError("rule catalogue not found (neither mllint/_catalogue nor rules/)")


def _split_front_matter(text: str, path: Path) -> Tuple[dict, str]:
    if not text.startswith("+++\n"):
        raise CatalogueError(f"{path}: must start with a '+++' TOML front matter block")
    end = text.find("\n+++\n", 4)
    if end < 0:
        raise CatalogueError(f"{path}: front matter is not closed by '+++'")
    try:
        meta = tomllib.loads(text[4:end])
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: front matter: {exc}") from None
    return meta, text[end + 5 :].lstrip("\n")


def _parse_rule(path: Path) -> RuleSpec:
    meta, body = _split_front_matter(path.read_text(encoding="utf-8"), path)
    allowed = {
        "code", "name", "family", "framework", "summary", "message", "targets", "fix",
        "precision", "default-enabled", "severity", "example-config", "implemented-by", "side-effect",
    }
    unknown = set(meta) - allowed
    if unknown:
        raise CatalogueError(f"{path}: unknown front matter keys {sorted(unknown)}")
    code, name = meta.get("code", ""), meta.get("name", "")
    if not CODE_RE.match(code):
        raise CatalogueError(f"{path}: bad rule code {code!r}")
    if not NAME_RE.match(name):
        raise CatalogueError(f"{path}: rule name {name!r} is not kebab-case")
    if path.stem != f"{code}-{name}":
        raise CatalogueError(f"{path}: file must be named {code}-{name}.md")
    family = meta.get("family", "")
    if family not in FAMILIES:
        raise CatalogueError(f"{path}: unknown family {family!r}")
    impacts: Dict[str, TargetImpact] = {}
    for target, spec in meta.get("targets", {}).items():
        if target not in target_names():
            raise CatalogueError(f"{path}: unknown target {target!r}")
        effect = spec.get("effect", "")
        if effect not in EFFECTS:
            raise CatalogueError(f"{path}: unknown effect {effect!r} for {target}")
        impacts[target] = TargetImpact(Severity.parse(spec["severity"]), effect)
    tool_severity = Severity.parse(meta["severity"]) if "severity" in meta else None
    if not impacts and tool_severity is None:
        raise CatalogueError(f"{path}: a rule needs [targets] or a plain 'severity'")
    fixes = []
    for fix in meta.get("fix", []):
        works_on = tuple(fix.get("works-on", ()))
        for t in works_on:
            if t not in target_names():
                raise CatalogueError(f"{path}: fix names unknown target {t!r}")
        unknown_fix = set(fix) - {"text", "works-on", "safety"}
        if unknown_fix:
            raise CatalogueError(f"{path}: unknown [[fix]] keys {sorted(unknown_fix)}")
        safety = fix.get("safety")
        if safety is not None and safety not in FIX_SAFETIES:
            raise CatalogueError(f"{path}: fix safety must be one of {list(FIX_SAFETIES)}, got {safety!r}")
        fixes.append(FixSpec(fix["text"], works_on, safety))
    example_config = tuple(sorted(meta.get("example-config", {}).items()))
    examples = tuple(
        Example(m.group(1), m.group(2), example_config) for m in _FENCE_RE.finditer(body)
    )
    for required in ("summary", "message"):
        if not meta.get(required):
            raise CatalogueError(f"{path}: missing {required!r}")
    return RuleSpec(
        code=code,
        name=name,
        family=family,
        framework=meta.get("framework", "any"),
        summary=meta["summary"],
        message=meta["message"],
        impacts=impacts,
        fixes=tuple(fixes),
        precision=meta.get("precision", "high"),
        doc=body,
        path=path,
        default_enabled=meta.get("default-enabled", True),
        side_effect=bool(meta.get("side-effect", False)),
        tool_severity=tool_severity,
        examples=examples,
        implemented_by=meta.get("implemented-by", ""),
    )


class Catalogue:
    """All rules, addressable by code or name."""

    def __init__(self, rules: Sequence[RuleSpec]) -> None:
        self.rules: List[RuleSpec] = sorted(rules, key=lambda r: r.code)
        self.by_code: Dict[str, RuleSpec] = {}
        self.by_name: Dict[str, RuleSpec] = {}
        for rule in self.rules:
            if rule.code in self.by_code or rule.name in self.by_name:
                raise CatalogueError(f"duplicate rule {rule.code} {rule.name}")
            self.by_code[rule.code] = rule
            self.by_name[rule.name] = rule

    def get(self, key: str) -> Optional[RuleSpec]:
        return self.by_code.get(key.upper()) or self.by_name.get(key.lower())

    def __iter__(self):
        return iter(self.rules)

    def codes_matching(self, selector: str) -> List[str]:
        """Codes selected by ``selector``: a full code, a name, a prefix (``PT1``) or ``ALL``."""
        if selector.upper() == "ALL":
            return [r.code for r in self.rules]
        rule = self.get(selector)
        if rule:
            return [rule.code]
        return [r.code for r in self.rules if r.code.startswith(selector.upper())]


@functools.lru_cache(maxsize=None)
def load_catalogue(root: Optional[str] = None) -> Catalogue:
    base = Path(root) if root else _catalogue_root()
    files = sorted(p for p in base.glob("*/*.md"))
    return Catalogue([_parse_rule(p) for p in files])


def catalogue_dir() -> Path:
    return _catalogue_root()
