"""Agreement benchmark: mllint's static verdicts against real exports of real models nobody here wrote.

    pip install -c constraints-test.txt -e ".[test]" -r benchmarks/agreement/requirements.txt
    python benchmarks/agreement/agreement.py [--refresh] [--jobs 2] [--only hf_bert,monai_unet]

The models are built by ``factories.py`` (tiny configs, random weights, nothing downloaded) from ten pip
packages. Each package's installed sources are copied into one scratch project
(``benchmarks/.agreement/project``), so that the ``--confirm`` runners treat them as the user's code:
every model is exported for real to the five PyTorch targets in isolated child processes
(``mllint.confirm.isolation.run_confirm``), which also record the functions each model's own calls ran (not the code that only built it). Those results are
the ground truth; they are cached as data in ``ground_truth.json`` (keyed by the torch and package versions
and the factory's source), so a later run only re-runs models whose inputs changed.

mllint then checks, statically and with its default entry-point selection, every file a model ran, and
the two are compared:

* **model level**, per target: a cell (model, target) is predicted to fail when a static finding (error or
  warning) that names the target lies in a function the model ran; it really fails when the export raised,
  crashed or computed something else (``failed`` / ``crashed`` / ``mismatch``). Cells that timed out or
  could not be built are left out. Printed: the confusion table, precision, recall and F1;
* **line level**: of the real failures the runners located in package code, those with a finding for the
  target within 3 lines of one of the failure's user frames;
* **finding level**, per target: a finding is *consistent* when some model that runs its line fails on the
  target, *contradicted* when every such model exports fine, *unreached* when no model runs it.

The figures and the versions are written to ``results.json`` next to this file.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORK = REPO / "benchmarks" / ".agreement"
PROJECT = WORK / "project"
GROUND_TRUTH = HERE / "ground_truth.json"
RESULTS = HERE / "results.json"
FACTORY_MODULE = "agreement_factories"

TARGETS = ("torchscript-script", "torchscript-trace", "torch-export", "onnx-dynamo", "onnx-legacy")
FAILS = ("failed", "crashed", "mismatch")
JUDGED = ("ok",) + FAILS
LINE_WINDOW = 3

#: factory name prefix -> (import package, distribution on PyPI)
PACKAGES: Dict[str, Tuple[str, str]] = {
    "hf_": ("transformers", "transformers"),
    "monai_": ("monai", "monai"),
    "xt_": ("x_transformers", "x-transformers"),
    "effnet_": ("efficientnet_pytorch", "efficientnet_pytorch"),
    "tabnet": ("pytorch_tabnet", "pytorch-tabnet"),
    "perceiver": ("perceiver_pytorch", "perceiver-pytorch"),
    "performer_": ("performer_pytorch", "performer-pytorch"),
    "mlp_mixer": ("mlp_mixer_pytorch", "mlp-mixer-pytorch"),
    "conformer_": ("conformer", "conformer"),
    "linformer": ("linformer", "linformer"),
}

Range = Tuple[str, int, int]


def package_of(model: str) -> Tuple[str, str]:
    for prefix, pkg in PACKAGES.items():
        if model.startswith(prefix):
            return pkg
    raise SystemExit(f"factory {model!r} matches no package prefix in PACKAGES")


def factory_sources() -> Dict[str, str]:
    """Factory name -> a hash of its code (a changed factory re-runs only that model).

    The hash is of the syntax tree, not the text: reformatting the file re-runs nothing."""
    tree = ast.parse((HERE / "factories.py").read_text(encoding="utf-8"))
    shared = "".join(ast.dump(n) for n in tree.body if not isinstance(n, ast.FunctionDef) or n.name.startswith("_"))
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            out[node.name] = hashlib.sha256((shared + ast.dump(node)).encode()).hexdigest()[:16]
    return out


def model_classes() -> Dict[str, str]:
    """Factory name -> the class of the model it builds, read from its syntax (``_hf(.., "BertModel")``,
    ``net = UNet(...)``, ``return MLPMixer(...)``, ``EfficientNet.from_name(...)``): the outermost
    capitalised call of the statement that makes the model."""
    tree = ast.parse((HERE / "factories.py").read_text(encoding="utf-8"))
    out: Dict[str, str] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
            continue
        for stmt in node.body:
            value = stmt.value if isinstance(stmt, (ast.Assign, ast.Return)) else None
            if isinstance(value, ast.Tuple) and value.elts:
                value = value.elts[0]
            if isinstance(value, ast.Dict):
                value = next(
                    (v for k, v in zip(value.keys, value.values) if isinstance(k, ast.Constant) and k.value == "model"),
                    None,
                )
            name = _outer_class(value)
            if name:
                out[node.name] = name
                break
    return out


def _outer_class(node: Optional[ast.expr]) -> Optional[str]:
    while isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id == "_hf" and len(node.args) > 1:
            arg = node.args[1]
            return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
        if isinstance(func, ast.Name) and func.id[:1].isupper():
            return func.id
        if isinstance(func, ast.Attribute):
            base = func.value
            if isinstance(base, ast.Name) and base.id[:1].isupper():
                return base.id  # EfficientNet.from_name(...)
            node = base  # Net(...).eval()
            continue
        return None
    return None


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(f"{dist} is not installed: pip install -r {HERE / 'requirements.txt'}") from None


def prepare_project(packages: Iterable[Tuple[str, str]], entry_points: Sequence[str] = ()) -> None:
    """Copy each package's installed sources (located, not imported) into the scratch project; with
    ``entry_points``, its configuration names the exported classes (``entry-points``)."""
    PROJECT.mkdir(parents=True, exist_ok=True)
    config = "[tool.mllint]\n"
    if entry_points:
        config += "entry-points = [" + ", ".join(json.dumps(e) for e in entry_points) + "]\n"
    (PROJECT / "pyproject.toml").write_text(config, encoding="utf-8")
    shutil.copyfile(HERE / "factories.py", PROJECT / f"{FACTORY_MODULE}.py")
    for pkg, dist in sorted(set(packages)):
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"{pkg} is not installed: pip install -r {HERE / 'requirements.txt'}")
        source = Path(list(spec.submodule_search_locations)[0])
        dest = PROJECT / pkg
        stamp = dest / ".agreement-version"
        want = f"{dist}=={version(dist)}"
        if stamp.is_file() and stamp.read_text() == want:
            continue
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
        stamp.write_text(want)


def cell_key(versions: Dict[str, str], source_hash: str) -> str:
    return hashlib.sha256(json.dumps([versions, source_hash], sort_keys=True).encode()).hexdigest()[:16]


def run_ground_truth(models: Sequence[str], jobs: int, timeout: float) -> Dict[str, dict]:
    """Real exports of ``models`` on the PyTorch targets, with the code each ran."""
    from mllint.config import ModelSpec
    from mllint.confirm.isolation import run_confirm

    specs = [ModelSpec(name=m, factory=f"{FACTORY_MODULE}:{m}") for m in models]

    def progress(result: object) -> None:
        r = result  # ExportResult
        where = f" at {r.location[0]}:{r.location[1]}" if r.location else ""  # type: ignore[attr-defined]
        print(f"  {r.model:28} {r.target:20} {r.status:8} {r.seconds:6.1f}s{where}", flush=True)  # type: ignore

    results = run_confirm(specs, PROJECT, TARGETS, "cpu", jobs, None, False, progress, timeout=timeout)
    out: Dict[str, dict] = {}
    for r in results:
        entry = out.setdefault(r.model, {"targets": {}, "reached": []})
        entry["targets"][r.target] = {
            "status": r.status,
            "message": r.message.splitlines()[0][:300] if r.message else "",
            "location": list(r.location) if r.location else None,
            "locations": [list(x) for x in r.locations],
        }
        ran = r.details.get("ran") or ()  # what the model's calls ran, not the build-only code
        if ran and not entry["reached"]:
            entry["reached"] = [list(x) for x in ran if not str(x[0]).startswith(FACTORY_MODULE)]
    return out


def load_ground_truth() -> Dict[str, dict]:
    if GROUND_TRUTH.is_file():
        return json.loads(GROUND_TRUTH.read_text(encoding="utf-8"))["models"]
    return {}


def save_ground_truth(models: Dict[str, dict]) -> None:
    data = {
        "about": "Real export outcomes of benchmarks/agreement/factories.py (written by agreement.py)",
        "models": {k: models[k] for k in sorted(models)},
    }
    lines = ['{"about": ' + json.dumps(data["about"]) + ', "models": {']
    items = list(data["models"].items())
    for i, (name, entry) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f" {json.dumps(name)}: {json.dumps(entry, sort_keys=True, separators=(',', ':'))}{comma}")
    lines.append("}}")
    GROUND_TRUTH.write_text("\n".join(lines) + "\n", encoding="utf-8")  # one model per line: readable diffs


def static_findings(paths: Sequence[str], extra: Sequence[str]) -> Tuple[List[dict], float, dict]:
    """mllint's findings on ``paths`` (relative to the project), every target judged."""
    start = time.perf_counter()
    cmd = [
        sys.executable,
        "-P",
        "-m",
        "mllint",
        "check",
        *paths,
        "--target",
        "all",
        "--format",
        "json",
        "--no-cache",
        *extra,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(PROJECT))
    if proc.returncode not in (0, 1):
        raise SystemExit(f"mllint check failed ({proc.returncode}): {proc.stderr[-3000:]}")
    report = json.loads(proc.stdout)
    return report["findings"], time.perf_counter() - start, report.get("summary", {})


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    located: int = 0
    line_hits: int = 0
    consistent: int = 0
    contradicted: int = 0
    unreached: int = 0
    false_cells: List[str] = field(default_factory=list)
    missed_cells: List[str] = field(default_factory=list)
    hit_cells: List[str] = field(default_factory=list)

    @property
    def precision(self) -> Optional[float]:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> Optional[float]:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> Optional[float]:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)

    @property
    def finding_precision(self) -> Optional[float]:
        judged = self.consistent + self.contradicted
        return self.consistent / judged if judged else None


