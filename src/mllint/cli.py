"""Command line: ``mllint check | rules | explain | clean``.

Exit codes (documented in the README): 0 no findings at or above ``--fail-on``; 1 findings;
2 usage or configuration error; 3 mllint itself failed (a crash, or a rule's internal error).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, NoReturn, Optional, Sequence

from mllint import __version__
from mllint.reporters import FORMATS
from mllint.targets import target_names

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
    check.add_argument(
        "--target",
        "--targets",
        dest="targets",
        action="append",
        help="export targets you ship to (comma-separated; 'all' for every target; 'auto': those the "
        "project's export calls use, else the modern set; default: configured, else auto): "
        + ", ".join(target_names()),
    )
    check.add_argument("--severity", action="append", metavar="CODE=LEVEL", help="override a rule's severity")
    check.add_argument("--exclude", action="append", help="replace the exclude globs")
    check.add_argument("--extend-exclude", action="append", help="add exclude globs")
    check.add_argument(
        "--force-exclude", action="store_true", help="apply excludes to files named on the command line too"
    )
    check.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="report format: text for people, json, sarif (code scanning), github (annotations)",
    )
    check.add_argument("--output", "-o", type=Path, help="write the report to FILE (atomically) instead of stdout")
    check.add_argument("--quiet", "-q", action="store_true", help="one line per finding, no source or summary")
    check.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text report (auto: on a terminal, unless NO_COLOR is set)",
    )
    check.add_argument(
        "--no-show-source",
        dest="show_source",
        action="store_false",
        help="text report: leave out the source line and caret under each finding",
    )
    check.add_argument("--stdin-filename", help="the path of the file given on stdin (for messages and config)")
    check.add_argument(
        "--report-unused-ignores", action="store_true", help="report suppressions that suppress nothing (ML005)"
    )
    check.add_argument(
        "--fail-on",
        choices=("error", "warning", "info"),
        default="warning",
        help="lowest severity that makes the exit code 1 (default: warning)",
    )
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    check.add_argument("--sarif-category", help="SARIF runAutomationDetails id (for several uploads per commit)")
    check.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: number of cores)")
    check.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    check.add_argument(
        "--memory-limit",
        type=_mebibytes,
        default=None,
        metavar="MIB",
        help="MiB one file's parse may need (estimated first); a file over it is reported (ML009), "
        "not parsed; 0: no limit (default 300; config: memory-limit)",
    )
    check.add_argument("--confirm", action="store_true", help="attempt the real exports of the configured models")
    check.add_argument("--model", action="append", help="ad hoc model factory 'package.module:function' for --confirm")
    check.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu", help="device for --confirm exports")
    check.add_argument("--strict", action="store_true", help="--confirm: torch.export in strict mode")
    check.add_argument(
        "--keep-static-verdicts",
        action="store_true",
        default=None,
        help="--confirm: a finding the real exports disproved on every target it names still fails the run "
        "(default: it is shown as disproved and does not; config: keep-static-verdicts)",
    )
    check.add_argument(
        "--shard",
        metavar="I/N",
        help="--confirm: attempt only shard I of N of the (model, target) pairs (stable hash split); "
        "write --format json and combine the N reports with `mllint merge`",
    )
    check.add_argument("--artifacts", type=Path, help="--confirm: keep exported files in DIR")
    check.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=None,
        help="--confirm: seconds allowed per step (building the model, then each target; default 300); "
        "wins over the models' configured timeout",
    )
    check.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="report only findings not recorded in this baseline file; list its stale entries",
    )
    check.add_argument(
        "--update-baseline",
        action="store_true",
        help="write today's findings to the --baseline FILE (sorted JSON) and report against it",
    )
    check.add_argument(
        "--statistics",
        action="store_true",
        help="print the number of findings per rule and per target instead of the findings",
    )
    check.add_argument(
        "--show-entry-points",
        action="store_true",
        help="list the entry points judged (with their source), the classes excluded (with the reason), "
        "the export calls found and the targets, then exit 0",
    )
    check.add_argument(
        "--add-ignore",
        action="store_true",
        help="insert '# mllint: ignore[CODE]' comments for every current finding, then exit",
    )
    check.add_argument(
        "--fix",
        action="store_true",
        help="apply the safe fixes in place (atomically per file), then report what is left",
    )
    check.add_argument(
        "--diff",
        action="store_true",
        help="print the fixes as a unified diff without writing (exit 1 when something would change)",
    )
    check.add_argument(
        "--unsafe-fixes",
        action="store_true",
        help="with --fix / --diff: also apply the fixes that may change behaviour (see `mllint rules`)",
    )

    rules = sub.add_parser("rules", help="list the rules")
    rules.add_argument(
        "--target",
        action="append",
        help="only rules that affect these targets (comma-separated): " + ", ".join(target_names()),
    )
    rules.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="list format: text, json, or the README's markdown table",
    )

    merge = sub.add_parser("merge", help="combine the JSON reports of `check --confirm --shard I/N` into one")
    merge.add_argument("reports", nargs="+", type=Path, help="shard reports written with --format json")
    merge.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text", help="output format")
    merge.add_argument("--output", "-o", type=Path, help="write the merged report to FILE instead of stdout")
    merge.add_argument("--quiet", "-q", action="store_true", help="one line per finding, no source or summary")
    merge.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour in text output")
    merge.add_argument(
        "--fail-on",
        choices=("error", "warning", "info"),
        default="warning",
        help="lowest severity that makes the exit code 1 (default: warning)",
    )
    merge.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    merge.add_argument("--sarif-category", help="SARIF runAutomationDetails id")

    explain = sub.add_parser("explain", help="show a rule's documentation")
    explain.add_argument("rule", help="rule code or name, e.g. PT101 or tensor-dependent-branch")

    sub.add_parser("server", help="run the language server over stdio, for editors (needs the [server] extra)")

    clean = sub.add_parser("clean", help="remove mllint's cache")
    clean.add_argument("paths", nargs="*", help="files or directories whose projects' caches to remove (default: .)")
    return parser


def _deliver(output: Optional[Path], stream, text: str) -> bool:
    """Write the report to ``--output`` or stdout; False (after saying why) when it cannot be written."""
    if output is None:
        _emit(stream, text)
        return True
    from mllint.output import OutputError, write_report

    try:
        write_report(output, text)
    except OutputError as exc:
        sys.stderr.write(f"mllint: cannot write the report: {exc}\n")
        return False
    return True


def _emit(stream, text: str) -> None:
    """Write a report to stdout; file names that are not UTF-8 go out as their own bytes."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(text)
    else:
        stream.flush()
        buffer.write(text.encode(getattr(stream, "encoding", None) or "utf-8", "surrogateescape"))
        buffer.flush()
    stream.flush()


