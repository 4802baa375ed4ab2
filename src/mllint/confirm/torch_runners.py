"""PyTorch targets: TorchScript scripting and tracing, torch.export, the ONNX dynamo and legacy exporters.

Each target exports a fresh copy of the model, runs the artifact on the example input and on the probes,
and compares with eager PyTorch. Measured facts this relies on (pytorch-hazards §0, §4): tracing reports
baked values only as ``TracerWarning``; non-strict ``torch.export`` is the default; undeclared dimensions
are static in exported programs and ONNX files, so those are compared on same-shape probes only unless the
factory gives ``dynamic_shapes``; ONNX conversion errors and constraint violations carry no user line, so
they are recovered from the exported program's node stack traces and from ``draft_export``.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import re
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np
import torch

from mllint.confirm import contract_check
from mllint.confirm.compare import DEFAULT_TOLERANCE, array_leaves, derive_probes, describe_difference, leaves
from mllint.confirm.locate import Located, UserFiles, iter_user_frames, recorded_user_warnings
from mllint.confirm.session import Job, Outcome, Session
from mllint.confirm.spec import ExportSpec
from mllint.targets import TORCH_TARGETS, runner_of

Probe = Tuple[str, Tuple[Any, ...], Dict[str, Any]]


def _is_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor)


def _tensor_to_array(value: torch.Tensor) -> np.ndarray:
    return value.detach().cpu().numpy()


def _array_to_tensor(arr: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(arr)).to(device=like.device, dtype=like.dtype)


def _move(value: Any, device: str) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: _move(v, device) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_move(v, device) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(_move(v, device) for v in value)
    return value


def _copy(value: Any) -> Any:
    """Fresh copies of the tensors in ``value``: a model that mutates its inputs in place must not change the
    inputs of the next run (eager reference, export, artifact)."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_copy(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    return value


def _shapes(args: Any) -> List[Tuple[int, ...]]:
    return [tuple(x.shape) for x in leaves(args) if isinstance(x, torch.Tensor)]


def _fresh(model: torch.nn.Module) -> torch.nn.Module:
    try:
        return copy.deepcopy(model)
    except Exception:  # noqa: BLE001 - some modules refuse deepcopy; export the original then
        return model


