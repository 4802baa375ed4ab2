#!/usr/bin/env python
"""Generate ``rules/data/torch_ops.json``: which PyTorch ops the ONNX exporters cannot lower.

Run with the torch / onnxscript versions the tables should describe installed::

    python scripts/gen_torch_op_tables.py            # writes rules/data/torch_ops.json
    python scripts/gen_torch_op_tables.py --check    # exits 1 if the committed file is stale

Sources, all read from the installed packages (this script is the only place that imports torch):

* ``torchgen/packaged/ATen/native/native_functions.yaml`` (ships in the torch wheel): every aten op,
  its variants (``function`` / ``method``), its ``python_module`` (linalg, fft, special, nn) and
  whether it has its own kernel or is ``CompositeImplicitAutograd`` (decomposed while tracing, so
  the op an exporter sees is not known from the name).
* ONNX dynamo exporter: ``torch.onnx._internal.exporter._registration.ONNXRegistry.from_torchlib``
  (torch's ``_torchlib`` plus onnxscript's ``torch_lib``) and the decomposition table the exporter
  applies first (``_decomp.create_onnx_friendly_decomposition_table``).
* Legacy TorchScript-based ONNX exporter: the symbolic registry
  ``torch.onnx._internal.torchscript_exporter.registration.registry`` per opset.

Python-level spellings (``torch.X``, ``torch.linalg.X``, ``torch.fft.X``, ``torch.special.X``,
``torch.nn.functional.X``, ``Tensor.X`` and in-place ``Tensor.X_``) are recorded only when the
Python object *is* the generated binding of that aten op (not a Python wrapper such as
``torch.functional.stft`` or ``Tensor.unique``, whose aten op cannot be read from the name).

An op is listed as not exportable for a target only when the verdict does not depend on how it is
called (precision first). For each candidate op the script builds example calls from its schema
(every overload whose arguments it can synthesise, on a 4x4, an 8 and a 2x3x6x6 float tensor) and:

* onnx-dynamo (ops with no registered ONNX function): ``torch.export`` + the exporter's own
  decompositions; listed when every example reaches an op without an ONNX function (``prims.*``
  ops included: ``digamma`` -> ``prims.digamma``), and then confirmed by a real
  ``torch.onnx.export(dynamo=True)`` of each overload (an export that succeeds removes the op).
  Without a usable example: listed only if the op has its own kernel (not
  ``CompositeImplicitAutograd``), takes a tensor, and is neither registered nor decomposed, so it
  reaches the exported graph as itself.
* onnx-legacy (per opset; ops without a symbolic at that opset): a real
  ``torch.onnx.export(dynamo=False)`` of every example must stop with ``UnsupportedOperatorError``.
  In-place ops (``x.uniform_()``; the exporter rewrites several of them to their out-of-place op
  first) are listed only on such a real failure. Without a usable example: listed only if the op has
  its own kernel and takes a tensor (``CompositeImplicitAutograd`` ops are often aliases that a
  JIT pass renames, ``multiply`` -> ``mul``).

The ``verified`` lists record which entries a real export proved; ``reaches`` the op the dynamo
exporter stopped at.

Ops returning no tensor (sizes, flags, Python scalars) are left out: they never reach a graph.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "rules" / "data" / "torch_ops.json"
LEGACY_OPSETS = (17, 18, 19, 20)
DYNAMO_OPSET = 18
_FUNC_RE = re.compile(r"^([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?\((.*)\)\s*->\s*(.*)$", re.S)


class Op:
    __slots__ = ("name", "overloads", "variants", "python_module", "implicit_only", "returns_tensor")

    def __init__(self, name: str) -> None:
        self.name = name
        self.overloads: List[str] = []
        self.variants: Set[str] = set()
        self.python_module: Optional[str] = None
        self.implicit_only = True  # every overload is CompositeImplicitAutograd
        self.returns_tensor = False


def _is_implicit(entry: dict) -> bool:
    if "structured_delegate" in entry:
        return False
    dispatch = entry.get("dispatch")
    if not dispatch:
        return not entry.get("manual_kernel_registration", False)
    keys = {k.strip() for key in dispatch for k in str(key).split(",")}
    return keys <= {"CompositeImplicitAutograd", "CompositeImplicitAutogradNestedTensor"}


def read_native_functions() -> Tuple[Dict[str, Op], str]:
    import torchgen
    import yaml

    path = Path(torchgen.__file__).parent / "packaged" / "ATen" / "native" / "native_functions.yaml"
    entries = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    ops: Dict[str, Op] = {}
    for entry in entries:
        m = _FUNC_RE.match(entry["func"].strip())
        if not m:
            continue
        name, overload, _args, returns = m.groups()
        op = ops.setdefault(name, Op(name))
        op.overloads.append(overload or "default")
        variants = {v.strip() for v in str(entry.get("variants", "function")).split(",")}
        op.variants |= variants
        if entry.get("python_module"):
            op.python_module = entry["python_module"]
        if not _is_implicit(entry):
            op.implicit_only = False
        if "Tensor" in returns:
            op.returns_tensor = True
    return ops, "torchgen/packaged/ATen/native/native_functions.yaml"


def python_names(ops: Dict[str, Op]) -> Dict[str, str]:
    """Python spelling -> aten op name, only where the Python object is that op's binding."""
    import torch
    import torch.nn.functional as F

    namespaces = {
        None: ("torch", torch._C._VariableFunctions),
        "linalg": ("torch.linalg", torch._C._linalg),
        "fft": ("torch.fft", torch._C._fft),
        "special": ("torch.special", torch._C._special),
        "nn": ("torch.nn.functional", torch._C._nn),
    }
    public = {None: torch, "linalg": torch.linalg, "fft": torch.fft, "special": torch.special, "nn": F}
    prefixes = {"linalg": "linalg_", "fft": "fft_", "special": "special_", "nn": ""}
    names: Dict[str, str] = {}
    for op in ops.values():
        if op.name.startswith("_"):
            continue
        if "function" in op.variants and op.python_module in namespaces:
            qual, binding_mod = namespaces[op.python_module]
            binding = getattr(binding_mod, op.name, None)
            short = op.name
            pre = prefixes.get(op.python_module or "", "")
            if pre and short.startswith(pre):
                short = short[len(pre):]
            public_obj = getattr(public[op.python_module], short, None)
            if binding is not None and public_obj is binding:
                names[f"{qual}.{short}"] = op.name
            if op.python_module is None:
                # torch.nn.functional re-exports some torch.* bindings unchanged (F.conv2d is torch.conv2d).
                f_obj = getattr(F, op.name, None)
                if binding is not None and f_obj is binding:
                    names[f"torch.nn.functional.{op.name}"] = op.name
        if "method" in op.variants:
            base = getattr(torch._C.TensorBase, op.name, None)
            # callable: ``mT`` / ``real`` are properties, not methods
            if base is not None and callable(base) and getattr(torch.Tensor, op.name, None) is base:
                names[f"Tensor.{op.name}"] = op.name
    return names