def _in(ranges: Sequence[Sequence[object]], path: str, line: int) -> bool:
    return any(p == path and int(a) <= line <= int(b) for p, a, b in ranges)  # type: ignore[call-overload]


def claims(findings: Sequence[dict], target: str) -> List[dict]:
    """Findings that claim a hazard on ``target`` (tool diagnostics and info notes are not claims)."""
    return [
        f
        for f in findings
        if target in (f.get("targets") or ())
        and f["severity"] in ("error", "warning")
        and not f["code"].startswith("ML")
        and not f.get("suppressed")
    ]


def score(truth: Dict[str, dict], findings: Sequence[dict]) -> Dict[str, Score]:
    scores: Dict[str, Score] = {}
    for target in TARGETS:
        s = scores[target] = Score()
        mine = claims(findings, target)
        for model in sorted(truth):
            cell = truth[model]["targets"].get(target)
            if not cell or cell["status"] not in JUDGED:
                continue
            reached = truth[model]["reached"]
            hits = [f for f in mine if _in(reached, f["path"], f["line"])]
            fails = cell["status"] in FAILS
            if fails and hits:
                s.tp += 1
                s.hit_cells.append(
                    f"{model}: "
                    + ", ".join(sorted({f"{f['code']} {f['path']}:{f['line']}" for f in hits}))[:300]
                    + f" <- {cell['message'][:80]}"
                )
            elif fails:
                s.fn += 1
                s.missed_cells.append(f"{model}: {cell['status']} {cell['message'][:120]}")
            elif hits:
                s.fp += 1
                s.false_cells.append(
                    f"{model}: " + ", ".join(sorted({f"{f['code']} {f['path']}:{f['line']}" for f in hits}))[:300]
                )
            else:
                s.tn += 1
            if fails and cell["locations"]:
                s.located += 1
                if any(
                    f["path"] == p and abs(f["line"] - int(n)) <= LINE_WINDOW
                    for f in mine
                    for p, n in cell["locations"]
                ):
                    s.line_hits += 1
        for f in mine:
            runners = [
                m
                for m in truth
                if _in(truth[m]["reached"], f["path"], f["line"])
                and (truth[m]["targets"].get(target) or {}).get("status") in JUDGED
            ]
            if not runners:
                s.unreached += 1
            elif any(truth[m]["targets"][target]["status"] in FAILS for m in runners):
                s.consistent += 1
            else:
                s.contradicted += 1
    return scores


