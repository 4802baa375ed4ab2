"""Check an exported artifact against the model's contract (runs in the child, after a successful export).

Two kinds of checks, each violation a dict in ``session.details["contract"]`` that ``contracts.contract_findings``
turns into a finding at the contract's line:

* the artifact's interface, read from the artifact itself: ONNX graph inputs and outputs (``onnx``), the
  ``serving_default`` signature of a SavedModel (its ``saved_model.pb``, what TF Serving reads), the input
  and output specs of a ``torch.export`` program, the ``forward`` argument names of TorchScript (Triton's
  PyTorch backend naming rules: the argument name, or ``<name>__<index>``; outputs ``<name>__<index>``);
* probes: every dimension the contract declares dynamic is run at two sizes other than the example's
  (within the declared bounds), and the artifact must match eager within the tolerance.
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from mllint.confirm.compare import array_leaves, describe_difference

Tensor = Dict[str, Any]  # {"name", "dtype", "shape"}: shape entries int (fixed), str (symbolic), None (unknown)


def _canonical(dtype: Any) -> Optional[str]:
    from mllint.confirm.contracts import canonical_dtype

    return canonical_dtype(str(dtype)) if dtype is not None else None


def _fmt(shape: Optional[Sequence[Any]]) -> str:
    if shape is None:
        return "unknown"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


class Checker:
    """The violations of one artifact (one target) against one contract."""

    def __init__(self, contract: Dict[str, Any], target: str) -> None:
        self.contract = contract
        self.target = target
        self.found: List[Dict[str, Any]] = []
        self.fixed: Set[Tuple[int, int]] = set()  # (input index, dim) the export made static
        self.notes: List[str] = []

    def applies(self) -> bool:
        wanted = self.contract.get("targets")
        return not wanted or self.target in wanted

    def add(self, code: str, message: str, line: Optional[int], **extra: Any) -> None:
        where = [self.contract["source"], int(line or self.contract.get("line") or 1)]
        self.found.append({"code": code, "message": message, "location": where, **extra})

    # -- interface --------------------------------------------------------------------------------
    def side(self, side: str, actual: Optional[List[Tensor]], names: str = "exact") -> None:
        """Compare declared ``side`` ("inputs"/"outputs") with the artifact's. ``names``: exact, libtorch,
        libtorch-outputs (``<name>__<index>``) or none."""
        declared = self.contract.get(side) or []
        if actual is None or not declared:
            return
        code = "ML106" if side == "inputs" else "ML107"
        one = side[:-1]
        actual_names = [a["name"] for a in actual]
        by_name = names == "exact" and all(c["name"] in actual_names for c in declared)
        if names.startswith("libtorch"):
            convention, positions = _libtorch_positions([c["name"] for c in declared], actual_names, side)
            if convention == "strict" and self.contract.get("kind") == "triton":
                rule = (
                    "are neither all `forward` argument names nor all `<name>__<index>`"
                    if side == "inputs"
                    else "do not all follow `<name>__<index>`"
                )
                self.notes.append(
                    f"the contract's {side} {rule}: Triton's PyTorch backend binds them in config "
                    "order (and logs a warning)"
                )
        else:
            positions = [actual_names.index(c["name"]) if by_name else i for i, c in enumerate(declared)]
        pairs: List[Tuple[int, Dict[str, Any], Optional[Tensor]]] = [
            (i, c, actual[p] if p < len(actual) else None) for i, (c, p) in enumerate(zip(declared, positions))
        ]
        for i, c, a in pairs:
            if a is None:
                self.add(
                    code,
                    f"{one} `{c['name']}` of the contract is missing from the export (it has "
                    f"{len(actual)} {side}: {', '.join(f'`{n}`' for n in actual_names) or 'none'})",
                    c["line"],
                )
                continue
            why = self._name_problem(names, i, c["name"], a["name"])
            if why:
                self.add(code, f"{one} {i} {why}", c["line"])
            label = f"{one} `{c['name']}`"
            if c.get("dtype") and a.get("dtype") and c["dtype"] != a["dtype"]:
                self.add(code, f"{label} is {a['dtype']} in the export; the contract says {c['dtype']}", c["line"])
            cs, as_ = c.get("shape"), a.get("shape")
            if cs is None or as_ is None:
                continue
            if len(cs) != len(as_):
                self.add(
                    code,
                    f"{label} has rank {len(as_)} ({_fmt(as_)}) in the export; the contract says rank "
                    f"{len(cs)} ({_fmt(cs)})",
                    c["line"],
                )
                continue
            for k, (want, got) in enumerate(zip(cs, as_)):
                if isinstance(want, int) and isinstance(got, int) and want != got:
                    self.add(code, f"{label} dim {k} is {got} in the export; the contract says {want}", c["line"])
                elif not isinstance(want, int) and isinstance(got, int):
                    dim = f" (`{want}`)" if want else ""
                    self.add(
                        "ML108",
                        f"{label} dim {k}{dim} is dynamic in the contract but fixed to {got} in the export",
                        c["line"],
                    )
                    if side == "inputs":
                        self.fixed.add((i, k))
        if side == "inputs" and len(actual) > len(declared):
            used = {id(a) for _, _, a in pairs if a is not None}
            for a in actual:
                if id(a) not in used:
                    self.add(
                        code,
                        f"the export has an input `{a['name']}` that the contract does not declare",
                        self.contract.get("line"),
                    )

    def _name_problem(self, names: str, i: int, want: str, got: str) -> Optional[str]:
        if names == "exact" and want != got:
            return f"is named `{got}` in the export; the contract says `{want}`"
        return None

    # -- probes -----------------------------------------------------------------------------------
    def probe_plan(
        self, shapes: List[Tuple[int, ...]]
    ) -> List[Tuple[str, int, int, Dict[int, Tuple[int, ...]], Optional[int]]]:
        """(dimension label, size, example size, new shapes by input index, contract line) per probe."""
        declared = self.contract.get("inputs") or []
        bounds = self.contract.get("dims") or {}
        dims: Dict[str, List[Tuple[int, int]]] = {}
        lines: Dict[str, int] = {}
        for i, c in enumerate(declared):
            shape = c.get("shape")
            if shape is None or i >= len(shapes) or len(shape) != len(shapes[i]):
                continue
            for k, d in enumerate(shape):
                if isinstance(d, int) or (i, k) in self.fixed:
                    continue
                label = d if d else f"{c['name']}[{k}]"
                dims.setdefault(label, []).append((i, k))
                lines.setdefault(label, c["line"])
        plan: List[Tuple[str, int, int, Dict[int, Tuple[int, ...]], Optional[int]]] = []
        for label, where in dims.items():
            example = shapes[where[0][0]][where[0][1]]
            lo, hi = bounds.get(label) or [None, None]
            lo = 1 if lo is None else lo
            sizes: List[int] = []
            for s in (1, example + 1, example + 2, 2 * example + 1, example - 1):
                if s >= lo and (hi is None or s <= hi) and s != example and s not in sizes and s > 0:
                    sizes.append(s)
                if len(sizes) == 2:
                    break
            for s in sizes:
                merged: Dict[int, Tuple[int, ...]] = {}
                for i, k in where:  # several dims of one input may share the name
                    base = merged.get(i, shapes[i])
                    merged[i] = tuple(s if kk == k else n for kk, n in enumerate(base))
                plan.append((label, s, example, merged, lines[label]))
        return plan

    def run_probes(
        self,
        shapes: List[Tuple[int, ...]],
        make: Callable[[Dict[int, Tuple[int, ...]]], Any],
        eager: Callable[[Any], List[np.ndarray]],
        artifact: Callable[[Any], List[np.ndarray]],
        tolerance: float,
        notes: List[str],
    ) -> List[str]:
        """Run every probe; a violation per dimension (its first failing size). Returns the probes run."""
        done: List[str] = []
        failed: Set[str] = set()
        for label, size, example, new_shapes, line in self.probe_plan(shapes):
            if label in failed:
                continue
            inputs = make(new_shapes)
            try:
                want = eager(inputs)
            except Exception as exc:  # noqa: BLE001 - the eager model itself rejects the size
                notes.append(
                    f"contract probe `{label}` = {size}: the eager model rejects it ({type(exc).__name__}); "
                    "not compared"
                )
                continue
            try:
                got = artifact(inputs)
            except Exception as exc:  # noqa: BLE001
                text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                self.add(
                    "ML109",
                    f"the export raises at `{label}` = {size} (the example has {example}), a size the "
                    f"contract declares dynamic: {type(exc).__name__}: {text}",
                    line,
                )
                failed.add(label)
                continue
            why = describe_difference(want, got, tolerance)
            if why:
                self.add(
                    "ML109",
                    f"at `{label}` = {size} (the example has {example}) the export differs from eager: {why}",
                    line,
                    silent=True,
                )
                failed.add(label)
                continue
            done.append(f"{label}={size}")
        return done


def _libtorch_positions(names: List[str], forward: List[str], side: str) -> Tuple[str, List[int]]:
    """How Triton's PyTorch backend binds config tensors to TorchScript positions (its GetNamingConvention):
    inputs by ``forward`` argument name when every input is one; else, inputs and outputs, by the index of
    ``<name>__<index>`` when every name has one; else in config order."""
    if side == "inputs" and all(n in forward for n in names):
        return "forward-argument", [forward.index(n) for n in names]
    indices = []
    for n in names:
        at = n.find("__")
        suffix = n[at + 2 :] if at >= 0 else "x"
        if suffix and not suffix.isdigit():
            return "strict", list(range(len(names)))
        indices.append(int(suffix or 0))
    return "named-index", indices


def _record(session: Any, checker: Checker, probes: Optional[List[str]] = None) -> None:
    session.notes.extend(n for n in checker.notes if n not in session.notes)
    if checker.found:
        session.details["contract"] = checker.found
    if probes:
        session.details["contract_probes"] = probes


# -- PyTorch --------------------------------------------------------------------------------------------


def _torch_info(name: str, value: Any) -> Tensor:
    import torch

    if isinstance(value, torch.Tensor):
        shape = [int(d) if isinstance(d, int) else str(d) for d in value.shape]
        return {"name": name, "dtype": _canonical(value.dtype), "shape": shape}
    return {"name": name, "dtype": None, "shape": None}


def onnx_interface(path: Any) -> Tuple[List[Tensor], List[Tensor]]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in model.graph.initializer}

    def info(v: Any) -> Tensor:
        tt = v.type.tensor_type
        dtype = _canonical(onnx.TensorProto.DataType.Name(tt.elem_type)) if tt.elem_type else None
        shape = None
        if tt.HasField("shape"):
            shape = [int(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]
        return {"name": v.name, "dtype": dtype, "shape": shape}

    return [info(v) for v in model.graph.input if v.name not in inits], [info(v) for v in model.graph.output]


def program_interface(ep: Any) -> Tuple[List[Tensor], List[Tensor]]:
    from torch.export.graph_signature import InputKind, OutputKind

    nodes = {n.name: n for n in ep.graph.nodes}
    inputs = []
    for spec in ep.graph_signature.input_specs:
        if spec.kind == InputKind.USER_INPUT:
            name = getattr(spec.arg, "name", "")
            node = nodes.get(name)
            inputs.append(_torch_info(name, node.meta.get("val") if node is not None else None))
    outputs = []
    for spec in ep.graph_signature.output_specs:
        if spec.kind == OutputKind.USER_OUTPUT:
            name = getattr(spec.arg, "name", "")
            node = nodes.get(name)
            outputs.append(_torch_info(name, node.meta.get("val") if node is not None else None))
    return inputs, outputs


def _leaves_with_paths(args: Any, kwargs: Any) -> Tuple[List[Any], Any]:
    from torch.utils import _pytree as pytree

    return pytree.tree_flatten((args, kwargs))


def _guarded(check: Callable[..., None]) -> Callable[..., None]:
    """A contract check that breaks (an unreadable artifact, an API that moved) is a note, never a failed export."""

    def run(session: Any, *args: Any, **kwargs: Any) -> None:
        if not getattr(session.job, "contract", None):
            return
        start = time.perf_counter()
        try:
            check(session, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            session.notes.append(f"contract check did not complete: {type(exc).__name__}: {str(exc)[:200]}")
        finally:  # the cost of contracts, apart from the export and mllint's own comparisons
            session.details["contract_seconds"] = round(time.perf_counter() - start, 4)

    return run


@_guarded
def check_torch(
    session: Any,
    target: str,
    call: Callable[[Tuple[Any, ...], Dict[str, Any]], Any],
    *,
    onnx_path: Any = None,
    program: Any = None,
    script: Any = None,
) -> None:
    """Check one PyTorch artifact (after ``compare`` passed); records violations on ``session.details``."""
    contract = getattr(session.job, "contract", None)
    if not contract:
        return
    import torch

    checker = Checker(contract, target)
    if not checker.applies():
        return
    args, kwargs = session.example()
    flat, _ = _leaves_with_paths(args, kwargs)
    tensors = [x for x in flat if isinstance(x, torch.Tensor)]
    if onnx_path is not None:
        inputs, outputs = onnx_interface(onnx_path)
        checker.side("inputs", inputs)
        # mllint gave the exporter the contract's output names when the output counts agree; otherwise the
        # graph's output names are the exporter's own, and only the missing outputs say something
        checker.side("outputs", outputs, names="exact" if onnx_output_names(session, target) else "none")
    elif program is not None:
        inputs, outputs = program_interface(program)
        checker.side("inputs", inputs)
        checker.side("outputs", outputs, names="none")
    elif script is not None:
        params = [a.name.split(".")[0] for a in script.forward.schema.arguments[1:]]
        inputs = [
            {
                "name": params[i] if i < len(params) else f"input_{i}",
                "dtype": _canonical(t.dtype),
                "shape": [None] * t.dim(),
            }
            for i, t in enumerate(tensors)
        ]
        checker.side("inputs", inputs, names="libtorch")
        try:
            with torch.no_grad():
                produced = call(*session.example())
            out_leaves = [x for x in _leaves_with_paths(produced, {})[0] if isinstance(x, torch.Tensor)]
            outputs = [
                {"name": f"output__{i}", "dtype": _canonical(t.dtype), "shape": [None] * t.dim()}
                for i, t in enumerate(out_leaves)
            ]
            checker.side("outputs", outputs, names="libtorch-outputs" if contract.get("kind") == "triton" else "none")
        except Exception:  # noqa: BLE001 - compare() already ran it; nothing more to learn here
            pass
    probes: List[str] = []
    if session.reference is not None:
        shapes = [tuple(t.shape) for t in tensors]
        gen = torch.Generator().manual_seed(1234)
        ref_model = None

        def make(new_shapes: Dict[int, Tuple[int, ...]]) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
            from torch.utils import _pytree as pytree

            leaves, spec = _leaves_with_paths(*session.example())
            index = -1
            out = []
            for leaf in leaves:
                if isinstance(leaf, torch.Tensor):
                    index += 1
                    if index in new_shapes:
                        leaf = _resized(leaf, new_shapes[index], gen)
                out.append(leaf)
            a, k = pytree.tree_unflatten(out, spec)
            return tuple(a), dict(k)

        def eager(inputs: Tuple[Tuple[Any, ...], Dict[str, Any]]) -> List[np.ndarray]:
            nonlocal ref_model
            if ref_model is None:
                import copy

                try:
                    ref_model = copy.deepcopy(session.pristine)
                except Exception:  # noqa: BLE001 - some modules refuse deepcopy (as in the runners)
                    ref_model = session.pristine
            return session._eager(ref_model, *inputs)

        def artifact(inputs: Tuple[Tuple[Any, ...], Dict[str, Any]]) -> List[np.ndarray]:
            from torch.utils import _pytree as pytree

            fresh = pytree.tree_map(lambda v: v.clone() if isinstance(v, torch.Tensor) else v, inputs)
            with torch.no_grad():
                return array_leaves(call(*fresh))

        probes = checker.run_probes(shapes, make, eager, artifact, session.tolerance, session.notes)
    _record(session, checker, probes)


def _resized(like: Any, shape: Tuple[int, ...], gen: Any) -> Any:
    import torch

    if like.is_floating_point():
        return torch.randn(shape, generator=gen, dtype=like.dtype).to(like.device)
    if like.dtype == torch.bool:
        return (torch.randint(0, 2, shape, generator=gen) > 0).to(like.device)
    lo, hi = (int(like.min()), int(like.max())) if like.numel() else (0, 1)
    return torch.randint(lo, hi + 1, shape, generator=gen, dtype=like.dtype).to(like.device)


def onnx_output_names(session: Any, target: str) -> Optional[List[str]]:
    """The contract's output names, for the ONNX exporters to give the graph outputs (as a user meeting the
    contract would pass ``output_names``); None without a contract or when the counts differ."""
    contract = getattr(session.job, "contract", None)
    if not contract or not Checker(contract, target).applies() or session.reference is None:
        return None
    names = [o["name"] for o in contract.get("outputs") or []]
    return names if names and len(names) == len(session.reference[0]) else None


# -- TensorFlow -----------------------------------------------------------------------------------------


def saved_model_interface(path: Any) -> Optional[Tuple[List[Tensor], List[Tensor]]]:
    """The ``serving_default`` signature as written in ``saved_model.pb`` (what TF Serving serves)."""
    from pathlib import Path

    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    for graph in saved.meta_graphs:
        if "serving_default" not in graph.signature_def:
            continue
        sig = graph.signature_def["serving_default"]

        def info(name: str, t: Any) -> Tensor:
            shape = None
            if not t.tensor_shape.unknown_rank:
                shape = [int(d.size) if d.size >= 0 else "?" for d in t.tensor_shape.dim]
            return {"name": name, "dtype": _canonical(tf.dtypes.as_dtype(t.dtype).name), "shape": shape}

        key = _natural_key
        return (
            [info(n, sig.inputs[n]) for n in sorted(sig.inputs, key=key)],
            [info(n, sig.outputs[n]) for n in sorted(sig.outputs, key=key)],
        )
    return None


def _natural_key(text: str) -> Tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(text)))


@_guarded
def check_savedmodel(session: Any, target: str, path: Any) -> None:
    """Check a SavedModel's ``serving_default`` signature and probe it at the declared dynamic sizes."""
    contract = getattr(session.job, "contract", None)
    if not contract:
        return
    checker = Checker(contract, target)
    if not checker.applies():
        return
    found = saved_model_interface(path)
    if found is None:
        checker.add("ML106", "the SavedModel has no `serving_default` signature", contract.get("line"))
        _record(session, checker)
        return
    inputs, outputs = found
    declared_in = [c["name"] for c in contract.get("inputs") or []]
    if len(inputs) > 1 and all(n in [i["name"] for i in inputs] for n in declared_in):
        pass  # matched by name below
    checker.side("inputs", inputs)
    checker.side("outputs", outputs)
    probes: List[str] = []
    if session.reference is not None:
        import tensorflow as tf

        names = [i["name"] for i in inputs]
        if len(declared_in) == len(names) and set(declared_in) == set(names):
            names = declared_in  # the contract's order is the positional order
        loaded = tf.saved_model.load(str(path))
        serve = loaded.signatures["serving_default"]
        rng = np.random.default_rng(1234)
        shapes = [tuple(a.shape) for a in session.args]

        def make(new_shapes: Dict[int, Tuple[int, ...]]) -> Tuple[np.ndarray, ...]:
            return tuple(
                _np_resized(a, new_shapes[i], rng) if i in new_shapes else a for i, a in enumerate(session.args)
            )

        def artifact(args: Tuple[np.ndarray, ...]) -> List[np.ndarray]:
            result = serve(**{n: tf.constant(a) for n, a in zip(names, args)})
            return [np.asarray(result[k]) for k in sorted(result, key=_natural_key)]

        probes = checker.run_probes(shapes, make, session._eager, artifact, session.tolerance, session.notes)
    _record(session, checker, probes)


