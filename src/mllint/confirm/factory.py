"""Import a model factory from the user's project and normalise what it returns.

Runs inside the isolated child process (it executes user code). ``factory_location`` is the exception:
it only reads files, so the parent can point at a factory that crashed the child.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple

from mllint.confirm.spec import SPEC_KEYS, ExportSpec


class FactoryError(Exception):
    """The factory is missing, raised, or returned something mllint cannot use."""

    def __init__(self, message: str, cause: Optional[BaseException] = None) -> None:
        super().__init__(message)
        self.cause = cause


def split_ref(ref: str) -> Tuple[str, str]:
    """``"pkg.mod:func"`` -> ``("pkg.mod", "func")``; the function part may be dotted (``Class.build``)."""
    module, sep, attr = ref.partition(":")
    if not sep or not module.strip() or not attr.strip():
        raise FactoryError(f"factory '{ref}' must look like 'package.module:function'")
    return module.strip(), attr.strip()


def import_roots(root: Path) -> List[Path]:
    """Folders to import user code from: the project root and, for src layouts, ``root/src``."""
    roots = [root]
    if (root / "src").is_dir():
        roots.insert(0, root / "src")
    return roots


def add_import_roots(root: Path) -> None:
    for folder in reversed(import_roots(root)):
        text = str(folder)
        if text not in sys.path:
            sys.path.insert(0, text)


def load_factory(ref: str, root: Path) -> Callable[[], Any]:
    """The factory callable; every failure is a ``FactoryError`` that says what to fix."""
    module_name, attr = split_ref(ref)
    add_import_roots(root)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise FactoryError(
                f"factory '{ref}': no module '{exc.name}' under {root} (or {root / 'src'})", exc
            ) from exc
        raise FactoryError(f"factory '{ref}': importing '{module_name}' failed: {exc}", exc) from exc
    except BaseException as exc:  # noqa: BLE001 - user code may raise anything, even SystemExit
        raise FactoryError(
            f"factory '{ref}': importing '{module_name}' raised {type(exc).__name__}: {exc}", exc
        ) from exc
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise FactoryError(f"factory '{ref}': module '{module_name}' has no attribute '{attr}'")
        target = getattr(target, part)
    if not callable(target):
        raise FactoryError(f"factory '{ref}': '{attr}' is not callable")
    return target


def call_factory(ref: str, factory: Callable[[], Any]) -> Any:
    try:
        return factory()
    except BaseException as exc:  # noqa: BLE001
        raise FactoryError(f"factory '{ref}' raised {type(exc).__name__}: {exc}", exc) from exc


def detect_framework(model: Any) -> Optional[str]:
    """``"torch"``, ``"keras"`` or ``"tf"`` (a plain ``tf.Module``), by type, importing nothing new."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        return "torch"
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(model, keras.layers.Layer):
        return "keras"
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(model, tf.Module):
        return "tf"
    return None


_FORMS = (
    "expected (model, example_args), a dict with keys 'model' and 'args' (optional 'kwargs', "
    "'dynamic_shapes', 'input_signature', 'probes', 'tolerance') or mllint.confirm.ExportSpec"
)


def _is_signature(value: Any) -> bool:
    """A list of ``tf.TensorSpec`` / ``keras.InputSpec`` rather than example inputs."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        return False
    names = {type(v).__name__ for v in items}
    return names <= {"TensorSpec", "InputSpec", "KerasTensor"}


def _as_args(value: Any) -> Tuple[Any, ...]:
    if isinstance(value, tuple):
        return value
    if isinstance(value, list):
        return tuple(value)
    return (value,)


def normalise(ref: str, returned: Any) -> Tuple[ExportSpec, str]:
    """An ``ExportSpec`` and the framework name, or a ``FactoryError`` naming the accepted forms."""
    if isinstance(returned, ExportSpec):
        spec = dataclasses.replace(returned, args=_as_args(returned.args), kwargs=dict(returned.kwargs or {}))
    elif isinstance(returned, dict):
        unknown = sorted(set(returned) - set(SPEC_KEYS))
        if unknown or "model" not in returned:
            why = f"unknown keys {unknown}" if unknown else "no 'model' key"
            raise FactoryError(f"factory '{ref}' returned a dict with {why}; {_FORMS}")
        spec = ExportSpec(**returned)
        spec.args = _as_args(spec.args) if spec.args is not None else ()
        spec.kwargs = dict(spec.kwargs or {})
    elif isinstance(returned, (tuple, list)) and len(returned) == 2:
        model, second = returned
        if _is_signature(second):
            spec = ExportSpec(model=model, input_signature=list(_as_args(second)))
        else:
            spec = ExportSpec(model=model, args=_as_args(second))
    else:
        raise FactoryError(f"factory '{ref}' returned {type(returned).__name__}; {_FORMS}")
    framework = detect_framework(spec.model)
    if framework is None:
        raise FactoryError(
            f"factory '{ref}' returned a model of type {type(spec.model).__module__}.{type(spec.model).__qualname__}; "
            "expected a torch.nn.Module, a Keras model or layer, or a tf.Module"
        )
    if framework == "torch" and spec.input_signature is not None:
        raise FactoryError(f"factory '{ref}': 'input_signature' is for TensorFlow models; use 'args'")
    if framework != "torch" and spec.dynamic_shapes is not None:
        raise FactoryError(f"factory '{ref}': 'dynamic_shapes' is for PyTorch models; use 'input_signature'")
    if not spec.args and not spec.kwargs and spec.input_signature is None:
        raise FactoryError(f"factory '{ref}' gave no example inputs; {_FORMS}")
    return spec, framework


def module_file(module_name: str, root: Path) -> Optional[Path]:
    """Where ``module_name`` lives under the project, found without importing it."""
    parts = module_name.split(".")
    for base in import_roots(root):
        for candidate in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate
    return None


def factory_location(ref: str, root: Path) -> Optional[Tuple[Path, int]]:
    """The file and ``def`` line of a factory, by reading source only (never importing it)."""
    try:
        module_name, attr = split_ref(ref)
    except FactoryError:
        return None
    path = module_file(module_name, root)
    if path is None:
        return None
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return path, 1
    body: Sequence[ast.stmt] = tree.body
    line = 1
    for part in attr.split("."):
        found = next(
            (n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == part),
            None,
        )
        if found is None:
            break
        line = found.lineno
        body = found.body
    return path, line