def dynamo_support() -> Tuple[Set[str], Set[str], dict]:
    """(``ns::op`` names with an ONNX function for some overload, aten ops with some overload in the
    exporter's decomposition table, that table)."""
    logging.disable(logging.WARNING)
    from torch.onnx._internal.exporter import _decomp, _registration

    registry = _registration.ONNXRegistry.from_torchlib(DYNAMO_OPSET)
    registered: Set[str] = set()
    for key in registry.functions:
        if isinstance(key, str) and "::" in key:
            registered.add(key.split(".")[0])
    onnx_ops = set(_decomp.get_onnx_implemented_overloads(registry))
    table = _decomp.create_onnx_friendly_decomposition_table(onnx_ops)
    decomposed: Set[str] = set()
    for overload in table:
        schema = getattr(overload, "_schema", None)
        if schema is not None and schema.name.startswith("aten::"):
            decomposed.add(schema.name[len("aten::"):])
    logging.disable(logging.NOTSET)
    return registered, decomposed, table


def legacy_support(opsets: Tuple[int, ...]) -> Dict[int, Set[str]]:
    import importlib
    import pkgutil

    import torch.onnx._internal.torchscript_exporter as legacy_pkg
    from torch.onnx._internal.torchscript_exporter import registration

    # Symbolics register themselves when their module is imported; the exporter imports them all.
    for info in pkgutil.iter_modules(legacy_pkg.__path__):
        if info.name.startswith("symbolic_opset"):
            importlib.import_module(f"{legacy_pkg.__name__}.{info.name}")

    reg = registration.registry
    out: Dict[int, Set[str]] = {}
    for opset in opsets:
        out[opset] = {
            name[len("aten::"):] for name in reg.all_functions()
            if name.startswith("aten::") and reg.is_registered_op(name, opset)
        }
    return out