def _positive_seconds(text: str) -> float:
    """--timeout: a positive, finite number of seconds (argparse turns the error into exit 2)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive, finite number of seconds, got {text!r}")
    return value


def _mebibytes(text: str) -> int:
    """--memory-limit: a whole number of MiB, 0 or more (argparse turns the error into exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of MiB, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or more, got {text!r}")
    return value


def _use_color(choice: str, stream) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


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
        "keep-static-verdicts": getattr(args, "keep_static_verdicts", None),
        "memory-limit": getattr(args, "memory_limit", None),
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
    start = (
        Path(args.stdin_filename).parent
        if (args.stdin_filename and paths == ["-"])
        else Path(next((p for p in paths if p != "-"), "."))
    )
    for p in paths:
        if p != "-" and not os.path.lexists(p):
            sys.stderr.write(f"mllint: {p}: no such file or directory\n")
            return EXIT_USAGE
    if args.update_baseline and args.baseline is None:
        sys.stderr.write("mllint: --update-baseline needs --baseline FILE\n")
        return EXIT_USAGE
    if args.statistics and args.format not in ("text", "json"):
        sys.stderr.write("mllint: --statistics prints text or json (--format text|json)\n")
        return EXIT_USAGE
    try:
        overrides = _overrides(args)
        if args.report_unused_ignores:
            overrides["extend-select"] = (_csv(args.extend_select) or []) + ["ML005"]
        settings = load_settings(start if start.exists() else Path("."), catalogue, args.config, overrides)
    except ConfigError as exc:
        sys.stderr.write(f"mllint: configuration error: {exc}\n")
        return EXIT_USAGE
    if not args.no_cache:
        from mllint.cache import project_cache_problem

        problem = project_cache_problem(settings.root)
        if problem:
            sys.stderr.write(f"mllint: warning: {problem}; using the user cache instead\n")

    def lint():
        return run_check(
            paths,
            settings,
            catalogue,
            stdin_data=stdin_data,
            stdin_filename=args.stdin_filename,
            force_exclude=args.force_exclude,
            report_unused_ignores=args.report_unused_ignores,
            jobs=args.jobs if args.jobs and args.jobs > 0 else default_jobs(),
            cache=not args.no_cache,
        )

    result = lint()
    if args.show_entry_points:
        from mllint.reporters import json_text
        from mllint.reporters.text_report import render_entry_points

        report = result.entry_points
        _emit(sys.stdout, json_text(report) if args.format == "json" else render_entry_points(report))
        return EXIT_OK
    if args.fix or args.diff:
        from mllint.findings import Finding
        from mllint.fixes import load_project
        from mllint.fixes.cli import run_fixes

        again: List[Dict[str, List[Finding]]] = []  # the second run's findings per file, once computed

        def relint(display: str, data: bytes) -> List[Finding]:
            """The file's findings in a second run over the same paths, just before fixing: a file checked alone
            would lose the project's context (export calls elsewhere choose the entry points; callers in other
            files decide PT205), so its findings would differ although it did not change. The second run is a
            cache hit for every file that did not change; a file that changes after it is caught when the fix is
            written (its bytes must still be ``data``)."""
            if not again:
                by_path: Dict[str, List[Finding]] = {}
                for f in lint().findings:
                    by_path.setdefault(f.path, []).append(f)
                again.append(by_path)
            return again[0].get(display, [])

        code, result = run_fixes(args, paths, settings.root, catalogue, result, lint, relint, load_project(settings))
        if code is not None:
            return code
    if args.shard and not args.confirm:
        sys.stderr.write("mllint: --shard splits the exports of --confirm: add --confirm\n")
        return EXIT_USAGE
    if args.confirm:
        code = _confirm(args, settings, catalogue, result)
        if code is not None:
            return code
    code = _adopt(args, paths, settings.root, result, stdin_data)
    if code is not None:
        return code
    if args.format == "sarif":  # results carry their fixes (editors and GitHub show them as suggestions)
        from mllint.fixes import attach_edits, load_project

        stdin_path = {"-"} | ({args.stdin_filename} if args.stdin_filename and stdin_data is not None else set())
        result.findings = attach_edits(
            result.findings, settings.root, catalogue, texts={p: "" for p in stdin_path}, project=load_project(settings)
        )
    stream = sys.stdout
    ctx = ReportContext(
        result=result,
        catalogue=catalogue,
        root=settings.root,
        version=__version__,
        targets=settings.targets,
        color=_use_color(args.color, stream) and args.output is None and args.format == "text",
        quiet=args.quiet,
        show_source=args.show_source,
        sarif_category=args.sarif_category,
        fail_on=args.fail_on,
        config_file=settings.config_file,
    )
    if args.statistics:
        from mllint.statistics import render_json, render_text

        text = (render_json if args.format == "json" else render_text)(result.findings)
    else:
        text = render(args.format, ctx)
    if not _deliver(args.output, stream, text):
        return EXIT_USAGE
    if any(f.code == "ML004" for f in result.findings):
        return EXIT_INTERNAL
    if args.exit_zero:
        return EXIT_OK
    return EXIT_FINDINGS if result.failing(Severity(args.fail_on)) else EXIT_OK


def _adopt(
    args: argparse.Namespace, paths: Sequence[str], root: Path, result, stdin_data: Optional[bytes]
) -> Optional[int]:
    """--add-ignore, --update-baseline and --baseline; an exit code when the run ends here."""
    if args.add_ignore:
        from mllint.add_ignore import add_ignores

        outcome = add_ignores(result.findings, root, paths)
        for f, why in outcome.skipped:
            sys.stderr.write(f"{f.path}:{f.line}:{f.col + 1}: {f.code} not ignored: {why}\n")
        files = len(outcome.added)
        sys.stderr.write(
            f"mllint: added {outcome.total} ignore comment{'s' if outcome.total != 1 else ''} "
            f"in {files} file{'s' if files != 1 else ''}\n"
        )
        return EXIT_FINDINGS if outcome.skipped else EXIT_OK
    if args.baseline is None:
        return None
    from mllint import baseline
    from mllint.discovery import display_path
    from mllint.output import OutputError, write_report
    from mllint.source import decode

    texts = {}  # a buffer on stdin is fingerprinted as given, not as the file on disk
    if stdin_data is not None and args.stdin_filename:
        text = decode(args.stdin_filename, stdin_data).text
        if text is not None:
            texts[display_path(Path(args.stdin_filename), root)] = text
    try:
        if args.update_baseline:
            entries = baseline.entries_for(result.findings, root, texts)
            write_report(args.baseline, baseline.dumps(entries))
            sys.stderr.write(
                f"mllint: wrote {len(entries)} entr{'ies' if len(entries) != 1 else 'y'} to {args.baseline}\n"
            )
            left_out = sum(1 for f in result.findings if baseline.eligible(f)) - len(entries)
            if left_out:
                sys.stderr.write(
                    f"mllint: {left_out} finding{'s' if left_out != 1 else ''} without a line fingerprint "
                    "(stdin without --stdin-filename, or a file that is not UTF-8) stay reported\n"
                )
        else:
            entries = baseline.load(args.baseline)
    except (baseline.BaselineError, OutputError, OSError) as exc:
        sys.stderr.write(f"mllint: {exc}\n")
        return EXIT_USAGE
    checked = [Path(os.path.realpath(p)) for p in paths if p != "-"]  # root is resolved too
    applied = baseline.apply(result.findings, entries, root, checked, texts)
    result.findings = applied.findings
    if applied.stale:
        sys.stderr.write(
            f"mllint: {len(applied.stale)} stale baseline entr{'ies' if len(applied.stale) != 1 else 'y'} "
            f"in {args.baseline} (fixed or changed; --update-baseline drops them):\n"
        )
        for e in applied.stale:
            sys.stderr.write(f"  {e.path}: {e.code} {e.message}\n")
    return None


def _confirm(args: argparse.Namespace, settings, catalogue, result) -> Optional[int]:
    """Run --confirm and merge its results into ``result``; an exit code on a usage error."""
    try:
        from mllint.confirm import confirm_summary, merge, run_confirm
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
        sys.stderr.write(
            "mllint: --confirm needs models: add [[tool.mllint.models]] to pyproject.toml or pass --model\n"
        )
        return EXIT_USAGE
    from mllint.config import ConfigError
    from mllint.confirm import shard as sharding
    from mllint.confirm.contracts import resolve_contracts

    try:  # contracts are read (and checked) only when --confirm will use them
        models = resolve_contracts(models, settings.root, settings.config_file)
    except ConfigError as exc:
        sys.stderr.write(f"mllint: configuration error: {exc}\n")
        return EXIT_USAGE
    if args.timeout is not None:  # the command line wins over each model's configured timeout
        import dataclasses

        models = [dataclasses.replace(m, timeout=args.timeout) for m in models]
    static = list(result.findings)
    all_models, shard = models, None
    if args.shard:
        try:
            shard = sharding.parse_shard(args.shard)
        except sharding.ShardError as exc:
            sys.stderr.write(f"mllint: {exc}\n")
            return EXIT_USAGE
        models = sharding.shard_models(models, settings.targets, *shard)
    try:
        with _confirm_progress(models, settings.targets) as progress:
            results = (
                run_confirm(
                    models,
                    settings.root,
                    settings.targets,
                    args.device,
                    args.jobs or 1,
                    args.artifacts,
                    args.strict,
                    progress,
                    timeout=args.timeout,
                    onnx_opset=settings.onnx_opset,
                )
                if models
                else []
            )
    except ValueError as exc:
        sys.stderr.write(f"mllint: {exc}\n")
        return EXIT_USAGE
    from mllint.confirm import resolve_device

    devices = {m.name: resolve_device(m.device or args.device) for m in models}
    for r in results:  # the device choice is visible in every result
        r.details.setdefault("device", devices.get(r.model, args.device))
    if shard is not None:
        fingerprint = sharding.config_fingerprint(
            settings.fingerprint(),
            settings.targets,
            settings.keep_static_verdicts,
            all_models,
            (args.device, args.strict, args.timeout),
        )
        result.shard = sharding.shard_block(
            shard[0], shard[1], fingerprint, all_models, settings.keep_static_verdicts, static, results
        )
    result.findings = merge(
        result.findings, results, settings.root, catalogue, keep_static=settings.keep_static_verdicts
    )
    result.confirm_summary = confirm_summary(result.findings, results)
    result.confirm_results = [r.to_dict() if hasattr(r, "to_dict") else dict(vars(r)) for r in results]
    return None


class _confirm_progress:
    """A rich progress bar over models x targets on stderr while exports run (only on a terminal)."""

    def __init__(self, models, targets) -> None:
        from mllint.confirm import model_targets

        self.total = sum(len(model_targets(m, targets)) for m in models)
        self.bar: Optional[Any] = None  # rich.progress.Progress, imported only on a terminal
        self.task: Optional[Any] = None

    def __enter__(self):
        if not sys.stderr.isatty() or self.total == 0:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("exporting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=Console(stderr=True),
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task("", total=self.total)
        return self.update

    def update(self, result) -> None:
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

        sys.stdout.write(
            json.dumps(
                [
                    {
                        "code": r.code,
                        "name": r.name,
                        "family": r.family,
                        "framework": r.framework,
                        "summary": r.summary,
                        "default_severity": r.default_severity.value,
                        "fix": r.fix_safety,
                        "targets": {
                            t: {"severity": i.severity.value, "effect": i.effect} for t, i in r.impacts.items()
                        },
                    }
                    for r in rules
                ],
                indent=2,
            )
            + "\n"
        )
        return EXIT_OK
    if args.format == "markdown":
        from mllint.docs import rule_table

        sys.stdout.write(rule_table(rules))
        return EXIT_OK
    width = max((len(r.name) for r in rules), default=10)
    for r in rules:
        targets = ", ".join(f"{t}:{i.effect}" for t, i in r.impacts.items()) or "-"
        sys.stdout.write(f"{r.code}  {r.name:<{width}}  {r.default_severity.value:<7}  {r.summary}\n")
        fix = f"  fix: {r.fix_safety}" if r.fix_safety else ""
        sys.stdout.write(f"{'':7}{'':<{width}}  {'':7}  targets: {targets}{fix}\n")
    return EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    """Combine shard reports: the union of their export results, merged with the static findings once."""
    from mllint.catalogue import load_catalogue
    from mllint.confirm import confirm_summary, merge
    from mllint.confirm.shard import ShardError, read_reports
    from mllint.findings import RunResult
    from mllint.reporters import ReportContext, render
    from mllint.targets import Severity

    catalogue = load_catalogue()
    try:
        merged = read_reports(args.reports)
    except ShardError as exc:
        sys.stderr.write(f"mllint: merge: {exc}\n")
        return EXIT_USAGE
    if merged.doc.get("mllint_version") != __version__:
        sys.stderr.write(
            f"mllint: merge: the reports were written by mllint {merged.doc.get('mllint_version')}, "
            f"this is {__version__}: merge with the version that wrote them\n"
        )
        return EXIT_USAGE
    root = Path(str(merged.doc.get("root", ".")))
    if not root.is_dir():
        root = Path.cwd()
    result = RunResult(
        files_checked=int(merged.doc.get("files_checked") or 0),
        root=str(root),
        entry_points=dict(merged.doc.get("entry_points") or {}),
    )  # every shard judged the same
    result.findings = merge(merged.static, merged.results, root, catalogue, keep_static=merged.keep_static)
    result.confirm_results = [r.to_dict() for r in merged.results]
    result.confirm_summary = confirm_summary(result.findings, merged.results)
    stream = sys.stdout
    ctx = ReportContext(
        result=result,
        catalogue=catalogue,
        root=root,
        version=__version__,
        targets=tuple(merged.doc.get("targets") or ()),
        color=_use_color(args.color, stream) and args.output is None and args.format == "text",
        quiet=args.quiet,
        sarif_category=args.sarif_category,
        fail_on=args.fail_on,
        config_file=root / str(merged.doc["config_file"]) if merged.doc.get("config_file") else None,
    )
    text = render(args.format, ctx)
    if not _deliver(args.output, stream, text):
        return EXIT_USAGE
    if args.exit_zero:
        return EXIT_OK
    return EXIT_FINDINGS if result.failing(Severity(args.fail_on)) else EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from mllint.catalogue import load_catalogue
    from mllint.docs import explain_text

    catalogue = load_catalogue()
    rule = catalogue.get(args.rule)
    if rule is None:
        from mllint.config import _suggest

        hint = _suggest(args.rule, [r.code for r in catalogue] + [r.name for r in catalogue])
        sys.stderr.write(f"mllint: unknown rule '{args.rule}'{hint} (see `mllint rules`)\n")
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


def cmd_server() -> int:
    try:
        from mllint.server import main as serve
    except ImportError as exc:
        sys.stderr.write(f"mllint: the language server needs pygls: pip install 'mllint-export[server]' ({exc})\n")
        return EXIT_USAGE
    return serve()


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
        if args.command == "server":
            return cmd_server()
        if args.command == "merge":
            return cmd_merge(args)
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
