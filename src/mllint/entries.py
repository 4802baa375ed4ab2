"""Which model classes are judged (entry points), and the default targets ``auto``.

Judging every ``nn.Module`` reports hazards in code nobody exports: losses, training wrappers,
inference runners. The plan is made once per run, before any walk, from the summaries of the files
that call an export API and from the configuration:

1. ``entry-points = ["pkg.models:Net", "pkg.heads:*Head"]`` in the config: exactly those classes;
2. else, when export calls (``torch.onnx.export(m, ...)``, ``model.save("m.keras")``, ...) or
   ``[[tool.mllint.models]]`` factories name project classes and every one of them is statically clear:
   those classes;
3. else every model class, except losses, training wrappers and inference runners (``role_of``).

``not-exported`` removes classes in every case. Submodules reached from an entry point are walked as
before. The same export calls choose the default targets (``targets.EXPORT_API_TARGETS``).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from mllint.analysis.index import ProjectIndex
from mllint.analysis.summary import ClassSummary, ExportCall
from mllint.targets import MODERN_TARGETS, target_names

if TYPE_CHECKING:
    from mllint.config import Settings
    from mllint.session import Session

#: Files whose text matches this may call an export API; only they are summarised before the walks.
EXPORT_HINT = re.compile(
    r"\b(?:script|trace|trace_module|export|_export|dynamo_export|from_keras_model|from_concrete_functions|"
    r"from_saved_model|save_keras_model|convert_tf_saved_model|convert)\s*\(|\.keras\b|saved_model\s*\.\s*save\b"
)
_PATTERN = re.compile(r"^[\w.*?\[\]!-]+:[\w*?\[\]!-]+$")
_LOSS_BASE = re.compile(r"^torch\.nn\.(?:modules\.loss\.\w+|\w*Loss)$")


def check_pattern(text: str) -> Optional[str]:
    """Why ``text`` is not a ``module:Class`` pattern (None when it is one)."""
    if not _PATTERN.match(text):
        return "expected 'package.module:ClassName' (globs allowed in both parts, e.g. 'pkg.heads:*Head')"
    return None


def class_ref(index: ProjectIndex, cls: ClassSummary) -> str:
    """``pkg.models:Net``: how the config and the reports name a class."""
    return f"{index.module_of_class(cls)}:{cls.name}"


def matches(patterns: Sequence[str], ref: str) -> bool:
    module, _, name = ref.partition(":")
    for pattern in patterns:
        pmod, _, pname = pattern.partition(":")
        if fnmatch.fnmatchcase(module, pmod) and fnmatch.fnmatchcase(name, pname):
            return True
    return False


@dataclass
class EntryPlan:
    """What the run judges, decided before the walks (picklable: it travels to ``--jobs`` workers)."""

    mode: str = "default"  # "config", "export" or "default"
    reason: str = "no export calls found"
    exported: Dict[str, str] = field(default_factory=dict)  # class qualname -> source ("export call at x.py:3")
    entry_points: Tuple[str, ...] = ()
    not_exported: Tuple[str, ...] = ()
    #: (where, api, target, what it exports or "?") of each export call, for --show-entry-points
    calls: List[Tuple[str, str, str, str]] = field(default_factory=list)
    targets: Tuple[str, ...] = ()
    targets_reason: str = ""

    def decide(self, index: ProjectIndex, cls: ClassSummary, framework: str) -> Tuple[Optional[str], Optional[str]]:
        """(source, None) when ``cls`` is an entry point; (None, reason) when excluded (reason "" when
        it is simply not among the configured or exported classes)."""
        ref = class_ref(index, cls)
        if self.not_exported and matches(self.not_exported, ref):
            return None, "not-exported (config)"
        if self.mode == "config":
            return ("config", None) if matches(self.entry_points, ref) else (None, "")
        if self.mode == "export":
            source = self.exported.get(cls.qualname)
            return (source, None) if source else (None, "")
        reason = role_of(index, cls, framework)
        return (None, reason) if reason else ("default", None)

    def names_exactly(self, index: ProjectIndex, cls: ClassSummary) -> bool:
        """An export call, or a config pattern without wildcards in its class part, names ``cls`` itself:
        it is the exported model, not a part of a bigger one (a ``"*:*"`` pattern names nothing)."""
        if self.mode == "export":
            return cls.qualname in self.exported
        if self.mode == "config":
            ref = class_ref(index, cls)
            return any(
                not any(ch in p.partition(":")[2] for ch in "*?[") and matches([p], ref) for p in self.entry_points
            )
        return False


def role_of(index: ProjectIndex, cls: ClassSummary, framework: str) -> Optional[str]:
    """Why a model class is not exported (loss, training wrapper, inference runner), or None (judge it)."""
    if framework != "torch":
        return None
    for base in index.external_bases(cls):
        if _LOSS_BASE.match(base):
            return f"loss: subclasses {base}"
    found = index.find_method(cls, "forward")
    facts = found[0].role if found is not None else None
    if facts is not None:
        if facts.target_param and cls.name.endswith(("Loss", "Criterion")):
            return f"loss: forward takes the target '{facts.target_param}'"
        if facts.backward:
            return "training wrapper: forward calls backward()"
        if facts.loss_from:
            return f"training wrapper: forward computes a loss from '{facts.loss_from}'"
    for c in index.mro(cls):
        for attr, info in sorted(c.attrs.items()):
            if info.cls and info.cls.startswith("torch.optim."):
                return f"training wrapper: holds an optimizer (self.{attr})"
    if facts is not None and facts.runner:
        return f"inference runner: forward {facts.runner}"
    return None


def _resolve(index: ProjectIndex, arg: Optional[str], via: str) -> Tuple[Optional[str], bool]:
    """(project model class, statically clear) for what an export call or factory exports."""
    if via == "path":
        return None, True  # converts what another call saved: that call names the model
    if not arg:
        return None, False
    found = index.resolve(arg)
    if found is None:
        return None, False
    kind, obj, _ = found
    if kind == "class":
        cls: ClassSummary = obj  # type: ignore[assignment]
        return (cls.qualname, True) if index.framework_of(cls) else (None, False)
    builds = getattr(obj, "builds", None)
    if builds:
        cls2 = index.resolve_class(builds)
        if cls2 is not None and index.framework_of(cls2):
            return cls2.qualname, True
        return None, False
    # a function itself (``torch.jit.script(fn)``): compiled, not a model class; clear unless it was called
    return None, via == "name"


def build_plan(session: "Session", settings: "Settings") -> EntryPlan:
    """The run's plan, from the export calls in the named files, the factories and the config."""
    plan = EntryPlan(entry_points=settings.entry_points, not_exported=settings.not_exported)
    index = session.index
    calls: List[Tuple[str, ExportCall]] = []
    for name in session.project.order:
        st = session.module(name, want_summary=False)
        if st is None or st.error is not None or st.prefiltered:
            continue
        if not st.parsed and not EXPORT_HINT.search(session._text(st) or ""):
            continue
        st = session.module(name)
        if st is not None and st.summary is not None:
            calls.extend((st.display, e) for e in st.summary.exports)
    unclear: List[str] = []
    files: List[str] = []
    calls.sort(key=lambda item: (item[0], item[1].line))
    for display, call in calls:
        where = f"{display}:{call.line}"
        qual, clear = _resolve(index, call.arg, call.via)
        plan.calls.append(
            (
                where,
                "model" + call.api if call.api.startswith(".") else call.api,  # ``model.save``, ``model.export``
                call.target,
                qual
                or (
                    "a saved model (a path)"
                    if call.via == "path"
                    else (call.arg or "?") + ("" if clear else " (not resolved)")
                ),
            )
        )
        if qual:
            plan.exported.setdefault(qual, f"export call at {where}")
        if not clear:
            unclear.append(where)
        if display not in files:
            files.append(display)
    for spec in settings.models:
        qual, clear = _resolve(index, spec.factory.replace(":", "."), "factory")
        if qual:
            plan.exported.setdefault(qual, f"factory {spec.factory}")
        if not clear:
            unclear.append(f"factory {spec.factory}")
    found = sorted({c.target for _, c in calls}, key=target_names().index)
    if settings.targets_auto:
        if found:
            plan.targets = tuple(found)
            plan.targets_reason = f"auto: export calls in {_files(files)}"
        else:
            plan.targets = MODERN_TARGETS
            plan.targets_reason = "auto: no export calls found"
    else:
        plan.targets = settings.targets
        plan.targets_reason = "all" if settings.targets == target_names() else "configured"
    if plan.entry_points:
        plan.mode, plan.reason = "config", "entry-points in the configuration"
    elif plan.exported and not unclear:
        sources = [_files(files)] if files else []
        if settings.models:
            sources.append("[[tool.mllint.models]] factories")
        plan.mode, plan.reason = "export", "export calls in " + " and ".join(sources) if files else sources[0]
    elif unclear:
        what = "export call" if all(not u.startswith("factory ") for u in unclear) else "export call or factory"
        many = len(unclear) != 1
        plan.reason = (
            f"every model class: what {len(unclear)} {what}{'s' if many else ''} export{'' if many else 's'} "
            f"is not statically clear ({', '.join(unclear[:3])}{', ...' if len(unclear) > 3 else ''})"
        )
    elif calls:
        plan.reason = "every model class: the export calls name no project model class"
    else:
        plan.reason = "every model class: no export calls found"
    return plan


def _files(files: Sequence[str]) -> str:
    return ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