def _np_resized(like: np.ndarray, shape: Tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if like.dtype.kind == "f":
        return rng.standard_normal(shape).astype(like.dtype)
    if like.dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    lo, hi = (int(like.min()), int(like.max())) if like.size else (0, 1)
    return rng.integers(lo, hi + 1, size=shape).astype(like.dtype)


def tflite_interface(interpreter: Any) -> Tuple[List[Tensor], List[Tensor]]:
    """The default signature of a TFLite model: names, dtypes, ``shape_signature`` (-1: dynamic)."""
    runner = interpreter.get_signature_runner()

    def info(name: str, d: Dict[str, Any]) -> Tensor:
        sig = d.get("shape_signature")
        shape = [int(v) if v >= 0 else "?" for v in (sig if sig is not None else d["shape"])]
        return {"name": name, "dtype": _canonical(np.dtype(d["dtype"]).name), "shape": shape}

    ins, outs = runner.get_input_details(), runner.get_output_details()
    return ([info(n, ins[n]) for n in sorted(ins, key=_natural_key)],
            [info(n, outs[n]) for n in sorted(outs, key=_natural_key)])  # fmt: skip


@_guarded
def check_tflite(session: Any, target: str, flatbuffer: bytes) -> None:
    """Check a TFLite model's signature and probe it (the runner resizes inputs) at declared dynamic sizes."""
    import tensorflow as tf

    checker = Checker(session.job.contract, target)
    if not checker.applies():
        return
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    inputs, outputs = tflite_interface(interpreter)
    checker.side("inputs", inputs)
    checker.side("outputs", outputs)
    probes: List[str] = []
    if session.reference is not None:
        declared_in = [c["name"] for c in session.job.contract.get("inputs") or []]
        names = [i["name"] for i in inputs]
        if len(declared_in) == len(names) and set(declared_in) == set(names):
            names = declared_in
        runner = interpreter.get_signature_runner()
        rng = np.random.default_rng(1234)
        shapes = [tuple(a.shape) for a in session.args]

        def make(new_shapes: Dict[int, Tuple[int, ...]]) -> Tuple[np.ndarray, ...]:
            return tuple(
                _np_resized(a, new_shapes[i], rng) if i in new_shapes else a for i, a in enumerate(session.args)
            )

        def artifact(args: Tuple[np.ndarray, ...]) -> List[np.ndarray]:
            result = runner(**dict(zip(names, args)))
            return [np.asarray(result[k]) for k in sorted(result, key=_natural_key)]

        probes = checker.run_probes(shapes, make, session._eager, artifact, session.tolerance, session.notes)
    _record(session, checker, probes)