# -- probes: call the op on small inputs and really run the exporter's front half -----------
#: Ops never probed (niche backends, memory/storage manipulation, files): not flagged unless structural.
_SKIP_PREFIXES = ("cudnn_", "miopen_", "mkldnn_", "fbgemm_", "quantize", "quantized_", "q_", "sparse_",
                  "to_sparse", "to_mkldnn", "from_file", "set_", "resize", "storage", "pin_memory",
                  "batch_norm_", "empty", "new_empty", "to_padded_tensor", "nested_", "segment_reduce",
                  "int_repr", "dequantize", "choose_qparams", "fake_quantize", "fused_moving_avg")


#: Sparse-layout accessors: on a dense tensor they raise in eager already, and their names are
#: generic enough (``values()``, ``indices()``) to be called on non-tensors that look like tensors.
_SKIP_NAMES = frozenset(f"{n}{s}" for n in ("indices", "values", "crow_indices", "col_indices",
                                             "ccol_indices", "row_indices") for s in ("", "_copy"))


def _skipped(op: str) -> bool:
    return op.startswith(_SKIP_PREFIXES) or op in _SKIP_NAMES


def _example_args(overload, x):  # type: ignore[no-untyped-def]
    """Arguments for ``overload`` built from its schema, or None if one cannot be synthesised."""
    import torch

    args, kwargs = [], {}
    for i, a in enumerate(overload._schema.arguments):
        if a.has_default_value() or a.alias_info is not None and a.alias_info.is_write and a.kwarg_only:
            if a.kwarg_only and a.alias_info is not None and a.alias_info.is_write:
                return None  # out= overloads
            continue
        t = str(a.type)
        if t == "Tensor":
            v = x if i == 0 else x.clone()
        elif t.startswith("Tensor?"):
            v = None
        elif t in ("Tensor[]", "List[Tensor]"):
            v = [x, x.clone()]
        elif t in ("int", "SymInt"):
            v = 1 if a.name in ("dim", "dim0", "dim1", "k", "n", "diagonal", "offset") else 2
        elif t in ("int[]", "SymInt[]", "List[int]", "List[SymInt]") or t.startswith("int[") or t.startswith("SymInt["):
            v = [0] if "dim" in a.name else [4, 4]
        elif t in ("float", "Scalar", "number"):
            v = 0.5
        elif t == "bool":
            v = False
        elif t.endswith("?"):
            v = None
        else:
            return None
        if a.kwarg_only:
            kwargs[a.name] = v
        else:
            args.append(v)
    if not args or not any(isinstance(v, torch.Tensor) for v in args):
        return None  # factories are folded into constants by some exporters: not decided here
    return args, kwargs


def _overloads(op: str):  # type: ignore[no-untyped-def]
    import torch

    packet = getattr(torch.ops.aten, op, None)
    if packet is None:
        return []
    names = packet.overloads()
    names.sort(key=lambda n: (n != "default", n))
    return [getattr(packet, n) for n in names if "out" not in n]


def _module(fn, kwargs):  # type: ignore[no-untyped-def]
    import torch

    class One(torch.nn.Module):
        def forward(self, *args):  # type: ignore[no-untyped-def]
            return fn(*args, **kwargs)

    return One().eval()


@functools.lru_cache(maxsize=None)
def _examples(op: str, complex_ok: bool = False) -> tuple:
    """((overload, args, kwargs), ...) that run eagerly on CPU: every overload (but ``out=`` ones)
    whose arguments can be synthesised, up to three input shapes each. An op counts as failing
    only if it fails on all of them, so an overload-dependent verdict (``copysign(x, 0.5)``
    against ``copysign(x, y)``) is never recorded as a failure. Complex outputs are skipped unless
    ``complex_ok`` (the dynamo exporter's complex support is its own story; the legacy exporter
    stops at the op before looking at dtypes)."""
    import torch

    found = []
    for overload in _overloads(op)[:6]:
        for x in (torch.rand(4, 4) + torch.eye(4), torch.rand(8) + 0.5, torch.rand(2, 3, 6, 6) + 0.5):
            built = _example_args(overload, x)
            if built is None:
                continue
            args, kwargs = built
            try:
                out = overload(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args], **kwargs)
            except Exception:
                continue
            outs = out if isinstance(out, (tuple, list)) else (out,)
            if not outs or not all(isinstance(o, torch.Tensor) for o in outs):
                continue
            if any(o.layout != torch.strided or (o.is_complex() and not complex_ok) for o in outs):
                continue
            found.append((overload, args, kwargs))
    return tuple(found)


