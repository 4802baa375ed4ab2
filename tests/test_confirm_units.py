"""--confirm building blocks that need no framework: locating errors, comparing outputs, factories, devices."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mllint.config import ModelSpec
from mllint.confirm import ExportResult, ExportSpec, model_targets, resolve_device, run_confirm
from mllint.confirm.compare import derive_probes, describe_difference
from mllint.confirm.devices import gpu_available
from mllint.confirm.factory import FactoryError, factory_location, load_factory, normalise, split_ref
from mllint.confirm.locate import (
    UserFiles, faulthandler_frames, frames_in_text, locate_exception, locate_text, recorded_user_warnings,
)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- locate ---------------------------------------------------------------------------------------

def test_user_files_are_project_files_outside_installed_packages(tmp_path: Path) -> None:
    files = UserFiles(tmp_path)
    _write(tmp_path / "pkg" / "m.py", "x = 1\n")
    assert files.is_user(str(tmp_path / "pkg" / "m.py"))
    assert files.rel(str(tmp_path / "pkg" / "m.py")) == "pkg/m.py"
    assert not files.is_user(str(tmp_path / ".venv" / "lib" / "site-packages" / "torch" / "nn.py"))
    assert not files.is_user("/usr/lib/python3/os.py")
    assert not files.is_user("<frozen runpy>")
    import mllint.confirm.locate as own

    assert not UserFiles(Path(own.__file__).parents[3]).is_user(own.__file__)  # mllint is never user code


def test_traceback_frame_of_the_deepest_cause_is_the_location(tmp_path: Path) -> None:
    src = _write(tmp_path / "model.py", """\
        def helper(x):
            return x["missing"]

        def forward(x):
            y = 1
            return helper(x)
        """)
    module = _import(src, "user_model_tb")
    try:
        try:
            module.forward({})
        except KeyError as inner:
            raise RuntimeError("export failed") from inner
    except RuntimeError as exc:
        located = locate_exception(exc, UserFiles(tmp_path))
    assert located.location == ("model.py", 2)
    assert located.how == "traceback"
    assert ("model.py", 6) in located.stack  # the call site that reaches it


def test_message_blocks_vouched_for_by_the_framework_beat_the_traceback(tmp_path: Path) -> None:
    src = _write(tmp_path / "net.py", "def f():\n    pass\n\n\ndef g():\n    raise ValueError('x')\n")
    module = _import(src, "user_model_msg")
    message = (f"in user code:\n\n    File \"{src}\", line 1, in f  *\n        g()\n"
               f"    File \"{src}\", line 2, in g  *\n        boom\n\n    AttributeError: no numpy\n")
    try:
        module.g()
    except ValueError:
        try:
            raise AttributeError(message)
        except AttributeError as exc:
            located = locate_exception(exc, UserFiles(tmp_path))
    assert located.location == ("net.py", 2)  # AutoGraph lists outermost first
    assert located.how == "message"


def test_torchscript_compile_errors_list_the_innermost_frame_first(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    _write(path, "\n" * 40)
    text = (f"Lambda aren't supported:\n  File \"{path}\", line 37\n    f = lambda t: t\n        ~ <--- HERE\n"
            f"'helper' is being compiled since it was called from 'forward'\n  File \"{path}\", line 20\n"
            f"    return helper(x)\n           ~~~~~~ <--- HERE\n")
    frames, strong = frames_in_text(text, UserFiles(tmp_path))
    assert strong and frames == [("m.py", 20), ("m.py", 37)]  # ordered outermost first
    assert locate_text(text, UserFiles(tmp_path), "message").location == ("m.py", 37)


def test_legacy_onnx_graph_comments_and_torchscript_frames_are_read(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    _write(path, "\n" * 30)
    text = (f"%4 : ComplexFloat(3) = aten::linalg_eigvals(%0), scope: m.Eig:: # {path}:25:0\n"
            f"Traceback of TorchScript (most recent call last):\n{path}(18): forward\n"
            f"/site/torch/nn/modules/module.py(1768): _slow_forward\n")
    frames, _ = frames_in_text(text, UserFiles(tmp_path))
    assert set(frames) == {("m.py", 25), ("m.py", 18)}


def test_faulthandler_dump_of_a_real_process_points_at_the_user_line(tmp_path: Path) -> None:
    script = _write(tmp_path / "stuck.py", """\
        import faulthandler, sys

        def inner():
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)

        def outer():
            inner()

        outer()
        """)
    dump = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60).stderr
    located = faulthandler_frames(dump, UserFiles(tmp_path))
    assert located.location == ("stuck.py", 4)
    assert located.stack == [("stuck.py", 9), ("stuck.py", 7), ("stuck.py", 4)]


def test_recorded_warnings_keep_user_lines_of_the_wanted_category(tmp_path: Path) -> None:
    src = _write(tmp_path / "w.py", """\
        import warnings

        class TracerWarning(Warning):
            pass

        def run():
            warnings.warn("baked", TracerWarning)
            warnings.warn("other", UserWarning)
        """)
    module = _import(src, "user_model_warn")
    with recorded_user_warnings(UserFiles(tmp_path), "TracerWarning") as found:
        module.run()
    assert found == [("w.py", 7, "baked")]


def test_a_warning_raised_in_library_code_is_attributed_to_the_innermost_user_frame(tmp_path: Path) -> None:
    user = tmp_path / "project"
    lib = _write(tmp_path / "lib" / "warner.py", """\
        import warnings

        class TracerWarning(Warning):
            pass

        def inner():
            warnings.warn("from the library", TracerWarning)
        """)
    src = _write(user / "m.py", f"""\
        import importlib.util
        spec = importlib.util.spec_from_file_location("warner_lib", {str(lib)!r})
        lib = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(lib)

        def run():
            lib.inner()
        """)
    module = _import(src, "user_model_calls_lib")
    with recorded_user_warnings(UserFiles(user), "TracerWarning") as found:
        module.run()
    assert found == [("m.py", 7, "from the library")]


# -- compare --------------------------------------------------------------------------------------

def test_describe_difference_respects_tolerance_shape_count_and_integers() -> None:
    a = [np.array([1.0, 2.0], dtype=np.float32)]
    assert describe_difference(a, [a[0] + 1e-6], 1e-4) is None
    assert "differs by up to 0.5" in describe_difference(a, [a[0] + 0.5], 1e-4)
    assert "shape (3,)" in describe_difference(a, [np.zeros(3)], 1e-4)
    assert "2 outputs instead of 1" == describe_difference(a, a + a, 1e-4)
    assert "1 of 2 values" in describe_difference([np.array([1, 2])], [np.array([1, 3])], 1e-4)
    assert describe_difference([np.array([np.nan])], [np.array([np.nan])], 1e-4) is None


def test_probes_flip_signs_keep_integer_ids_valid_and_change_the_batch() -> None:
    x = np.array([[1.0, -2.0], [3.0, 4.0]], dtype=np.float32)
    ids = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int64)
    probes = derive_probes((x, ids), {}, lambda v: isinstance(v, np.ndarray), np.asarray, lambda a, _: a)
    names = [p[0] for p in probes]
    assert names == ["other-values", "other-batch", "smaller-batch"]
    values, batch, smaller = probes[0][1], probes[1][1], probes[2][1]
    np.testing.assert_array_equal(values[0], -x)
    assert set(values[1].ravel()) == set(ids.ravel()) and not np.array_equal(values[1], ids)
    assert batch[0].shape == (3, 2) and batch[1].shape == (3, 3)
    assert smaller[0].shape == (1, 2) and smaller[1].shape == (1, 3)
    assert set(batch[1].ravel()) <= set(ids.ravel())
    vector_next_to_batch = derive_probes((x, np.zeros(2, np.float32)), {}, lambda v: isinstance(v, np.ndarray),
                                         np.asarray, lambda a, _: a)[1][1]
    assert vector_next_to_batch[1].shape == (2,)  # a 1-D parameter is not a batch


# -- factories ------------------------------------------------------------------------------------

def test_factory_references_and_import_errors_are_clear(tmp_path: Path) -> None:
    assert split_ref("pkg.mod:Builder.make") == ("pkg.mod", "Builder.make")
    with pytest.raises(FactoryError, match="package.module:function"):
        split_ref("pkg.mod")
    _write(tmp_path / "src" / "srcpkg" / "__init__.py", "")
    _write(tmp_path / "src" / "srcpkg" / "models.py", "def make():\n    return 1\n\n\nclass B:\n    def build(self):\n        pass\n")
    assert load_factory("srcpkg.models:make", tmp_path)() == 1  # src layout
    with pytest.raises(FactoryError, match="no module 'srcpkg.nope'"):
        load_factory("srcpkg.nope:make", tmp_path)
    with pytest.raises(FactoryError, match="has no attribute 'missing'"):
        load_factory("srcpkg.models:missing", tmp_path)
    path, line = factory_location("srcpkg.models:B.build", tmp_path)
    assert path == tmp_path / "src" / "srcpkg" / "models.py" and line == 6
    assert factory_location("srcpkg.models:make", tmp_path)[1] == 1
    assert factory_location("absent.mod:make", tmp_path) is None


def test_wrong_factory_forms_name_the_accepted_ones() -> None:
    with pytest.raises(FactoryError, match="returned int; expected \\(model, example_args\\)"):
        normalise("a:b", 42)
    with pytest.raises(FactoryError, match="unknown keys \\['inputs'\\]"):
        normalise("a:b", {"model": object(), "inputs": ()})
    with pytest.raises(FactoryError, match="expected a torch.nn.Module, a Keras model"):
        normalise("a:b", (object(), (1,)))
    with pytest.raises(FactoryError, match="expected a torch.nn.Module"):
        normalise("a:b", ExportSpec(model=object(), args=(1,)))


# -- results, targets, devices ----------------------------------------------------------------------

def test_export_result_validates_status_and_round_trips() -> None:
    with pytest.raises(ValueError):
        ExportResult("m", "torch-export", "exploded")
    r = ExportResult("m", "torch-export", "failed", seconds=1.23456, message="boom", location=("a.py", 3),
                     locations=(("a.py", 1),), export_seconds=0.5, details={"warnings": [("a.py", 3, "w")]})
    assert r.locations == (("a.py", 3), ("a.py", 1))
    assert ExportResult.from_wire(r.to_wire()).to_dict() == r.to_dict()
    d = r.to_dict()
    assert d["location"] == {"path": "a.py", "line": 3} and d["seconds"] == 1.235
    assert d["warnings"] == [{"path": "a.py", "line": 3, "message": "w"}] and "reached" not in d


def test_model_targets_narrow_the_run_in_canonical_order() -> None:
    spec = ModelSpec("m", "a:b", targets=("torch-export", "savedmodel"))
    assert model_targets(spec, ("onnx-dynamo", "torch-export")) == ["torch-export"]
    assert model_targets(ModelSpec("m", "a:b"), ("onnx-dynamo", "torch-export")) == ["torch-export", "onnx-dynamo"]


@pytest.mark.skipif(gpu_available(), reason="checks the behaviour without a GPU")
def test_cuda_without_gpu_is_a_clear_error_and_auto_falls_back() -> None:
    with pytest.raises(ValueError, match="no CUDA device"):
        resolve_device("cuda")
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="--device must be one of"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="no CUDA device"):
        run_confirm([ModelSpec("m", "a:b")], Path("."), ("torch-export",), "cuda", 1, None, False, None)


def test_unknown_targets_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown target"):
        run_confirm([ModelSpec("m", "a:b")], Path("."), ("coreml",), "cpu", 1, None, False, None)
