"""The project index: cross-file facts built from every file's summary.

Which classes are models (and of which framework), how names resolve across files (aliases and
package re-exports), and where analysis starts (entry points).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Set, Tuple, Union

from mllint._compat import SLOTS
from mllint.analysis.summary import ClassSummary, FuncSummary, ModuleSummary

TORCH_MODULE_PREFIXES = ("torch.nn.",)
KERAS_LAYER_PREFIXES = (
    "keras.", "tensorflow.keras.", "tf_keras.", "tensorflow.python.keras.",
)
TF_MODULE = ("tensorflow.Module",)
#: Keras namespaces whose classes are not layers or models (a ``Loss.call`` is never exported).
KERAS_NON_LAYER_NAMESPACES = frozenset({
    "losses", "metrics", "callbacks", "optimizers", "initializers", "regularizers", "constraints", "utils",
    "saving", "backend", "ops", "random", "activations", "datasets", "applications", "mixed_precision",
    "quantizers", "dtype_policies", "config", "export", "tree",
})


def is_keras_layer_base(base: str) -> bool:
    """``keras.layers.Layer``, ``tf.keras.Model``: yes; ``keras.losses.Loss``, ``keras.metrics.Metric``: no."""
    for prefix in sorted(KERAS_LAYER_PREFIXES, key=len, reverse=True):
        if base.startswith(prefix):
            rest = base[len(prefix):]
            rest = rest[len("src."):] if rest.startswith("src.") else rest
            return rest.split(".", 1)[0] not in KERAS_NON_LAYER_NAMESPACES
    return False
#: Keras' own base classes, as project classes when the Keras sources themselves are checked.
KERAS_SOURCE_BASES = frozenset({"keras.src.layers.layer.Layer", "keras.src.models.model.Model"})
TORCH_ENTRY_DECORATORS = ("torch.jit.export",)
TORCH_EXEMPT_DECORATORS = ("torch.jit.ignore", "torch.jit.unused")
TF_FUNCTION_DECORATORS = ("tensorflow.function",)
#: Project classes an MRO follows at most: a deeper (or wider) hierarchy is cut and reported (ML008).
MRO_LIMIT = 64
KERAS_ENTRY_METHODS = ("call", "train_step", "test_step", "predict_step")


def module_name_for(path: Path) -> Tuple[str, bool]:
    """Dotted module name from the package folders (those with ``__init__.py``) above ``path``."""
    path = path.resolve()
    is_package = path.name == "__init__.py"
    parts: List[str] = [] if is_package else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.append(folder.name)
        if folder.parent == folder:
            break
        folder = folder.parent
    return ".".join(reversed(parts)), is_package


@dataclass(frozen=True, **SLOTS)
class FunctionRef:
    """A function or method defined in the project."""

    module: str
    cls: Optional[str]  # class name within the module, for methods
    name: str

    @property
    def qualname(self) -> str:
        inner = f"{self.cls}.{self.name}" if self.cls else self.name
        return f"{self.module}:{inner}" if self.module else inner

    @property
    def display(self) -> str:
        return f"{self.cls}.{self.name}" if self.cls else self.name


@dataclass(frozen=True, **SLOTS)
class EntryPoint:
    """Where export starts: the function, the class its ``self`` is, and the framework."""

    func: FunctionRef
    self_class: Optional[str]  # qualified class name of ``self`` (may differ from func.cls for inherited methods)
    framework: str  # "torch" or "tensorflow"
    kind: str  # "forward", "jit-export", "script", "tf-function", "keras-call", ...
    display: str  # how messages name it, e.g. "Net.forward"
    #: dims an export call site declares dynamic, per parameter name or "#<position>" (see CallSite.dynamic)
    dynamic: Tuple[Tuple[str, Tuple[int, ...]], ...] = ()


Resolved = Union[Tuple[str, ClassSummary, str], Tuple[str, FuncSummary, str]]


class ProjectIndex:
    def __init__(self, summaries: Dict[str, ModuleSummary],
                 load_module: Optional[Callable[[str], Optional[ModuleSummary]]] = None) -> None:
        self.summaries = summaries  # by module name
        self._framework_cache: Dict[str, Optional[str]] = {}
        self._mro_cache: Dict[str, Tuple[ClassSummary, List[ClassSummary], bool]] = {}
        # Project modules that were not checked are read only when a name resolves into them
        # (a base class or helper defined elsewhere in the project): no work proportional to the project.
        self._load_module = load_module
        self._missing: Set[str] = set()

    def _module(self, name: str) -> Optional[ModuleSummary]:
        summary = self.summaries.get(name)
        if summary is None and self._load_module is not None and name not in self._missing:
            summary = self._load_module(name)
            if summary is None:
                self._missing.add(name)
            else:
                self.summaries[name] = summary
        return summary

    def module_summary(self, name: str) -> Optional[ModuleSummary]:
        """The summary of project module ``name`` (read on demand), or None outside the project."""
        return self._module(name)

    # -- name resolution -------------------------------------------------------------------
    def resolve(self, qname: Optional[str], _depth: int = 0) -> Optional[Resolved]:
        """A project class or function for a qualified name, following re-exports."""
        if not qname or _depth > 12:
            return None
        parts = qname.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            mod = ".".join(parts[:cut])
            summary = self._module(mod)
            if summary is None:
                continue
            rest = parts[cut:]
            head = rest[0]
            if head in summary.classes:
                cls = summary.classes[head]
                if len(rest) == 1:
                    return ("class", cls, mod)
                if len(rest) == 2 and rest[1] in cls.methods:
                    return ("function", cls.methods[rest[1]], mod)
                return None
            if head in summary.functions and len(rest) == 1:
                return ("function", summary.functions[head], mod)
            if head in summary.aliases and summary.aliases[head] != qname:
                target = ".".join([summary.aliases[head], *rest[1:]])
                return self.resolve(target, _depth + 1)
            return None
        return None

    def resolve_class(self, qname: Optional[str]) -> Optional[ClassSummary]:
        found = self.resolve(qname)
        return found[1] if found and found[0] == "class" else None  # type: ignore[return-value]

    def canonical_class(self, qname: Optional[str]) -> Optional[str]:
        cls = self.resolve_class(qname)
        return cls.qualname if cls else qname

    def mro(self, cls: ClassSummary) -> List[ClassSummary]:
        """Project classes in method-resolution order (depth-first, left to right, no repeats)."""
        return self._mro_of(cls)[0]

    def _mro_of(self, cls: ClassSummary) -> Tuple[List[ClassSummary], bool]:
        cached = self._mro_cache.get(cls.qualname)
        if cached is not None and cached[0] is cls:
            return cached[1], cached[2]
        out, cut = self._compute_mro(cls)
        self._mro_cache[cls.qualname] = (cls, out, cut)
        return out, cut

    def mro_truncated(self, cls: ClassSummary) -> bool:
        """The class's project hierarchy is deeper than ``MRO_LIMIT``: its MRO was cut, so what the
        cut-off bases make of it (an ``nn.Module``, a Keras layer) is unknown and it is not judged."""
        self.mro(cls)  # through ``mro`` so that a tracking index records what it read
        return self._mro_of(cls)[1]

    def _compute_mro(self, cls: ClassSummary) -> Tuple[List[ClassSummary], bool]:
        out: List[ClassSummary] = []
        seen: Set[str] = set()
        stack: List[ClassSummary] = [cls]
        while stack:  # depth-first, left to right, without recursion (a deep hierarchy is hostile input)
            c = stack.pop()
            if c.qualname in seen:
                continue
            if len(seen) >= MRO_LIMIT:
                return out, True  # cut: ``mro_truncated`` reports it
            seen.add(c.qualname)
            out.append(c)
            bases = [self.resolve_class(base) for base in c.bases]
            stack.extend(bc for bc in reversed(bases) if bc is not None)
        return out, False

    def external_bases(self, cls: ClassSummary) -> List[str]:
        out = []
        for c in self.mro(cls):
            for base in c.bases:
                if self.resolve_class(base) is None:
                    out.append(base)
        return out

    def framework_of(self, cls: ClassSummary) -> Optional[str]:
        """"torch" for nn.Module subclasses, "keras" for Keras layers/models, "tf" for tf.Module."""
        if cls.qualname in self._framework_cache:
            return self._framework_cache[cls.qualname]
        result: Optional[str] = None
        if any(c.qualname in KERAS_SOURCE_BASES for c in self.mro(cls)):
            result = "keras"  # linting Keras' own sources: its Layer is a project class there
        for base in self.external_bases(cls):
            if base.startswith(TORCH_MODULE_PREFIXES) and not base.startswith("torch.nn.functional"):
                result = "torch"
            elif is_keras_layer_base(base):
                result = "keras"
            elif base in TF_MODULE:
                result = result or "tf"
            if result in ("torch", "keras"):
                break
        self._framework_cache[cls.qualname] = result
        return result

    def keras_flavor_of(self, cls: ClassSummary) -> Optional[str]:
        """"tf_keras" (Keras 2: ``call`` is AutoGraph-converted) or "keras3" (it is not), from the Keras base
        class; falls back to the defining file's imports."""
        for base in self.external_bases(cls):
            if base.startswith("tf_keras."):
                return "tf_keras"
            if base.startswith(KERAS_LAYER_PREFIXES):
                return "keras3"  # keras, tf.keras (Keras 3 since TF 2.16)
        summary = self.summaries.get(self.module_of_class(cls))
        return summary.keras_flavor if summary is not None else None

    def registers_keras(self, qname: Optional[str], _depth: int = 0) -> bool:
        """Whether calling the project function (or decorator class) ``qname`` registers a Keras class:
        its body calls ``register_keras_serializable`` / ``get_custom_objects``, or a project function
        that does (followed through re-exports, a few levels deep)."""
        if _depth > 6:
            return False
        found = self.resolve(qname)
        if not found:
            return False
        kind, obj, _ = found
        if kind == "class":
            methods = obj.methods  # type: ignore[union-attr]
            funcs = [methods[m] for m in ("__call__", "__init__", "__new__") if m in methods]
        else:
            funcs = [obj]  # type: ignore[list-item]
        for fn in funcs:
            if fn.registers_keras:  # type: ignore[union-attr]
                return True
            if any(c != qname and self.registers_keras(c, _depth + 1) for c in fn.calls):  # type: ignore[union-attr]
                return True
        return False

    def find_method(self, cls: ClassSummary, name: str) -> Optional[Tuple[ClassSummary, FuncSummary]]:
        for c in self.mro(cls):
            if name in c.methods:
                return c, c.methods[name]
        return None

    def attr_of(self, cls: ClassSummary, attr: str):  # type: ignore[no-untyped-def]
        for c in self.mro(cls):
            if attr in c.attrs:
                return c.attrs[attr]
        return None

    def module_of_class(self, cls: ClassSummary) -> str:
        return cls.qualname.rsplit(".", 1)[0] if "." in cls.qualname else ""

    # -- entry points ----------------------------------------------------------------------
    def module_entry_points(self, modname: str, summary: "ModuleSummary") -> List[EntryPoint]:
        """Where export starts in one module: model classes, decorated functions, export call sites."""
        entries: List[EntryPoint] = []
        for cls in summary.classes.values():
            fw = self.framework_of(cls)
            if fw is not None:
                entries.extend(self._class_entries(cls, fw))
        for fn in summary.functions.values():
            if any(d in ("torch.jit.script",) for d in fn.decorators):
                entries.append(EntryPoint(FunctionRef(modname, None, fn.name), None, "torch", "script", fn.name))
            elif any(d in TF_FUNCTION_DECORATORS for d in fn.decorators):
                entries.append(EntryPoint(FunctionRef(modname, None, fn.name), None, "tensorflow", "tf-function", fn.name))
        for site in summary.call_sites:
            entries.extend(self._call_site_entries(site))
        entries.extend(self._declared_spec_entries(summary, {e.self_class for e in entries if e.dynamic}))
        for qual, dims in summary.keras_inputs:
            entries.extend(self._functional_input_entries(qual, dims))
        unique: Dict[Tuple[str, Optional[str], str], EntryPoint] = {}
        for e in entries:
            unique.setdefault((e.func.qualname, e.self_class, e.framework, e.dynamic), e)
        return list(unique.values())

    def _class_entries(self, cls: ClassSummary, fw: str) -> Iterator[EntryPoint]:
        names: List[str] = []
        if fw == "torch":
            names.append("forward")
            for c in self.mro(cls):
                names.extend(n for n, m in c.methods.items() if any(d in TORCH_ENTRY_DECORATORS for d in m.decorators))
        else:
            if fw == "keras":
                names.extend(KERAS_ENTRY_METHODS)
            for c in self.mro(cls):
                names.extend(n for n, m in c.methods.items() if any(d in TF_FUNCTION_DECORATORS for d in m.decorators))
        seen = set()
        for name in names:
            if name in seen:
                continue
            seen.add(name)
            found = self.find_method(cls, name)
            if found is None:
                continue
            owner, method = found
            kind = {"forward": "forward", "call": "keras-call"}.get(name, "method")
            framework = "torch" if fw == "torch" else "tensorflow"
            yield EntryPoint(
                FunctionRef(self.module_of_class(owner), owner.name, name),
                cls.qualname, framework, kind, f"{cls.name}.{name}",
            )

    def _declared_spec_entries(self, summary: "ModuleSummary", given: Set[Optional[str]]) -> Iterator[EntryPoint]:
        """A model's ``forward`` again with the dims a ``dynamic_shapes`` attribute next to it declares (ExportDB
        style: a class attribute, or a module-level name), for models no export call here gives dims to.

        A module-level spec belongs to the class ``model = Cls(...)`` builds; without that binding, to the one
        whole model of the file (not a part of another) whose ``forward`` takes every input the spec names
        (a tuple spec: at least as many inputs as it has entries). Two candidates: unknown, none.
        """
        models: List[Tuple[ClassSummary, ClassSummary, FuncSummary]] = []
        for cls in summary.classes.values():
            if cls.qualname in given or self.framework_of(cls) != "torch":
                continue
            found = self.find_method(cls, "forward")
            if found is not None:
                models.append((cls, *found))
        module_owner: Optional[str] = None
        if summary.dynamic_spec:
            if summary.model_binding is not None:
                module_owner = summary.model_binding
            else:
                fits = [cls.qualname for cls, _, fwd in models
                        if not cls.used_as_part and _spec_fits(summary.dynamic_spec, fwd)]
                module_owner = fits[0] if len(fits) == 1 else None
        for cls, owner, fwd in models:
            spec = next((c.dynamic_spec for c in self.mro(cls) if c.dynamic_spec), ())
            if not spec and cls.qualname == module_owner:
                spec = summary.dynamic_spec
            if spec and _spec_fits(spec, fwd):
                yield EntryPoint(FunctionRef(self.module_of_class(owner), owner.name, "forward"), cls.qualname,
                                 "torch", "forward", f"{cls.name}.forward", spec)

    def _functional_input_entries(self, qual: str, dims: Tuple[int, ...]) -> Iterator[EntryPoint]:
        """A Keras layer applied to a ``keras.Input`` whose shape has ``None`` dims: its ``call`` again, with
        those dims of its first input dynamic (``model.export`` keeps them ``None``)."""
        cls = self.resolve_class(qual)
        if cls is None or self.framework_of(cls) != "keras":
            return
        found = self.find_method(cls, "call")
        if found is None:
            return
        owner, _ = found
        yield EntryPoint(FunctionRef(self.module_of_class(owner), owner.name, "call"), cls.qualname, "tensorflow",
                         "keras-call", f"{cls.name}.call", (("#0", dims),))

    def _call_site_entries(self, site) -> Iterator[EntryPoint]:  # type: ignore[no-untyped-def]
        found = self.resolve(site.arg0)
        if not found:
            return
        kind, obj, mod = found
        fw = "torch" if site.callee.startswith("torch.") else "tensorflow"
        if kind == "class" and fw == "torch" and site.dynamic:
            # The model's forward again, with the dimensions this call declares dynamic.
            cls: ClassSummary = obj  # type: ignore[assignment]
            found_forward = self.find_method(cls, "forward") if self.framework_of(cls) == "torch" else None
            if found_forward is not None:
                owner, _ = found_forward
                yield EntryPoint(FunctionRef(self.module_of_class(owner), owner.name, "forward"), cls.qualname,
                                 "torch", "forward", f"{cls.name}.forward", site.dynamic)
            return
        if kind == "function":
            parts = site.arg0.split(".") if site.arg0 else []
            fn: FuncSummary = obj  # type: ignore[assignment]
            cls_name = None
            # A method reference like ``Model.method`` resolves to the class's method.
            res_cls = self.resolve_class(".".join(parts[:-1])) if len(parts) > 1 else None
            if res_cls is not None and fn.name in res_cls.methods:
                cls_name = res_cls.name
                mod = self.module_of_class(res_cls)
            yield EntryPoint(FunctionRef(mod, cls_name, fn.name), None, fw, "compiled", fn.name)


def _spec_fits(spec: Tuple[Tuple[str, Tuple[int, ...]], ...], forward: FuncSummary) -> bool:
    """Whether ``forward`` takes every input a ``dynamic_shapes`` spec declares (by name, or by position)."""
    params = [p for p in forward.params[1:] if p.star in ("", "kwonly")]
    names = {p.name for p in params}
    positional = sum(1 for p in params if p.star == "")
    for key, _ in spec:
        key = key.lstrip("!")  # "!x": x's dims declared with a named Dim (see summary.spec_dims)
        if key.startswith("#"):
            if not key[1:].isdigit() or int(key[1:]) >= positional:
                return False
        elif key not in names:
            return False
    return True