def probe_legacy(op: str, forms: List[str], opset: int) -> Optional[bool]:
    """True: the legacy exporter stops at this op on every example; False: some example exports;
    None: undecided (no example, or another error)."""
    import io

    import torch

    examples = _examples(op, complex_ok=True)
    if not examples:
        return None
    for overload, args, kwargs in examples:
        try:
            torch.onnx.export(_module(overload, kwargs), tuple(args), io.BytesIO(), dynamo=False,
                              opset_version=opset)
        except Exception as exc:
            # The module holds this one call: whatever aten op the exporter stops at (the op
            # itself, or what a JIT pass renamed it to: ``special_i0`` -> ``i0``) comes from it.
            if type(exc).__name__ == "UnsupportedOperatorError":
                continue
            return None
        return False
    return True


#: Nodes the ONNX exporter deletes before translation (``_fx_passes.remove_assertion_nodes``).
_DROPPED = ("aten::sym_constrain_range_for_size", "aten::_assert_async", "aten::_assert_scalar",
            "aten::_assert_tensor_metadata")


def probe_dynamo(op: str, registered: Set[str], table: dict) -> Tuple[Optional[bool], Optional[str]]:
    """``torch.export`` the op, apply the ONNX exporter's decompositions and look for an op without
    any registered ONNX function, on every example input. (True, first missing op) when all
    examples reach one; (False, None) when one does not; (None, None) when undecided."""
    import torch

    examples = _examples(op)
    if not examples:
        return None, None
    missing_first: Optional[str] = None
    for overload, args, kwargs in examples:
        try:
            ep = torch.export.export(_module(overload, kwargs), tuple(args), strict=False)
            ep = ep.run_decompositions(table)
        except Exception:
            return None, None
        missing = None
        for node in ep.graph.nodes:
            if node.op != "call_function" or not isinstance(node.target, torch._ops.OpOverload):
                continue
            name = node.target.name()  # "aten::linalg_inv_ex" / "prims::prod"
            if name.split(".")[0] not in registered and name not in _DROPPED:
                missing = name
                break
        if missing is None:
            return False, None
        missing_first = missing_first or missing
    return True, missing_first


def verify_dynamo(op: str) -> Optional[bool]:
    """Really run ``torch.onnx.export(dynamo=True)`` on the first example of each overload: True if
    all fail with a conversion error ("No ONNX function found"), False if one exports, None otherwise."""
    import torch

    examples = _examples(op)
    firsts = [e for i, e in enumerate(examples) if i == 0 or e[0] is not examples[i - 1][0]]
    if not firsts:
        return None
    for overload, args, kwargs in firsts:
        try:
            torch.onnx.export(_module(overload, kwargs), tuple(args), dynamo=True, verbose=False)
        except Exception as exc:
            if "ConversionError" in type(exc).__name__ or "No ONNX function" in str(exc):
                continue
            return None
        return False
    return True


_REQUIRED_RE = re.compile(r"Required parameter '([A-Za-z_0-9]+)' is not provided")


def _list_default_args(op: str):  # type: ignore[no-untyped-def]
    """(overload, argument index, argument name) for each ``int[]`` argument whose default is ``[]``
    (``amax(Tensor self, int[1] dim=[])``): the ones a call may leave out that the ONNX function may need."""
    out = []
    for overload in _overloads(op)[:6]:
        for i, a in enumerate(overload._schema.arguments):
            t = str(a.type)
            if a.has_default_value() and a.default_value == [] and (t.startswith(("int[", "SymInt[", "List[int]"))):
                out.append((overload, i, a.name))
    return out


