"""The persistent cache: what mllint learnt about each file, reused while it stays true.

One record per source file (keyed by its display path and module name) holds:

* the file's content digest, its summary and parse diagnostics (valid while the content is the
  same: a warm run needs no parse at all);
* per analysis key (mllint version and code, rule tables, configuration), the output of every
  walk of one of the file's functions under one calling context (``Task``): the follow-up tasks it
  emitted, its findings with positions resolved, and the names of what it read in *other* files
  (project module summaries, and the bodies of functions whose return values it used). A walk
  is replayed only when each of those still has the value it had; editing a base class or a
  helper therefore re-analyses the walks that read it, and nothing else.

Entries are written atomically (temporary file and ``os.replace``) behind a header with a format
version, a length and a keyed checksum; a corrupt, truncated or foreign entry is ignored (and rebuilt).
The checksum's key is a secret of this user on this machine (``<user cache>/mllint/key``), so an entry
that a checkout ships (a committed ``.mllint_cache/``) cannot be forged to hide findings: it simply
misses. Entries are pickles read with an unpickler that only builds mllint's own data classes, and a
record's fields are checked for their types, so a cache folder from an untrusted checkout can neither
run code nor crash a run.

Nothing is written or deleted through a symlink: a symlinked project cache folder is not used (a checkout
can ship ``.mllint_cache -> ../anything``), folders are created component by component refusing links,
and ``mllint clean`` removes only what mllint itself created (marked by its ``CACHEDIR.TAG``).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import pickle
import secrets
import shutil
import sys
from dataclasses import dataclass, field, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from mllint import __version__
from mllint.atomic import write_atomic

FORMAT = 4
_MAGIC = b"MLLINTC1"
_HEADER = len(_MAGIC) + 2 + 8 + 16  # magic, format, payload length, blake2b-128 of the payload
PROJECT_DIR = ".mllint_cache"
#: How many analysis keys (configurations) a record keeps results for.
KEEP_ANALYSES = 3
#: The first line of the ``CACHEDIR.TAG`` mllint writes (the standard signature), and its own comment.
CACHEDIR_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# mllint cache\n"


# -- where ----------------------------------------------------------------------------------
def user_cache_home() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) if xdg else Path.home() / ".cache"


def _tracked_by_git(root: Path, name: str) -> bool:
    """Whether the repository at ``root`` tracks files under ``name/``, read from ``.git/index`` itself
    (git is never run: a checkout's own config could run commands)."""
    index = root / ".git" / "index"
    try:
        if index.is_symlink() or not index.is_file():
            return False
        data = index.read_bytes()
    except OSError:
        return False
    # entries hold full paths (index v2/v3) or paths after a shared prefix (v4): the folder's name followed
    # by a slash is there in both forms
    return name.encode() + b"/" in data or name.lstrip(".").encode() + b"/" in data


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def project_cache_problem(root: Path) -> Optional[str]:
    """Why the project's ``.mllint_cache`` (when there is one) is not used, or None."""
    local = Path(os.path.abspath(root)) / PROJECT_DIR
    if local.is_symlink():
        return f"{local} is a symlink: not used (mllint never writes through a symlink)"
    if _is_real_dir(local) and _tracked_by_git(local.parent, PROJECT_DIR):
        return f"{local} is tracked by git: not used (a committed cache is not this machine's)"
    return None


def cache_dir_for(root: Path) -> Path:
    """A project ``.mllint_cache/`` when the project has one (a real folder, not tracked by git), else one
    folder per project in the user cache."""
    root = root.resolve()
    local = root / PROJECT_DIR
    if _is_real_dir(local) and project_cache_problem(root) is None:
        return local
    tag = hashlib.blake2b(str(root).encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()
    return user_cache_home() / "mllint" / f"{root.name or 'root'}-{tag}"


def _ours(folder: Path) -> bool:
    """A folder mllint created: a real folder with mllint's CACHEDIR.TAG (a regular file)."""
    tag = folder / "CACHEDIR.TAG"
    try:
        return _is_real_dir(folder) and not tag.is_symlink() and tag.read_text(encoding="utf-8") == CACHEDIR_TAG
    except (OSError, UnicodeDecodeError):
        return False


def clean_cache(paths: Sequence[Path]) -> str:
    """Remove the cache of the projects holding ``paths`` (what ``mllint clean`` prints): only folders mllint
    created, and in a project folder only mllint's own entries; never through a symlink."""
    from mllint.config import find_config

    removed: List[str] = []
    seen: Set[Path] = set()
    for p in paths or [Path(".")]:
        start = p if p.is_dir() else p.parent
        _, root = find_config(start)
        for folder in {cache_dir_for(root), Path(os.path.abspath(root)) / PROJECT_DIR}:
            if folder in seen or not _ours(folder):
                continue
            seen.add(folder)
            if folder.name == PROJECT_DIR:
                # keep the project folder (it opts the project into a local cache), drop mllint's entries
                records = folder / "records"
                if _is_real_dir(records):
                    shutil.rmtree(records, ignore_errors=True)  # rmtree unlinks symlinks inside, never follows
            else:
                shutil.rmtree(folder, ignore_errors=True)
            removed.append(str(folder))
    return ", ".join(removed) if removed else "nothing (no cache found)"


def _read_key(path: Path) -> Optional[bytes]:
    try:
        if path.is_symlink():
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return data if len(data) == 32 else None


@functools.lru_cache(maxsize=None)
def _secret() -> bytes:
    """This user's key for entry checksums, created on first use (0600); in memory when it cannot be."""
    folder = user_cache_home() / "mllint"
    path = folder / "key"
    key = _read_key(path)
    if key is not None:
        return key
    try:
        folder.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        return key
    except FileExistsError:  # another process made it first (or a broken one is there: this run only)
        return _read_key(path) or secrets.token_bytes(32)
    except OSError:
        return secrets.token_bytes(32)  # entries of this run only


def safe_mkdirs(base: Path, folder: Path) -> None:
    """Create ``folder`` under ``base`` one component at a time, refusing any symlink on the way."""
    rel = folder.relative_to(base)
    current = base
    if current.is_symlink():
        raise OSError(f"{current} is a symlink")
    for part in rel.parts:
        current = current / part
        if current.is_symlink():
            raise OSError(f"{current} is a symlink")
        if not current.is_dir():
            current.mkdir()


# -- keys -----------------------------------------------------------------------------------
def _hash_files(files: Iterable[Path], base: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(files):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        h.update(path.relative_to(base).as_posix().encode() + b"\0" + data + b"\0")
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def code_fingerprint() -> str:
    """mllint's own code: any edit (a rule, the walker, the summary format) invalidates records."""
    import libcst

    package = Path(__file__).resolve().parent
    body = _hash_files(package.rglob("*.py"), package)
    return f"{__version__}/{body}/py{sys.version_info[0]}.{sys.version_info[1]}/libcst{getattr(libcst, '__version__', '?')}"


@functools.lru_cache(maxsize=None)
def rules_fingerprint() -> str:
    from mllint.catalogue import catalogue_dir

    base = catalogue_dir()
    return _hash_files((p for p in base.rglob("*") if p.is_file()), base)


def summary_key() -> str:
    """What a record's summary and diagnostics depend on besides the file's content."""
    return hashlib.blake2b(f"{FORMAT}/{code_fingerprint()}".encode(), digest_size=16).hexdigest()


def analysis_key(settings_fingerprint: str) -> str:
    """What a walk's findings depend on besides the code they read."""
    text = f"{FORMAT}/{code_fingerprint()}/{rules_fingerprint()}/{settings_fingerprint}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


# -- records --------------------------------------------------------------------------------
@dataclass
class WalkRecord:
    """The output of one walk, and the names of what it read elsewhere (indices into ``deps``)."""

    children: tuple  # Tasks emitted (their depth and entry are re-derived from the parent on replay)
    raws: tuple  # LocatedRaw
    errors: Tuple[Tuple[str, str], ...]
    deps: Tuple[int, ...]


@dataclass
class Analyses:
    """Walk records of one file under one analysis key."""

    deps: List[Tuple[str, str]] = field(default_factory=list)  # (dependency name, value it had)
    walks: Dict[tuple, WalkRecord] = field(default_factory=dict)  # (task key, deep) -> record
    file_check: Optional[WalkRecord] = None

    def dep_index(self, name: str, value: str) -> int:
        pair = (name, value)
        index = self._index().get(pair)
        if index is None:
            index = len(self.deps)
            self.deps.append(pair)
            self._index()[pair] = index
        return index

    def _index(self) -> Dict[Tuple[str, str], int]:
        lookup = self.__dict__.get("_lookup")
        if lookup is None:
            lookup = self.__dict__["_lookup"] = {pair: i for i, pair in enumerate(self.deps)}
        return lookup

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_lookup", None)
        return state


@dataclass
class SourceRecord:
    """Everything cached about one source file."""

    display: str
    module: str
    digest: str
    summary_key: str
    summary_name: str
    is_package: bool
    prefiltered: bool  # the text cannot hold model code: syntax-checked only
    parsed: bool  # a LibCST parse and summary were attempted
    summary: object  # ModuleSummary, or None (syntax error)
    shash: str  # digest of the summary: what other files' walks depend on
    parse_diags: list  # Finding: syntax errors from LibCST, summary errors
    ast_diags: Optional[list]  # Finding: syntax errors from Python's parser (prefiltered files)
    analyses: Dict[str, Analyses] = field(default_factory=dict)  # analysis key -> walks (newest last)


def merge_analyses(into: Analyses, other: Analyses) -> None:
    """Add ``other``'s records to ``into`` (both for the same file content and analysis key)."""
    for key, rec in other.walks.items():
        if key in into.walks:
            continue
        deps = tuple(into.dep_index(*other.deps[i]) for i in rec.deps)
        into.walks[key] = WalkRecord(rec.children, rec.raws, rec.errors, deps)
    if into.file_check is None and other.file_check is not None:
        rec = other.file_check
        into.file_check = WalkRecord(rec.children, rec.raws, rec.errors,
                                     tuple(into.dep_index(*other.deps[i]) for i in rec.deps))


# -- safe (de)serialisation -----------------------------------------------------------------
_ALLOWED_MODULES = (
    "mllint.analysis.", "mllint.findings", "mllint.targets", "mllint.assembly", "mllint.cache",
)
_ALLOWED_BUILTINS = {"frozenset", "set", "complex"}


class _SafeUnpickler(pickle.Unpickler):
    """Builds only mllint data classes and enums (no functions, no other classes)."""

    def find_class(self, module: str, name: str):
        if module == "builtins" and name in _ALLOWED_BUILTINS:
            return getattr(__import__("builtins"), name)
        if module.startswith(_ALLOWED_MODULES) and module in sys.modules:
            obj = getattr(sys.modules[module], name, None)
            if isinstance(obj, type) and (is_dataclass(obj) or issubclass(obj, Enum)):
                return obj
        raise pickle.UnpicklingError(f"cache entry refers to {module}.{name}")


def _digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=16, key=_secret()).digest()


def dumps(obj: object) -> bytes:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    digest = _digest(payload)
    return _MAGIC + FORMAT.to_bytes(2, "little") + len(payload).to_bytes(8, "little") + digest + payload


def loads(data: bytes) -> Optional[object]:
    """The object in a cache entry, or None when the entry is not exactly what ``dumps`` wrote."""
    if len(data) < _HEADER or not data.startswith(_MAGIC):
        return None
    offset = len(_MAGIC)
    if int.from_bytes(data[offset:offset + 2], "little") != FORMAT:
        return None
    length = int.from_bytes(data[offset + 2:offset + 10], "little")
    digest = data[offset + 10:_HEADER]
    payload = data[_HEADER:]
    if len(payload) != length or not secrets.compare_digest(_digest(payload), digest):
        return None
    try:
        return _SafeUnpickler(io.BytesIO(payload)).load()
    except Exception:  # anything unexpected in an entry means: not usable
        return None


def _well_typed(record: object) -> bool:
    """A record whose fields have the types mllint writes (a forged or stale one is a miss, not a crash)."""
    if not isinstance(record, SourceRecord):
        return False
    text = (record.display, record.module, record.digest, record.summary_key, record.summary_name, record.shash)
    flags = (record.is_package, record.prefiltered, record.parsed)
    if not all(isinstance(v, str) for v in text) or not all(isinstance(v, bool) for v in flags):
        return False
    if not isinstance(record.parse_diags, list) or not (record.ast_diags is None or isinstance(record.ast_diags, list)):
        return False
    if not isinstance(record.analyses, dict) or not all(
            isinstance(k, str) and isinstance(v, Analyses) and isinstance(v.walks, dict) and isinstance(v.deps, list)
            for k, v in record.analyses.items()):
        return False
    from mllint.analysis.summary import ModuleSummary
    from mllint.findings import Finding

    return (record.summary is None or isinstance(record.summary, ModuleSummary)) and all(
        isinstance(f, Finding) for f in record.parse_diags + (record.ast_diags or []))


# -- the store ------------------------------------------------------------------------------
class FileStore:
    """Records on disk, one file per source file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.reads = 0
        self.writes = 0
        self.rejected = 0

    def _path(self, display: str, module: str) -> Path:
        name = hashlib.blake2b(f"{display}\0{module}".encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()
        return self.directory / "records" / name[:2] / f"{name}.bin"

    def load(self, display: str, module: str) -> Optional[SourceRecord]:
        path = self._path(display, module)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        self.reads += 1
        record = loads(data)
        if not isinstance(record, SourceRecord) or not _well_typed(record) or record.display != display \
                or record.module != module:
            self.rejected += 1
            return None
        return record

    def save(self, record: SourceRecord) -> None:
        """Write atomically; a failure to write (read-only disk, races, a symlink on the way) only costs
        the next run time."""
        path = self._path(record.display, record.module)
        try:
            self._mark_folder()
            safe_mkdirs(self.directory, path.parent)
            write_atomic(path, dumps(record))
            self.writes += 1
        except OSError:
            pass

    def _mark_folder(self) -> None:
        if getattr(self, "_marked", False):
            return
        self._marked = True
        if self.directory.is_symlink():
            raise OSError(f"{self.directory} is a symlink")
        if self.directory.name != PROJECT_DIR:  # the user's own cache folder
            self.directory.mkdir(parents=True, exist_ok=True)
        marks = [("CACHEDIR.TAG", CACHEDIR_TAG)]
        if self.directory.name == PROJECT_DIR:
            marks.append((".gitignore", "# created by mllint\n*\n"))
        for name, text in marks:
            mark = self.directory / name
            if not os.path.lexists(mark):  # replaced atomically: a symlink there would be replaced, not followed
                try:
                    write_atomic(mark, text.encode("utf-8"))
                except OSError:
                    pass
