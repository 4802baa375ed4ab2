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
version, a length and a checksum; a corrupt, truncated or foreign entry is ignored (and rebuilt).
Entries are pickles read with an unpickler that only builds mllint's own data classes, so a cache
folder from an untrusted checkout cannot run code.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import pickle
import shutil
import sys
from dataclasses import dataclass, field, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from mllint import __version__
from mllint.atomic import write_atomic

FORMAT = 3
_MAGIC = b"MLLINTC1"
_HEADER = len(_MAGIC) + 2 + 8 + 16  # magic, format, payload length, blake2b-128 of the payload
PROJECT_DIR = ".mllint_cache"
#: How many analysis keys (configurations) a record keeps results for.
KEEP_ANALYSES = 3


# -- where ----------------------------------------------------------------------------------
def user_cache_home() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) if xdg else Path.home() / ".cache"


def cache_dir_for(root: Path) -> Path:
    """A project ``.mllint_cache/`` when the project has one, else one folder per project in the user cache."""
    root = root.resolve()
    local = root / PROJECT_DIR
    if local.is_dir():
        return local
    tag = hashlib.blake2b(str(root).encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()
    return user_cache_home() / "mllint" / f"{root.name or 'root'}-{tag}"


def clean_cache(paths: Sequence[Path]) -> str:
    """Remove the cache of the projects holding ``paths`` (what ``mllint clean`` prints)."""
    from mllint.config import find_config

    removed: List[str] = []
    seen: Set[Path] = set()
    for p in paths or [Path(".")]:
        start = p if p.is_dir() else p.parent
        _, root = find_config(start)
        for folder in {cache_dir_for(root), root.resolve() / PROJECT_DIR}:
            if folder in seen or not folder.is_dir():
                continue
            seen.add(folder)
            if folder.name == PROJECT_DIR:
                # keep the project folder (it opts the project into a local cache), drop its content
                for child in folder.iterdir():
                    if child.is_dir():
                        shutil.rmtree(child, ignore_errors=True)
                    elif child.name != ".gitignore":
                        child.unlink(missing_ok=True)
            else:
                shutil.rmtree(folder, ignore_errors=True)
            removed.append(str(folder))
    return ", ".join(removed) if removed else "nothing (no cache found)"


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


def dumps(obj: object) -> bytes:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.blake2b(payload, digest_size=16).digest()
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
    if len(payload) != length or hashlib.blake2b(payload, digest_size=16).digest() != digest:
        return None
    try:
        return _SafeUnpickler(io.BytesIO(payload)).load()
    except Exception:  # anything unexpected in an entry means: not usable
        return None


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
        if not isinstance(record, SourceRecord) or record.display != display or record.module != module:
            self.rejected += 1
            return None
        return record

    def save(self, record: SourceRecord) -> None:
        """Write atomically; a failure to write (read-only disk, races) only costs the next run time."""
        path = self._path(record.display, record.module)
        try:
            self._mark_folder()
            write_atomic(path, dumps(record))
            self.writes += 1
        except OSError:
            pass

    def _mark_folder(self) -> None:
        if getattr(self, "_marked", False):
            return
        self._marked = True
        if self.directory.name == PROJECT_DIR:
            ignore = self.directory / ".gitignore"
            if not ignore.exists():
                try:
                    ignore.write_text("# created by mllint\n*\n", encoding="utf-8")
                except OSError:
                    pass
        tag = self.directory / "CACHEDIR.TAG"
        if not tag.exists():
            try:
                tag.write_text("Signature: 8a477f597d28d172789f06886806bc55\n# mllint cache\n", encoding="utf-8")
            except OSError:
                pass
