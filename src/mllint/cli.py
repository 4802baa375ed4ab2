"""Command line: ``mllint check | rules | explain | clean``.

Exit codes (documented in the README): 0 no findings at or above ``--fail-on``; 1 findings;
2 usage or configuration error; 3 mllint itself failed (a crash, or a rule's internal error).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Dict, List, NoReturn, Optional, Sequence

from mllint import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"mllint: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _csv(values: Optional[Sequence[str]]) -> Optional[List[str]]:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mllint", description="Find export hazards in PyTorch and TensorFlow/Keras model code.")
    parser.add_argument("--version", action="version", version=f"mllint {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    check = sub.add_parser("check", help="check files or directories for export hazards")
    check.add_argument("paths", nargs="*", help="files or directories (default: .); '-' reads stdin")
    check.add_argument("--config", type=Path, help="pyproject.toml to read [tool.mllint] from")
    check.add_argument("--select", action="append", help="rule codes, names or prefixes to enable (comma-separated)")
    check.add_argument("--ignore", action="append", help="rule codes, names or prefixes to disable")
    check.add_argument("--extend-select", action="append", help="rules to enable on top of the configured ones")
    check.add_argument("--target", "--targets", dest="targets", action="append",
                       help="export targets you ship to (comma-separated; 'all' for every target; default: configured, else all)")
    check.add_argument("--severity", action="append", metavar="CODE=LEVEL", help="override a rule's severity")
    check.add_argument("--exclude", action="append", help="replace the exclude globs")
    check.add_argument("--extend-exclude", action="append", help="add exclude globs")
    check.add_argument("--force-exclude", action="store_true", help="apply excludes to files named on the command line too")
    check.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text")
    check.add_argument("--output", "-o", type=Path, help="write the report to FILE (atomically) instead of stdout")
    check.add_argument("--quiet", "-q", action="store_true", help="one line per finding, no source or summary")
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    check.add_argument("--no-show-source", dest="show_source", action="store_false")
    check.add_argument("--stdin-filename", help="the path of the file given on stdin (for messages and config)")
    check.add_argument("--report-unused-ignores", action="store_true", help="report suppressions that suppress nothing (ML005)")
    check.add_argument("--fail-on", choices=("error", "warning", "info"), default="warning",
                       help="lowest severity that makes the exit code 1 (default: warning)")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    check.add_argument("--sarif-category", help="SARIF runAutomationDetails id (for several uploads per commit)")
    check.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: number of cores)")
    check.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    check.add_argument("--confirm", action="store_true", help="attempt the real exports of the configured models")
    check.add_argument("--model", action="append", help="ad hoc model factory 'package.module:function' for --confirm")
    check.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu", help="device for --confirm exports")
    check.add_argument("--strict", action="store_true", help="--confirm: torch.export in strict mode")
    check.add_argument("--artifacts", type=Path, help="--confirm: keep exported files in DIR")
    check.add_argument("--timeout", type=float, default=None,
                       help="--confirm: seconds allowed per step (building the model, then each target; default 300)")

    rules = sub.add_parser("rules", help="list the rules")
    rules.add_argument("--target", action="append", help="only rules that affect these targets")
    rules.add_argument("--format", choices=("text", "json", "markdown"), default="text")

    explain = sub.add_parser("explain", help="show a rule's documentation")
    explain.add_argument("rule", help="rule code or name, e.g. PT101 or tensor-dependent-branch")

    clean = sub.add_parser("clean", help="remove mllint's cache")
    clean.add_argument("paths", nargs="*")
    return parser


def _use_color(choice: str, stream) -> bool:  # type: ignore[no-untyped-def]
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def write_atomic(path: Path, text: str) -> None:
    """Write a report atomically, so readers never see half of it."""
    from mllint.atomic import write_atomic as write_bytes

    write_bytes(path.resolve(), text.encode("utf-8"), fsync=True)


def _overrides(args: argparse.Namespace) -> Dict[str, object]:
    from mllint.config import ConfigError

    severity = None
    if args.severity:
        severity = {}
        for item in _csv(args.severity) or []:
            if "=" not in item:
                raise ConfigError(f"command line: --severity expects CODE=LEVEL, got '{item}'")
            code, level = item.split("=", 1)
            severity[code.strip()] = level.strip()
    return {
        "select": _csv(args.select),
        "ignore": _csv(args.ignore),
        "extend-select": _csv(args.extend_select),
        "targets": _csv(args.targets),
        "severity": severity,
        "exclude": _csv(args.exclude),
        "extend-exclude": _csv(args.extend_exclude),
    }


def cmd_check(args: argparse.Namespace) -> int:
    from mllint.catalogue import load_catalogue
    from mllint.config import ConfigError, load_settings
    from mllint.engine import default_jobs, run_check
    from mllint.reporters import ReportContext, render
    from mllint.targets import Severity

    catalogue = load_catalogue()
    paths = args.paths or ["."]
    stdin_data = None
    if "-" in paths:
        stdin_data = sys.stdin.buffer.read()
    start = Path(args.stdin_filename).parent if (args.stdin_filename and paths == ["-"]) else Path(
        next((p for p in paths if p != "-"), "."))
    try:
        for p in paths:
            if p != "-" and not os.path.lexists(p):
                raise ConfigError(f"{p}: no such file or directory")
        overrides = _overrides(args)
        if args.report_unused_ignores:
            overrides["extend-select"] = list(overrides.get("extend-select") or []) + ["ML005"]  # type: ignore[arg-type]
        settings = load_settings(start if start.exists() else Path("."), catalogue, args.config, overrides)
    except ConfigError as exc:
        sys.stderr.write(f"mllint: configuration error: {exc}\n")
        return EXIT_USAGE
    result = run_check(paths, settings, catalogue, stdin_data=stdin_data, stdin_filename=args.stdin_filename,
                       force_exclude=args.force_exclude, report_unused_ignores=args.report_unused_ignores,
                       jobs=args.jobs if args.jobs and args.jobs > 0 else default_jobs(), cache=not args.no_cache)
    if args.confirm:
        code = _confirm(args, settings, catalogue, result)
        if code is not None:
            return code
    stream = sys.stdout
    ctx = ReportContext(
        result=result, catalogue=catalogue, root=settings.root, version=__version__, targets=settings.targets,
        color=_use_color(args.color, stream) and args.output is None and args.format == "text",
        quiet=args.quiet, show_source=args.show_source, sarif_category=args.sarif_category, fail_on=args.fail_on,
    )
    text = render(args.format, ctx)
    if args.output is not None:
        write_atomic(args.output, text)
    else:
        stream.write(text)
        stream.flush()
    if any(f.code == "ML004" for f in result.findings):
        return EXIT_INTERNAL
    if args.exit_zero:
        return EXIT_OK
    threshold = Severity(args.fail_on).rank
    return EXIT_FINDINGS if any(f.severity.rank >= threshold for f in result.active) else EXIT_OK


def _confirm(args: argparse.Namespace, settings, catalogue, result) -> Optional[int]:  # type: ignore[no-untyped-def]
    """Run --confirm and merge its results into ``result``; an exit code on a usage error."""
    try:
        from mllint.confirm import merge, run_confirm
    except ImportError as exc:  # pragma: no cover - the package ships with mllint
        sys.stderr.write(f"mllint: --confirm is unavailable: {exc}\n")
        return EXIT_INTERNAL
    from mllint.config import ModelSpec

    # Ad hoc --model factories replace the configured models for this run.
    models = [] if args.model else list(settings.models)
    for factory in args.model or []:
        if ":" not in factory:
            sys.stderr.write(f"mllint: --model expects 'package.module:function', got '{factory}'\n")
            return EXIT_USAGE
        models.append(ModelSpec(name=factory, factory=factory, timeout=args.timeout))
    if not models:
        sys.stderr.write("mllint: --confirm needs models: add [[tool.mllint.models]] to pyproject.toml or pass --model\n")
        return EXIT_USAGE
    try:
        with _confirm_progress(models, settings.targets) as progress:
            results = run_confirm(models, settings.root, settings.targets, args.device, args.jobs or 1,
                                  args.artifacts, args.strict, progress, timeout=args.timeout,
                                  onnx_opset=settings.onnx_opset)
    except ValueError as exc:
        sys.stderr.write(f"mllint: {exc}\n")
        return EXIT_USAGE
    result.findings = merge(result.findings, results, settings.root, catalogue)
    result.confirm_results = [r.to_dict() if hasattr(r, "to_dict") else dict(vars(r)) for r in results]
    return None


class _confirm_progress:
    """A rich progress bar over models x targets on stderr while exports run (only on a terminal)."""

    def __init__(self, models, targets) -> None:  # type: ignore[no-untyped-def]
        from mllint.confirm import model_targets

        self.total = sum(len(model_targets(m, targets)) for m in models)
        self.bar = None
        self.task = None

    def __enter__(self):  # type: ignore[no-untyped-def]
        if not sys.stderr.isatty() or self.total == 0:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("{task.description}"), console=Console(stderr=True), transient=True)
        self.bar.start()
        self.task = self.bar.add_task("", total=self.total)
        return self.update

    def update(self, result) -> None:  # type: ignore[no-untyped-def]
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=f"{result.model} {result.target}: {result.status}")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def cmd_rules(args: argparse.Namespace) -> int:
    from mllint.catalogue import load_catalogue
    from mllint.config import ConfigError, _check_targets

    catalogue = load_catalogue()
    try:
        wanted = _check_targets(_csv(args.target) or [], "--target", "command line") if args.target else ()
    except ConfigError as exc:
        sys.stderr.write(f"mllint: {exc}\n")
        return EXIT_USAGE
    rules = [r for r in catalogue if not wanted or set(wanted) & set(r.targets)]
    if args.format == "json":
        import json

        sys.stdout.write(json.dumps([
            {"code": r.code, "name": r.name, "family": r.family, "framework": r.framework, "summary": r.summary,
             "default_severity": r.default_severity.value,
             "targets": {t: {"severity": i.severity.value, "effect": i.effect} for t, i in r.impacts.items()}}
            for r in rules], indent=2) + "\n")
        return EXIT_OK
    if args.format == "markdown":
        from mllint.docs import rule_table

        sys.stdout.write(rule_table(rules))
        return EXIT_OK
    width = max((len(r.name) for r in rules), default=10)
    for r in rules:
        targets = ", ".join(f"{t}:{i.effect}" for t, i in r.impacts.items()) or "-"
        sys.stdout.write(f"{r.code}  {r.name:<{width}}  {r.default_severity.value:<7}  {r.summary}\n")
        sys.stdout.write(f"{'':7}{'':<{width}}  {'':7}  targets: {targets}\n")
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from mllint.catalogue import load_catalogue
    from mllint.docs import explain_text

    catalogue = load_catalogue()
    rule = catalogue.get(args.rule)
    if rule is None:
        sys.stderr.write(f"mllint: unknown rule '{args.rule}' (see `mllint rules`)\n")
        return EXIT_USAGE
    text = explain_text(rule)
    if _use_color("auto", sys.stdout):
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(text))
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_clean(args: argparse.Namespace) -> int:
    try:
        from mllint.cache import clean_cache
    except ImportError:
        sys.stdout.write("nothing to clean\n")
        return EXIT_OK
    removed = clean_cache([Path(p) for p in (args.paths or ["."])])
    sys.stdout.write(f"removed {removed}\n")
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "check":
            return cmd_check(args)
        if args.command == "rules":
            return cmd_rules(args)
        if args.command == "explain":
            return cmd_explain(args)
        if args.command == "clean":
            return cmd_clean(args)
    except KeyboardInterrupt:
        sys.stderr.write("mllint: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception:  # a crash of mllint itself: distinct exit code, with the traceback
        import traceback

        sys.stderr.write("mllint: internal error (please report this bug):\n")
        traceback.print_exc()
        return EXIT_INTERNAL
    return EXIT_USAGE