class TorchSession(Session):
    """A built ``torch.nn.Module`` with its example inputs, probes and eager reference outputs."""

    framework = "torch"
    targets = TORCH_TARGETS

    def __init__(self, job: Job, files: UserFiles, spec: ExportSpec, tolerance: Optional[float]) -> None:
        super().__init__(job, files, tolerance if tolerance is not None else DEFAULT_TOLERANCE)
        self.device = "cuda" if job.device == "cuda" else "cpu"
        model = spec.model.to(self.device) if self.device != "cpu" else spec.model
        self.pristine = model
        self.args: Tuple[Any, ...] = tuple(_move(spec.args, self.device))
        self.kwargs: Dict[str, Any] = dict(_move(spec.kwargs, self.device))
        self.dynamic_shapes = spec.dynamic_shapes
        self.setup_notes: List[str] = []
        probes = self._user_probes(spec.probes) if spec.probes else derive_probes(
            self.args, self.kwargs, _is_tensor, _tensor_to_array, _array_to_tensor)
        self.reference, self.probes = self._reference(probes)

    def _user_probes(self, raw: Sequence[Any]) -> List[Probe]:
        out: List[Probe] = []
        for i, item in enumerate(raw):
            if isinstance(item, dict):
                args, kwargs = tuple(item.get("args", ())), dict(item.get("kwargs", {}))
            else:
                args, kwargs = (tuple(item) if isinstance(item, (tuple, list)) else (item,)), {}
            out.append((f"probe {i}", tuple(_move(args, self.device)), dict(_move(kwargs, self.device))))
        return out

    def _eager(self, model: torch.nn.Module, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> List[np.ndarray]:
        with torch.no_grad():
            return array_leaves(model(*_copy(args), **_copy(kwargs)))

    def _reference(self, probes: List[Probe]) -> Tuple[Optional[List[List[np.ndarray]]], List[Probe]]:
        """Eager outputs on the example and the probes (one copy, called in order, like the artifacts)."""
        ref_model = _fresh(self.pristine)
        first = self._eager(ref_model, self.args, self.kwargs)
        kept: List[Probe] = []
        outputs = [first]
        for name, args, kwargs in probes:
            try:
                outputs.append(self._eager(ref_model, args, kwargs))
                kept.append((name, args, kwargs))
            except Exception as exc:  # noqa: BLE001 - the model does not accept this probe
                self.setup_notes.append(f"eager model rejects the {name} input ({type(exc).__name__}); not compared on it")
        again = self._eager(_fresh(self.pristine), self.args, self.kwargs)
        if describe_difference(first, again, self.tolerance) is not None:
            self.setup_notes.append("eager outputs differ between two calls (dropout in train mode? randomness?); "
                                    "outputs not compared")
            return None, []
        return outputs, kept

    # -- comparison ---------------------------------------------------------------------------
    def _declared_dims(self) -> Optional[Dict[str, Set[int]]]:
        """Input name -> dimensions ``dynamic_shapes`` declares dynamic (None when it is too nested to read)."""
        try:
            bound = inspect.signature(self.pristine.forward).bind(*self.args, **self.kwargs)
        except (TypeError, ValueError):
            return None
        names = list(bound.arguments)
        specs = self.dynamic_shapes
        if specs is None:
            return {}
        if isinstance(specs, dict):
            pairs = list(specs.items())
        elif isinstance(specs, (list, tuple)):
            pairs = list(zip(names, specs))
        else:
            return None
        out: Dict[str, Set[int]] = {}
        for name, spec in pairs:
            if isinstance(spec, dict) and all(isinstance(d, int) for d in spec):
                out[name] = {int(d) for d, v in spec.items() if v is not None}
            elif isinstance(spec, (list, tuple)) and not any(isinstance(v, (dict, list, tuple)) for v in spec):
                out[name] = {i for i, v in enumerate(spec) if v is not None}
            elif spec is not None:
                return None
        return out

    def _fits(self, probe: Probe, dynamic: Optional[Dict[str, Set[int]]]) -> bool:
        """Whether an artifact specialised to the example's shapes (but ``dynamic`` dims) can take ``probe``."""
        if _shapes((probe[1], probe[2])) == _shapes((self.args, self.kwargs)):
            return True
        if not dynamic:
            return False
        try:
            sig = inspect.signature(self.pristine.forward)
            now = sig.bind(*probe[1], **probe[2]).arguments
            then = sig.bind(*self.args, **self.kwargs).arguments
        except (TypeError, ValueError):
            return False
        for name, value in now.items():
            before = then.get(name)
            if isinstance(value, torch.Tensor) and isinstance(before, torch.Tensor):
                if value.dim() != before.dim():
                    return False
                changed = {i for i, (a, b) in enumerate(zip(value.shape, before.shape)) if a != b}
                if not changed <= dynamic.get(name, set()):
                    return False
            elif _shapes(value) != _shapes(before):
                return False
        return True

    def compare(self, target: str, call: Callable[[Tuple[Any, ...], Dict[str, Any]], Any],
                shapes: Optional[Dict[str, Set[int]]] = None, mismatch_at: Callable[[], Located] = Located,
                any_shape: bool = False) -> None:
        """``any_shape``: the artifact is shape-generic (TorchScript); else it takes the example's shapes
        except the dimensions ``shapes`` declares dynamic."""
        """Run the artifact on the example and the probes; raise ``Outcome`` on the first difference."""
        if self.reference is None:
            self.details["compared"] = []
            return
        offset = self.log_size()
        try:
            with torch.no_grad():
                got = array_leaves(call(*self.example()))
        except Exception as exc:  # noqa: BLE001
            raise self.failure(target, exc, offset, "the exported model fails on the example input: ")
        compared = ["example"]
        why = describe_difference(self.reference[0], got, self.tolerance)
        if why:
            raise Outcome("mismatch", f"on the example input, {why}", mismatch_at())
        for (name, args, kwargs), want in zip(self.probes, self.reference[1:]):
            if not any_shape and not self._fits((name, args, kwargs), shapes):
                continue
            try:
                with torch.no_grad():
                    got = array_leaves(call(_copy(args), _copy(kwargs)))
            except Exception as exc:  # noqa: BLE001
                located = mismatch_at() or self.failure(target, exc, offset).located
                raise Outcome("mismatch", f"raises on the {name} input: {type(exc).__name__}: "
                                          f"{str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}", located)
            why = describe_difference(want, got, self.tolerance)
            if why:
                raise Outcome("mismatch", f"on the {name} input, {why}", mismatch_at())
            compared.append(name)
        self.details["compared"] = compared

    def example(self) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
        """Fresh copies of the example inputs (for one export or one run)."""
        return _copy(self.args), _copy(self.kwargs)

    def _keep(self, path: Any) -> None:
        if self.job.artifacts:
            self.details["artifact"] = str(path)

    # -- targets ------------------------------------------------------------------------------
    def run_target(self, target: str) -> Optional[str]:
        return getattr(self, runner_of(target))(target)

    def _run_torchscript_script(self, target: str) -> Optional[str]:
        scripted = self.timed_export(lambda: torch.jit.script(_fresh(self.pristine)))
        if self.job.artifacts:
            path = self.artifact_path(target, ".pt")
            torch.jit.save(scripted, str(path))
            self._keep(path)
        self.compare(target, lambda a, k: scripted(*a, **k), any_shape=True)
        contract_check.check_torch(self, target, lambda a, k: scripted(*a, **k), script=scripted)
        return None

    def _run_torchscript_trace(self, target: str) -> Optional[str]:
        args, kwargs = self.example()
        if kwargs:  # the tracer takes positional or keyword inputs, not both: pass all by name
            by_name = self._by_name(args, kwargs)
        with recorded_user_warnings(self.files, "TracerWarning") as found:
            model = _fresh(self.pristine)
            if kwargs:
                traced = self.timed_export(lambda: torch.jit.trace(model, example_kwarg_inputs=by_name))
            else:
                traced = self.timed_export(lambda: torch.jit.trace(model, args))
        if found:
            self.details["warnings"] = found
        if self.job.artifacts:
            path = self.artifact_path(target, ".pt")
            torch.jit.save(traced, str(path))
            self._keep(path)
        call = (lambda a, k: traced(**self._by_name(a, k))) if self.kwargs else (lambda a, k: traced(*a, **k))
        self.compare(target, call, any_shape=True, mismatch_at=lambda: _warning_location(found))
        contract_check.check_torch(self, target, call, script=traced)
        return None

    def _run_torch_export(self, target: str) -> Optional[str]:
        args, kwargs = self.example()
        ep = self.timed_export(lambda: torch.export.export(
            _fresh(self.pristine), args, kwargs or None, dynamic_shapes=self.dynamic_shapes,
            strict=self.job.strict))
        if self.job.artifacts:
            path = self.artifact_path(target, ".pt2")
            torch.export.save(ep, str(path))
            self._keep(path)
        module = ep.module()
        self.compare(target, lambda a, k: module(*a, **k), self._declared_dims())
        contract_check.check_torch(self, target, lambda a, k: module(*a, **k), program=ep)
        return "strict mode" if self.job.strict else None

    def _onnx_session(self, path: Any) -> Any:
        import onnx
        import onnxruntime as ort

        onnx.checker.check_model(str(path))
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def _onnx_call(self, session: Any) -> Callable[[Tuple[Any, ...], Dict[str, Any]], Any]:
        names = [i.name for i in session.get_inputs()]

        def call(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
            tensors = [_tensor_to_array(x) for x in leaves((args, kwargs)) if isinstance(x, torch.Tensor)]
            if len(tensors) != len(names):
                by_name = self._named_inputs(args, kwargs)
                if not set(names) <= set(by_name):
                    raise RuntimeError(f"cannot feed the ONNX inputs {names} from {len(tensors)} example tensors")
                feed = {n: by_name[n] for n in names}
            else:
                feed = dict(zip(names, tensors))
            return session.run(None, feed)

        return call

    def _by_name(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Dict[str, Any]:
        """Every input by parameter name (``**kwargs`` spread out), for a tracer that takes names only."""
        params = inspect.signature(self.pristine.forward).parameters
        bound = inspect.signature(self.pristine.forward).bind(*args, **kwargs)
        out: Dict[str, Any] = {}
        for name, value in bound.arguments.items():
            kind = params[name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                if value:
                    raise Outcome("failed", f"torch.jit.trace cannot pass the positional inputs of `*{name}` together "
                                            f"with keyword inputs (it takes positional or keyword inputs, not both)")
            elif kind is inspect.Parameter.VAR_KEYWORD:
                out.update(value)
            else:
                out[name] = value
        return out

    def _named_inputs(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Dict[str, np.ndarray]:
        try:
            bound = inspect.signature(self.pristine.forward).bind(*args, **kwargs)
        except (TypeError, ValueError):
            return {}
        return {k: _tensor_to_array(v) for k, v in bound.arguments.items() if isinstance(v, torch.Tensor)}

    def _run_onnx_dynamo(self, target: str) -> Optional[str]:
        path = self.artifact_path(target, ".onnx")
        args, kwargs = self.example()
        program = self.timed_export(lambda: torch.onnx.export(
            _fresh(self.pristine), args, kwargs=kwargs or None, dynamo=True,
            dynamic_shapes=self.dynamic_shapes, opset_version=self.job.onnx_opset, verbose=False,
            output_names=contract_check.onnx_output_names(self, target)))
        program.save(str(path))
        self._keep(path)
        call = self._onnx_call(self._onnx_session(path))
        self.compare(target, call, self._declared_dims(), mismatch_at=self._narrowing_location)
        contract_check.check_torch(self, target, call, onnx_path=path)
        return None

    def _narrowing_location(self) -> Located:
        """The dynamo exporter re-exports with torch.export's suggested fixes, narrowing or dropping declared
        dynamic dimensions; the guards behind that carry the user line in ``draft_export``."""
        if self.dynamic_shapes is None:
            return Located()
        try:
            return self._draft_export_locations()
        except Exception:  # noqa: BLE001 - best effort
            return Located()

    def _legacy_axes(self) -> Tuple[Optional[List[str]], Optional[Dict[str, List[int]]]]:
        """Input names and ``dynamic_axes`` equivalent to the factory's ``dynamic_shapes`` (top-level only)."""
        if self.kwargs or not all(isinstance(a, torch.Tensor) for a in self.args):
            return None, None
        params = [p for p in inspect.signature(self.pristine.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        names = [p.name for p in params[: len(self.args)]]
        if len(names) != len(self.args):
            return None, None
        if self.dynamic_shapes is None:
            return names, None
        specs = self.dynamic_shapes
        if isinstance(specs, dict):
            specs = [specs.get(n) for n in names]
        axes: Dict[str, List[int]] = {}
        for name, spec in zip(names, specs):
            if isinstance(spec, dict):
                axes[name] = sorted(int(d) for d, v in spec.items() if v is not None)
            elif isinstance(spec, (list, tuple)):
                axes[name] = [i for i, v in enumerate(spec) if v is not None]
            elif spec is not None:
                return names, None
        return names, axes

    def _run_onnx_legacy(self, target: str) -> Optional[str]:
        path = self.artifact_path(target, ".onnx")
        names, axes = self._legacy_axes()
        args, kwargs = self.example()
        if names is None:  # nested or keyword inputs: name every tensor leaf, in the exporter's flattening order
            names = [f"input_{i}" for i in range(sum(1 for x in leaves((args, kwargs)) if _is_tensor(x)))]
        # The legacy exporter reads a trailing dict in ``args`` as keyword inputs: a dict input needs a
        # trailing empty one to stay positional.
        legacy_args = args + ({},) if not kwargs and args and isinstance(args[-1], dict) else args
        with recorded_user_warnings(self.files, "TracerWarning") as found:
            self.timed_export(lambda: torch.onnx.export(
                _fresh(self.pristine), legacy_args, str(path), kwargs=kwargs or None, dynamo=False,
                input_names=names, dynamic_axes=axes, opset_version=self.job.onnx_opset, verbose=False,
                output_names=contract_check.onnx_output_names(self, target)))
        if found:
            self.details["warnings"] = found
        self._keep(path)
        declared = {n: set(dims) for n, dims in axes.items()} if axes else {}
        call = self._legacy_call(self._onnx_session(path), names)
        self.compare(target, call, declared, mismatch_at=lambda: _warning_location(found))
        contract_check.check_torch(self, target, call, onnx_path=path)
        return None

    def _legacy_call(self, session: Any, names: List[str]) -> Callable[[Tuple[Any, ...], Dict[str, Any]], Any]:
        """Feed a legacy ONNX model by the input names mllint gave it. The exporter drops inputs the graph does
        not use, and adds a tensor default of ``forward`` that the call leaves out as an input of its own."""
        graph_inputs = [i.name for i in session.get_inputs()]

        def call(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
            given = [_tensor_to_array(x) for x in leaves((args, kwargs)) if _is_tensor(x)]
            by_name = dict(zip(names, given))
            extra = [n for n in graph_inputs if n not in by_name]
            defaults = self._tensor_defaults(args, kwargs)
            if len(extra) > len(defaults):
                raise RuntimeError(f"cannot feed the ONNX inputs {extra}: the example has no tensors for them")
            feed = {n: by_name[n] for n in graph_inputs if n in by_name}
            feed.update(zip(extra, defaults))
            return session.run(None, feed)

        return call

    def _tensor_defaults(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> List[np.ndarray]:
        """Tensor defaults of ``forward``'s parameters the call leaves out, in signature order."""
        try:
            sig = inspect.signature(self.pristine.forward)
            bound = sig.bind(*args, **kwargs)
        except (TypeError, ValueError):
            return []
        return [_tensor_to_array(p.default) for name, p in sig.parameters.items()
                if name not in bound.arguments and _is_tensor(p.default)]

    # -- locations for errors that carry none -------------------------------------------------
    def recover_location(self, target: str, exc: BaseException, log_text: str) -> Located:
        text = str(exc)
        if target == "onnx-legacy":
            return self._legacy_op_location(text, log_text)
        if target == "onnx-dynamo" and "translat" in text.lower():
            return self._onnx_dispatch_locations(text)
        if target in ("torch-export", "onnx-dynamo"):
            return self._draft_export_locations()
        return Located()

    def _draft_export_locations(self) -> Located:
        """``draft_export`` lists data-dependent errors and added guards with their user stacks (§4.3)."""
        from torch._logging import structured

        ep = torch.export.draft_export(_fresh(self.pristine), self.args, self.kwargs or None,
                                       dynamic_shapes=self.dynamic_shapes)
        report = getattr(ep, "_report", None)
        names = {v: k for k, v in getattr(structured, "INTERN_TABLE", {}).items()}
        found: List[Tuple[str, int]] = []
        for failure in getattr(report, "failures", []) or []:
            frames = [
                self.files.loc(str(names.get(f.get("filename"), f.get("filename"))), int(f.get("line", 0)))
                for f in (failure.data or {}).get("user_stack", []) or []
            ]
            frames = [f for f in frames if f]
            if frames:
                found.append(frames[-1])
        found = list(dict.fromkeys(found))
        return Located(found[0], found, "draft_export") if found else Located()

    def _program_for_onnx(self) -> Any:
        """The exported program the dynamo ONNX exporter converts, captured with the exporter's own strategies
        (non-strict ``torch.export`` with shapes refined from its suggested fixes, then strict, then draft), so
        that the program is the one whose node failed: plain ``torch.export`` may fail first."""
        try:
            from torch.onnx._internal.exporter import _capture_strategies

            strategies = [cls() for cls in _capture_strategies.CAPTURE_STRATEGIES]
        except Exception:  # noqa: BLE001 - private API moved: plain non-strict export
            strategies = []
        for strategy in strategies:
            args, kwargs = self.example()
            with contextlib.redirect_stdout(io.StringIO()):
                result = strategy(_fresh(self.pristine), args, kwargs, self.dynamic_shapes)
            if result.exported_program is not None:
                return result.exported_program
        args, kwargs = self.example()
        return torch.export.export(_fresh(self.pristine), args, kwargs or None,
                                   dynamic_shapes=self.dynamic_shapes, strict=False)

    def _onnx_dispatch_locations(self, text: str) -> Located:
        """Every node the ONNX registry cannot translate, with its user line (pytorch-hazards §4.3): aten ops
        without an ONNX function, and the node the conversion error names (Python builtins such as ``round``,
        higher-order ops such as ``map``), whose stack trace carries the user's line."""
        ep = self._program_for_onnx()
        named = re.search(r"translating node %(\w+)", text)
        found: List[Tuple[str, int]] = []
        ops: List[str] = []
        try:
            from torch.onnx._internal.exporter import _decomp, _dispatching, _registration

            registry = _registration.ONNXRegistry.from_torchlib(self.job.onnx_opset or 18)
            table = _decomp.create_onnx_friendly_decomposition_table(set(registry.functions.keys()))
            decomposed = ep.run_decompositions(table)
            for node in decomposed.graph.nodes:
                if node.op != "call_function":
                    continue
                missing = False
                op_name = getattr(node.target, "__name__", str(node.target))
                if isinstance(node.target, torch._ops.OpOverload):
                    fn, _ = _dispatching.dispatch(node, registry)
                    missing, op_name = fn is None, str(node.target)
                if missing or (named is not None and node.name == named.group(1)):
                    ops.append(op_name)
                    found.extend(list(iter_user_frames(node.meta.get("stack_trace", ""), self.files))[-1:])
        except Exception:  # noqa: BLE001 - private API moved: fall back to the node named in the message
            if named:
                for node in ep.run_decompositions().graph.nodes:
                    if node.name == named.group(1):
                        found.extend(list(iter_user_frames(node.meta.get("stack_trace", ""), self.files))[-1:])
        if ops:
            self.details["unsupported_ops"] = sorted(set(ops))
        found = list(dict.fromkeys(found))
        return Located(found[0], found, "onnx dispatch") if found else Located()

    def _legacy_op_location(self, text: str, log_text: str) -> Located:
        """The legacy exporter names the op; its graph dump (and the trace graph) carry ``# path:N``."""
        m = re.search(r"operator '([\w:.]+)'", text)
        if not m:
            return Located()
        op = m.group(1)
        from mllint.confirm.locate import IR_COMMENT

        found: List[Tuple[str, int]] = []
        for line in log_text.splitlines():
            if f"{op}(" in line:
                for c in IR_COMMENT.finditer(line):
                    loc = self.files.loc(c.group("file"), int(c.group("line")))
                    if loc:
                        found.append(loc)
        if not found:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(_fresh(self.pristine), self.args, check_trace=False)
            for node in traced.inlined_graph.nodes():
                if node.kind() == op:
                    found.extend(list(_source_range_frames(str(node.sourceRange()), self.files))[:1])
        found = list(dict.fromkeys(found))
        return Located(found[0], found, "onnx graph") if found else Located()


def _source_range_frames(text: str, files: UserFiles) -> List[Tuple[str, int]]:
    from mllint.confirm.locate import TORCHSCRIPT_FRAME

    out = []
    for m in TORCHSCRIPT_FRAME.finditer(text):
        loc = files.loc(m.group("file"), int(m.group("line")))
        if loc:
            out.append(loc)
    return out


def _warning_location(found: List[Tuple[str, int, str]]) -> Located:
    if not found:
        return Located()
    locs = [(p, n) for p, n, _ in found]
    return Located(locs[0], locs, "TracerWarning")