def probe_required_args(op: str) -> List[List[object]]:
    """Arguments the dynamo exporter's ONNX function needs although the schema gives them a default:
    a real ``torch.onnx.export(dynamo=True)`` of the call without the argument must fail with "Required
    parameter '<name>' is not provided", and the same call with it (``[-1]`` / ``[1]``) must export.
    [[name, position in the schema], ...] (position 0 is ``self``)."""
    import torch

    found: List[List[object]] = []
    for overload, index, name in _list_default_args(op):
        x = torch.rand(4, 4) + torch.eye(4)
        built = _example_args(overload, x)
        if built is None or [name, index] in found:
            continue
        args, kwargs = built
        try:
            overload(*args, **kwargs)
            torch.onnx.export(_module(overload, kwargs), tuple(args), dynamo=True, verbose=False)
            continue  # exports without the argument
        except Exception as exc:
            chain, cause = [], exc  # type: ignore[var-annotated]
            while cause is not None and len(chain) < 6:
                chain.append(str(cause))
                cause = cause.__cause__ or cause.__context__
            missing = next((m.group(1) for c in chain for m in [_REQUIRED_RE.search(c)] if m), None)
        if missing != name:
            continue
        given = dict(kwargs, **{name: [-1] if "dim" in name else [1]})
        try:
            overload(*args, **given)
            torch.onnx.export(_module(overload, given), tuple(args), dynamo=True, verbose=False)
        except Exception:
            continue  # fails either way: not a question of this argument
        found.append([name, index])
    return found


def script_unsupported_tensor_methods() -> List[str]:
    """Tensor methods TorchScript cannot compile: torch/jit/unsupported_tensor_ops.py's method (compile
    ``x.<attr>()`` for every public attribute), matching both spellings of the error in torch 2.13."""
    import torch

    deprecated = {"volatile", "resize", "reinforce", "new", "name", "map2_", "grad_fn", "resize_as"}
    tensor = torch.tensor([2])
    out = []
    for attr in sorted(a for a in dir(torch.Tensor) if a[0] != "_" and a not in deprecated):
        try:
            torch.jit.CompilationUnit(f"def func(x):\n    return x.{attr}()\n")
        except Exception as exc:  # noqa: BLE001 - the compiler's verdict is the point
            text = repr(exc)
            if "nonexistent attribute" in text or "object has no attribute or method" in text:
                if "method" in repr(getattr(tensor, attr)):
                    out.append(attr)
    return out


def tensor_attributes() -> List[str]:
    """Every public attribute of ``torch.Tensor``: a method outside this list (``x.jax()``) is not torch's,
    so a call to it is not evidence of a tensor computation."""
    import torch

    return sorted(a for a in dir(torch.Tensor) if not a.startswith("_"))


def functional_of(name: str, ops: Dict[str, Op]) -> Optional[str]:
    """``put_`` -> ``put`` (the op functionalisation replaces an in-place op with)."""
    if name.endswith("_") and not name.endswith("__") and name[:-1] in ops:
        return name[:-1]
    return None


