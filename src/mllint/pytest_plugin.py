"""Model contract tests in the user's own pytest run: ``pytest --mllint-confirm``.

Off unless asked. With ``--mllint-confirm`` every ``[[tool.mllint.models]]`` entry of the project's
pyproject.toml becomes one test item per target (``mllint::<model>::<target>``), run through the same
isolated runners as ``mllint check --confirm`` (one child process per model, shared by its items). An item
fails with the lines mllint prints (``path:line:col: CODE name message``) and points at that source line; a
target the model does not take part in is skipped. Collecting imports neither the frameworks nor the user's
code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

FAILING = ("failed", "mismatch", "crashed", "timeout", "error")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mllint")
    group.addoption(
        "--mllint-confirm",
        action="store_true",
        default=False,
        help="collect each [[tool.mllint.models]] model x target as a test and run its real export",
    )
    group.addoption(
        "--mllint-root", default=None, help="project whose pyproject.toml names the models (default: pytest's rootdir)"
    )
    group.addoption(
        "--mllint-device", default="cpu", choices=("cpu", "cuda", "auto"), help="device for the exports (default: cpu)"
    )


class ConfirmFailure(Exception):
    """An export that failed, with mllint's lines for it."""

    def __init__(self, lines: List[str], location: Optional[Tuple[str, int]]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
        self.location = location


class _Run:
    """The project's settings, its static findings and each model's export results (computed once)."""

    def __init__(self, root: Path, device: str) -> None:
        from mllint.catalogue import load_catalogue
        from mllint.config import load_settings

        self.root = root
        self.device = device
        self.catalogue = load_catalogue()
        self.settings = load_settings(root, self.catalogue)
        from mllint.confirm.contracts import resolve_contracts

        self.settings.models = resolve_contracts(self.settings.models, self.settings.root, self.settings.config_file)
        self._static: Optional[List[Any]] = None
        self._results: Dict[str, Dict[str, Any]] = {}

    def static(self) -> List[Any]:
        if self._static is None:
            from mllint.engine import run_check

            self._static = list(run_check([str(self.settings.root)], self.settings, self.catalogue).findings)
        return self._static

    def result(self, spec: Any, target: str) -> Any:
        if spec.name not in self._results:
            from mllint.confirm import model_targets, run_confirm

            results = run_confirm(
                [spec],
                self.settings.root,
                tuple(model_targets(spec, self.settings.targets)),
                self.device,
                1,
                None,
                False,
                None,
                onnx_opset=self.settings.onnx_opset,
            )
            self._results[spec.name] = {r.target: r for r in results}
        return self._results[spec.name].get(target)


class ConfirmItem(pytest.Item):
    """One model exported to one target."""

    def __init__(self, *, spec: Any, target: str, run: _Run, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.target = target
        self.run = run

    def runtest(self) -> None:
        from mllint.confirm import merge
        from mllint.confirm.contracts import CONTRACT_CODES

        r = self.run.result(self.spec, self.target)
        if r is None or r.status == "skipped":
            pytest.skip(r.message if r is not None else f"{self.spec.name} is not exported to {self.target}")
        if r.status not in FAILING and not r.details.get("contract"):
            return
        merged = merge(
            self.run.static(),
            [r],
            self.run.settings.root,
            self.run.catalogue,
            keep_static=self.run.settings.keep_static_verdicts,
        )
        hits = [
            f
            for f in merged
            if dict(f.confirmation).get(self.target) == "confirmed"
            or (f.code.startswith("ML1") and not f.targets)
            or (f.code in CONTRACT_CODES.values() and self.target in f.targets)
        ]
        lines = [f"{f.path}:{f.line}:{f.col + 1}: {f.code} {f.name} {f.message}" for f in hits]
        if not lines:
            lines = [f"{self.spec.name} {self.target}: {r.status}: {r.message}"]
        location = (hits[0].path, hits[0].line) if hits else r.location
        raise ConfirmFailure(lines, location)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Optional[str] = None) -> str:
        if isinstance(excinfo.value, ConfirmFailure):
            return "\n".join(excinfo.value.lines)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> Tuple[Any, Optional[int], str]:
        return self.path, None, self.name


class ConfirmFile(pytest.File):
    """The models of one pyproject.toml (items are ``pyproject.toml::mllint::<model>::<target>``)."""

    def __init__(self, *, run: _Run, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run = run

    def collect(self) -> Iterator[pytest.Item]:
        from mllint.confirm import model_targets

        for spec in self.run.settings.models:
            for target in model_targets(spec, self.run.settings.targets):
                yield ConfirmItem.from_parent(
                    self, name=f"mllint::{spec.name}::{target}", spec=spec, target=target, run=self.run
                )


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: List[pytest.Item]) -> None:
    if not config.getoption("mllint_confirm"):
        return
    root = Path(config.getoption("mllint_root") or config.rootpath).resolve()
    from mllint.config import ConfigError

    try:
        run = _Run(root, config.getoption("mllint_device"))
    except ConfigError as exc:
        raise pytest.UsageError(f"mllint: configuration error: {exc}") from None
    if not run.settings.models:
        raise pytest.UsageError(
            f"mllint: --mllint-confirm: no [[tool.mllint.models]] in {run.settings.config_file or root}"
        )
    pyproject = run.settings.config_file or root / "pyproject.toml"
    collector = ConfirmFile.from_parent(session, path=pyproject, run=run)
    items.extend(collector.collect())
