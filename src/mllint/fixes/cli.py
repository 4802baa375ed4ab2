"""``mllint check --fix`` / ``--diff`` / ``--unsafe-fixes``: the command-line side of autofix."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple

from mllint.catalogue import Catalogue
from mllint.findings import RunResult
from mllint.fixes import Project
from mllint.fixes.apply import Relint, fix_files

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def run_fixes(
    args,
    paths: Sequence[str],
    root: Path,
    catalogue: Catalogue,
    result: RunResult,
    lint: Callable[[], RunResult],
    relint: Optional[Relint] = None,
    project: Optional[Project] = None,
) -> Tuple[Optional[int], RunResult]:
    """``--diff``: print the diff, exit 1 when there is one (else 0). ``--fix``: write the fixes, then lint again
    (the run goes on to report what is left). Returns (exit code if the run ends here, the result to report)."""
    if args.confirm or args.add_ignore or args.update_baseline:
        sys.stderr.write(
            "mllint: --fix / --diff cannot be combined with --confirm, --add-ignore or --update-baseline\n"
        )
        return EXIT_USAGE, result
    outcome = fix_files(
        result.findings,
        root,
        catalogue,
        unsafe=args.unsafe_fixes,
        write=not args.diff,
        given=paths,
        relint=relint,
        project=project,
    )
    for f, why in outcome.skipped:
        sys.stderr.write(f"{f.path}:{f.line}:{f.col + 1}: {f.code} not fixed: {why}\n")
    hint = ""
    if outcome.unsafe_left and not args.unsafe_fixes:
        hint = f" ({_plural(outcome.unsafe_left, 'more fix')} available with --unsafe-fixes)".replace("fixs", "fixes")
    if args.diff:
        sys.stdout.write("".join(outcome.diffs[d] for d in sorted(outcome.diffs)))
        sys.stdout.flush()
        sys.stderr.write(
            f"mllint: would fix {_plural(outcome.total, 'finding')} in {_plural(len(outcome.diffs), 'file')}{hint}\n"
        )
        return (EXIT_FINDINGS if outcome.diffs else EXIT_OK), result
    sys.stderr.write(
        f"mllint: fixed {_plural(outcome.total, 'finding')} in {_plural(len(outcome.fixed), 'file')}{hint}\n"
    )
    return None, (lint() if outcome.fixed else result)