def build(probe: bool = True, verify: bool = True, verbose: bool = False) -> dict:
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    import onnxscript
    import torch

    torch.manual_seed(0)
    ops, yaml_source = read_native_functions()
    names = python_names(ops)
    registered, decomposed, table = dynamo_support()
    legacy = legacy_support(LEGACY_OPSETS)
    candidates = sorted({op for op in names.values() if ops[op].returns_tensor and not _skipped(op)})

    def forms_of(op: str) -> List[str]:
        f = functional_of(op, ops)
        return [op, f] if f else [op]

    # onnx-dynamo: a probe decides; without one, only ops with their own kernel that are neither
    # registered nor decomposed (they reach the graph as themselves).
    dynamo_unsupported: List[str] = []
    dynamo_probed: Dict[str, str] = {}
    dynamo_verified: List[str] = []
    for op in candidates:
        forms = forms_of(op)
        if any(f"aten::{f}" in registered for f in forms):
            continue
        verdict, missing = probe_dynamo(forms[-1], registered, table) if probe else (None, None)
        if verdict is None:
            main = forms[-1]
            verdict = (not ops[main].implicit_only and not any(f in decomposed for f in forms)
                       and _has_tensor_input(main))
        elif verdict:
            real = verify_dynamo(forms[-1]) if verify else None
            if real is False:
                verdict = False
            else:
                dynamo_probed[op] = missing or ""
                if real:
                    dynamo_verified.append(op)
        if verdict:
            dynamo_unsupported.append(op)
        if verbose:
            print("dynamo", op, verdict, missing, file=sys.stderr)

    # onnx-legacy: no symbolic for the op at that opset. In-place ops (the exporter rewrites several
    # of them first: ``x.uniform_()`` reaches it as ``aten::uniform``) and CompositeImplicit ops (often
    # aliases such as ``multiply`` or ``clip`` that a JIT pass renames) only when a probe proves the failure.
    legacy_unsupported: Dict[str, List[str]] = {}
    legacy_verified: Dict[str, List[str]] = {}
    for opset in LEGACY_OPSETS:
        failing = []
        for op in candidates:
            forms = forms_of(op)
            if any(f in legacy[opset] for f in forms):
                continue
            verdict = probe_legacy(op, forms, opset) if probe else None
            if _inplace(op):
                verdict = bool(verdict)  # listed only on a real failure of every example
            if verdict is None:
                verdict = not ops[op].implicit_only and _has_tensor_input(op)
            elif verdict:
                legacy_verified.setdefault(str(opset), []).append(op)
            if verdict:
                failing.append(op)
        legacy_unsupported[str(opset)] = failing

    # onnx-dynamo, per argument: ops it lowers only when a defaulted argument is given (``x.amax()``)
    required_args: Dict[str, List[List[object]]] = {}
    if probe and verify:
        for op in candidates:
            if op in dynamo_unsupported or f"aten::{op}" not in registered or not _list_default_args(op):
                continue
            found = probe_required_args(op)
            if found:
                required_args[op] = found
            if verbose:
                print("required", op, found, file=sys.stderr)
    logging.disable(logging.NOTSET)

    flagged = set(dynamo_unsupported).union(*map(set, legacy_unsupported.values())) | set(required_args)
    kept_names = {k: v for k, v in sorted(names.items()) if v in flagged}
    functional = {op: functional_of(op, ops) for op in sorted(flagged) if functional_of(op, ops)}
    return {
        "format": 1,
        "generator": "scripts/gen_torch_op_tables.py",
        "versions": {"torch": torch.__version__, "onnxscript": onnxscript.__version__},
        "sources": {
            "aten": yaml_source,
            "onnx-dynamo": "torch.onnx._internal.exporter._registration.ONNXRegistry.from_torchlib"
                           " + _decomp.create_onnx_friendly_decomposition_table + probe",
            "onnx-legacy": "torch.onnx._internal.torchscript_exporter.registration.registry + probe",
        },
        "stats": {
            "aten_ops": len(ops),
            "python_names": len(names),
            "candidate_ops": len(candidates),
            "dynamo_registered_ops": len(registered),
            "dynamo_decomposed_ops": len(decomposed),
            "legacy_symbolic_ops": {str(o): len(v) for o, v in legacy.items()},
        },
        "names": kept_names,
        "functional": functional,
        "tensor_attributes": tensor_attributes(),
        "torchscript": {"unsupported_tensor_methods": script_unsupported_tensor_methods(),
                        "source": "torch.jit.CompilationUnit on `x.<method>()` for every public Tensor attribute"},
        "targets": {
            "onnx-dynamo": {
                "opsets": [DYNAMO_OPSET],
                "unsupported": {str(DYNAMO_OPSET): dynamo_unsupported},
                "reaches": dynamo_probed,
                "verified": {str(DYNAMO_OPSET): dynamo_verified},
                "required_args": required_args,
            },
            "onnx-legacy": {"opsets": list(LEGACY_OPSETS), "unsupported": legacy_unsupported,
                            "verified": legacy_verified},
        },
    }


def _inplace(op: str) -> bool:
    return op.endswith("_") and not op.endswith("__")


def _has_tensor_input(op: str) -> bool:
    """The op's main overloads (``default``, else ``Tensor*``, else all) take a tensor first:
    factories such as ``logspace(0, 1, 5)`` may be folded into constants before an exporter
    looks at them."""
    overloads = _overloads(op)
    main = ([ov for ov in overloads if ov._overloadname == "default"]
            or [ov for ov in overloads if ov._overloadname.startswith("Tensor")] or overloads)
    return bool(main) and all(ov._schema.arguments and str(ov._schema.arguments[0].type) == "Tensor"
                              for ov in main)


@contextlib.contextmanager
def _quiet_stdout():  # type: ignore[no-untyped-def]
    """Send file descriptor 1 (Python and C++ writes) to /dev/null."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def dump(data: dict) -> str:
    return json.dumps(data, indent=0, sort_keys=True, separators=(",", ":")) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="fail if the file on disk differs")
    parser.add_argument("--no-probe", action="store_true", help="name tables only (no example exports)")
    parser.add_argument("--no-verify", action="store_true", help="skip the real ONNX dynamo exports")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    with _quiet_stdout():  # the exporters print graphs on failure; 10 000 lines per run
        text = dump(build(probe=not args.no_probe, verify=not args.no_verify, verbose=args.verbose))
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run scripts/gen_torch_op_tables.py", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