def _fmt(x: Optional[float]) -> str:
    return "  -  " if x is None else f"{x:.2f}"


def report(scores: Dict[str, Score], truth: Dict[str, dict], seconds: float, verbose: bool) -> str:
    packages = sorted({package_of(m)[1] for m in truth})
    lines = [
        f"{len(truth)} models from {len(packages)} packages; static check {seconds:.1f} s",
        "",
        f"{'target':20} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4}  {'prec':>5} {'recall':>6} {'F1':>5}"
        f"  {'line hits':>9}  {'findings: consistent/contradicted/unreached':>12}",
    ]
    for target, s in scores.items():
        lines.append(
            f"{target:20} {s.tp:4} {s.fp:4} {s.fn:4} {s.tn:4}  {_fmt(s.precision):>5} {_fmt(s.recall):>6}"
            f" {_fmt(s.f1):>5}  {s.line_hits:4}/{s.located:<4}  {s.consistent}/{s.contradicted}/{s.unreached}"
        )
    if verbose:
        for target, s in scores.items():
            for kind, items in (("predicted", s.hit_cells), ("false alarm", s.false_cells), ("missed", s.missed_cells)):
                for item in items:
                    lines.append(f"  {target} {kind}: {item}")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refresh", action="store_true", help="re-run every real export, ignoring the cache")
    parser.add_argument("--static-only", action="store_true", help="never run exports; use the cached truth")
    parser.add_argument("--only", default="", help="comma-separated factory names")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=240.0)
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="list every predicted failure, false alarm and miss"
    )
    parser.add_argument("--mllint-option", action="append", default=[], help="passed to mllint check")
    parser.add_argument(
        "--configured",
        action="store_true",
        help="the project names its exported classes (entry-points = ['*:BertModel', ...]), as a project with "
        "export calls or an entry-points setting does; without it, mllint's default entry-point selection",
    )
    args = parser.parse_args(argv)

    hashes = factory_sources()
    models = [m for m in hashes if not args.only or m in args.only.split(",")]
    classes = model_classes()
    named = sorted({f"*:{classes[m]}" for m in models if m in classes}) if args.configured else []
    prepare_project((package_of(m) for m in models), named)

    truth = load_ground_truth()
    keys = {
        m: cell_key({"torch": version("torch"), package_of(m)[1]: version(package_of(m)[1])}, hashes[m]) for m in models
    }
    stale = [m for m in models if args.refresh or truth.get(m, {}).get("key") != keys[m]]
    if stale and args.static_only:
        raise SystemExit(f"no cached ground truth for {len(stale)} model(s): {', '.join(stale[:8])} ...")
    if stale:
        print(f"exporting {len(stale)} model(s) for real on {len(TARGETS)} targets ...", flush=True)
        start = time.perf_counter()
        fresh = run_ground_truth(stale, args.jobs, args.timeout)
        for m, entry in fresh.items():
            entry["key"] = keys[m]
            truth[m] = entry
        save_ground_truth(truth)
        print(f"real exports: {time.perf_counter() - start:.0f} s", flush=True)
    judged = {m: truth[m] for m in models if m in truth}
    paths = sorted({p for entry in judged.values() for p, _, _ in entry["reached"]})
    findings, seconds, _ = static_findings(paths, args.mllint_option)
    scores = score(judged, findings)
    print(report(scores, judged, seconds, args.verbose))
    if not args.only and not args.mllint_option:
        results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {}
        results["configured" if args.configured else "default"] = {
            "entry_points": "entry-points naming each model's class" if args.configured else "mllint's default",
            "targets": {
                t: {
                    "tp": s.tp,
                    "fp": s.fp,
                    "fn": s.fn,
                    "tn": s.tn,
                    "precision": s.precision,
                    "recall": s.recall,
                    "f1": s.f1,
                    "line_hits": s.line_hits,
                    "located": s.located,
                    "findings_consistent": s.consistent,
                    "findings_contradicted": s.contradicted,
                    "findings_unreached": s.unreached,
                }
                for t, s in scores.items()
            },
        }
        results.update(
            {
                "date": date.today().isoformat(),
                "versions": {"torch": version("torch"), **{d: version(d) for _, d in PACKAGES.values()}},
                "models": len(judged),
                "files_checked": len(paths),
                "static_seconds": round(seconds, 1),
            }
        )
        results.pop("targets", None)
        RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(main())
