"""Inputs: resolve URLs and wildcards, download concurrently, hash in the same pass, verify, cache.

``stage_inputs`` is the whole job: every file of every named input lands in
``<inputs_dir>/<input name>/<file name>`` and yields one :class:`InputRecord` with its md5, sha1 and
sha256. Bytes are written to a temporary name and renamed into place only after they were checked
against what the source vouches for, so a corrupt download never sits in the inputs directory.
"""

from __future__ import annotations

import logging
import os
import posixpath
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace

from airflow_datastores.cache import InputCache, place_file
from airflow_datastores.errors import IntegrityError, InvalidSpec, NotFound, ObjectChanged
from airflow_datastores.hashing import Hasher
from airflow_datastores.patterns import has_wildcard, literal_prefix, matches
from airflow_datastores.retry import RetryPolicy
from airflow_datastores.stores.base import ObjectInfo, Store, Vouched
from airflow_datastores.stores.local import LocalStore
from airflow_datastores.stores.registry import locate
from airflow_datastores.stores.retrying import RetryingStore
from airflow_datastores.units import human_duration, human_rate, human_size

log = logging.getLogger(__name__)

KEEP_DIRECTORIES = ("none", "full", "suffix")
REFERENCE_SCHEME = "datastore://"


@dataclass(frozen=True)
class Input:
    """One named input of a task.

    :param name: the input's name; its files land in ``<inputs dir>/<name>/``.
    :param urls: one or more URLs (any store; ``*``, ``**`` and ``?`` allowed in the key part) or
        version references (``datastore://...``).
    :param optional: an input that matches nothing is skipped instead of failing the task.
    :param keep_directories: ``none`` (file name only), ``full`` (the whole key), or ``suffix`` (the
        part of the key below the pattern's literal prefix).
    :param conn_id: Airflow connection for these URLs; default: the named store's or the backend's.
    :param follow_symlinks: in a local directory, follow symbolic links that lead outside it (by
        default such a link is refused; one that stays inside is staged as what it points to).
    """

    name: str
    urls: tuple[str, ...]
    optional: bool = False
    keep_directories: str = "none"
    conn_id: str | None = None
    follow_symlinks: bool = False

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name in (".", "..") or self.name.startswith("."):
            raise InvalidSpec(
                f"Input name {self.name!r} is not usable as a directory name: use letters, digits, "
                "'-' or '_'"
            )
        if not self.urls and not self.optional:
            raise InvalidSpec(f"Input {self.name!r} has no URL; give at least one or mark it optional")
        if self.keep_directories not in KEEP_DIRECTORIES:
            raise InvalidSpec(
                f"Input {self.name!r}: keep_directories={self.keep_directories!r}; use one of "
                + ", ".join(KEEP_DIRECTORIES)
            )


def parse_inputs(inputs: Mapping | Sequence | None) -> list[Input]:
    """Accept what a DAG author writes and return :class:`Input` objects.

    ``{"images": "s3://b/img/*.png", "labels": ["gs://b/l1.csv", "gs://b/l2.csv"]}``, a list of
    :class:`Input`, or a list of dicts with ``name``, ``url``/``urls``/``default``, ``optional``,
    ``keep_directories`` (or ``keep-directories``) and ``conn_id``.
    """
    if not inputs:
        return []
    if isinstance(inputs, Mapping):
        return [_input(name, spec) for name, spec in inputs.items()]
    result = []
    for item in inputs:
        if isinstance(item, Input):
            result.append(item)
        elif isinstance(item, Mapping) and "name" in item:
            result.append(_input(item["name"], {k: v for k, v in item.items() if k != "name"}))
        else:
            raise InvalidSpec(
                f"Cannot read input {item!r}: give a mapping of input name to URL(s), or items with a "
                "'name' and a 'url'"
            )
    names = [i.name for i in result]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidSpec(f"Input names must be unique; repeated: {', '.join(duplicates)}")
    return result


def _input(name: str, spec: object) -> Input:
    if isinstance(spec, Input):
        return spec
    if isinstance(spec, str):
        return Input(name=name, urls=(spec,))
    if isinstance(spec, Sequence):
        return Input(name=name, urls=tuple(_url(name, u) for u in spec))
    if isinstance(spec, Mapping) and "version" in spec:
        return Input(
            name=name,
            urls=(_version_url(name, spec["version"], spec.get("path", "")),),
            keep_directories=spec.get("keep_directories", spec.get("keep-directories", "suffix")),
        )
    if isinstance(spec, Mapping):
        allowed = {"url", "urls", "default", "optional", "keep_directories", "keep-directories", "conn_id",
                   "follow_symlinks", "follow-symlinks"}
        unknown = set(spec) - allowed
        if unknown:
            raise InvalidSpec(
                f"Input {name!r}: unknown keys {sorted(unknown)}; allowed are {sorted(allowed)}"
            )
        urls = spec.get("urls", spec.get("url", spec.get("default", ())))
        urls = (urls,) if isinstance(urls, str) else tuple(urls or ())
        return Input(
            name=name,
            urls=tuple(_url(name, u) for u in urls),
            optional=bool(spec.get("optional", False)),
            keep_directories=spec.get("keep_directories", spec.get("keep-directories", "none")),
            conn_id=spec.get("conn_id"),
            follow_symlinks=bool(spec.get("follow_symlinks", spec.get("follow-symlinks", False))),
        )
    raise InvalidSpec(f"Input {name!r}: expected a URL, a list of URLs or a mapping, got {spec!r}")


def _version_url(name: str, version: object, path: str) -> str:
    """A reference to an upstream step's version: its ``datastore_outputs`` record or a reference."""
    from airflow_datastores.versioning import make_reference

    if isinstance(version, Mapping) and {"dag_id", "task_id", "version_id"} <= set(version):
        return make_reference(dag_id=version["dag_id"], task_id=version["task_id"],
                              version=version["version_id"], path=path, store=version.get("store"))
    if isinstance(version, str) and version.startswith(REFERENCE_SCHEME):
        return version.split("?")[0].rstrip("/") + (f"/{path}" if path else "") + (
            "?" + version.split("?", 1)[1] if "?" in version else "")
    raise InvalidSpec(
        f"Input {name!r}: {version!r} is not an upstream step's outputs; pass outputs_of(<task>) or a "
        "datastore:// reference"
    )


def _url(name: str, url: object) -> str:
    if not isinstance(url, str):
        raise InvalidSpec(f"Input {name!r}: {url!r} is not a URL string")
    return url


@dataclass
class InputRecord:
    """What one staged file was: the JSON record pushed to XCom as ``datastore_inputs``.

    ``changed`` is ``None`` on first use, then whether the sha256 differs from the previous run's
    record of the same URL (see :mod:`airflow_datastores.changes`). ``verified`` says what the bytes
    were checked against when they were downloaded: ``"s3:crc64nvme"``, ``"gcs:md5"``,
    ``"swift:segments"``, ``"manifest:sha256"``, or ``"size"`` when the store vouches for nothing more.
    """

    name: str
    url: str
    path: str
    size: int
    md5: str
    sha1: str
    sha256: str
    identity: str
    source: str = ""
    verified: str = "size"
    cached: bool = False
    changed: bool | None = None
    previous_sha256: str | None = None
    previous_run_id: str | None = None
    run_id: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> InputRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class SourceFile:
    """One object to stage, resolved from an input's URLs without reading its bytes."""

    input_name: str
    url: str
    store: Store
    key: str
    size: int
    identity: str
    relpath: str
    expected: Mapping[str, str] = field(default_factory=dict)
    #: what stays the same across runs for change detection: the URL, or for a file of an upstream
    #: version (whose URL is new every run) ``datastore://<dag>/<task>/<path>``.
    source: str = ""


@dataclass
class StagingResult:
    """What :func:`stage_inputs` did."""

    inputs_dir: str
    records: list[InputRecord]
    bytes_downloaded: int = 0
    files_downloaded: int = 0
    files_cached: int = 0
    seconds: float = 0.0

    def paths(self, name: str) -> list[str]:
        """Local paths of the files of input ``name``."""
        return [r.path for r in self.records if r.name == name]


# Resolution


def resolve_inputs(inputs: Iterable[Input]) -> list[SourceFile]:
    """Every object the inputs name, with size and identity, from listings and HEADs only."""
    files: list[SourceFile] = []
    for spec in inputs:
        found: list[SourceFile] = []
        for url in spec.urls:
            found.extend(_resolve_url(spec, url))
        if not found and not spec.optional:
            raise NotFound(
                f"Input {spec.name!r}: nothing matches {', '.join(spec.urls)}; check the URL or "
                "wildcard, or mark the input optional"
            )
        files.extend(found)
    _check_collisions(files)
    return files


def _resolve_url(spec: Input, url: str) -> list[SourceFile]:
    if url.startswith(REFERENCE_SCHEME):
        from airflow_datastores.versioning import resolve_reference

        return [
            SourceFile(
                input_name=spec.name,
                url=f.url,
                store=f.store,
                key=f.key,
                size=f.size,
                identity=f.identity,
                relpath=_relpath(spec, f.path, f.pattern_prefix, url),
                expected={"sha256": f.sha256},
                source=f.source,
            )
            for f in resolve_reference(url, conn_id=spec.conn_id)
        ]
    store, key = locate(url, conn_id=spec.conn_id)
    base = ""
    if isinstance(getattr(store, "inner", store), LocalStore):
        # Rooted at the directory the URL names, so a symbolic link cannot lead out of it unnoticed.
        base = literal_prefix(key) if has_wildcard(key) else key[: key.rfind("/") + 1]
        store = RetryingStore(LocalStore(root=f"file:///{base.rstrip('/')}", follow_symlinks=spec.follow_symlinks))
        key = key[len(base):]
    if not has_wildcard(key):
        try:
            info = store.stat(key)
        except NotFound:
            if spec.optional:
                return []
            raise NotFound(
                f"Input {spec.name!r}: {url} does not exist; check the URL, or mark the input optional"
            ) from None
        return [_source(spec, store, info, base + literal_prefix(key), url, base=base)]
    prefix = literal_prefix(key)
    return [
        _source(spec, store, info, base + prefix, url, base=base)
        for info in store.list(prefix)
        if not info.key.endswith("/") and matches(key, info.key)
    ]


def _source(spec: Input, store: Store, info, prefix: str, url: str, *, base: str = "") -> SourceFile:
    """``base``: the part of the URL's key the store's root already holds (a local directory)."""
    return SourceFile(
        input_name=spec.name,
        url=info.url,
        store=store,
        key=info.key,
        size=info.size,
        identity=info.identity,
        relpath=_relpath(spec, base + info.key, prefix, url),
        expected=dict(info.checksums),
    )


def _relpath(spec: Input, key: str, prefix: str, url: str) -> str:
    if spec.keep_directories == "full":
        rel = key
    elif spec.keep_directories == "suffix":
        rel = key[len(prefix):] if key.startswith(prefix) else posixpath.basename(key)
    else:
        rel = posixpath.basename(key)
    rel = posixpath.normpath(rel)
    if rel.startswith(("/", "../")) or rel in ("", ".", "..") or "/../" in f"/{rel}/":
        raise InvalidSpec(
            f"Input {spec.name!r}: the object {key!r} (from {url}) would land outside the inputs "
            "directory; such keys are refused"
        )
    return rel


def _check_collisions(files: Sequence[SourceFile]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for f in files:
        target = (f.input_name, f.relpath)
        if target in seen and seen[target] != f.url:
            raise InvalidSpec(
                f"Input {f.input_name!r}: {seen[target]} and {f.url} would both land at "
                f"{f.input_name}/{f.relpath}; use keep_directories='full' or 'suffix', or separate inputs"
            )
        seen[target] = f.url


# Transfer


class _Progress:
    """Logs the staging's progress at a steady interval while it runs (not per chunk)."""

    def __init__(self, *, total: int, files: int, interval: float, logger: logging.Logger) -> None:
        self.total = total
        self.files = files
        self.done_bytes = 0
        self.done_files = 0
        self.interval = interval
        self.log = logger
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="staging-progress", daemon=True)

    def __enter__(self) -> _Progress:
        if self.interval > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()

    def add(self, num_bytes: int) -> None:
        with self._lock:
            self.done_bytes += num_bytes

    def file_done(self) -> None:
        with self._lock:
            self.done_files += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            elapsed = time.monotonic() - self._started
            with self._lock:
                done, files = self.done_bytes, self.done_files
            rate = done / elapsed if elapsed else 0.0
            left = f"about {human_duration((self.total - done) / rate)} left" if rate else "starting"
            percent = 100.0 * done / self.total if self.total else 100.0
            self.log.info(
                "Staging inputs: %s of %s (%.0f%%), %d of %d files, %s, %s",
                human_size(done), human_size(self.total), percent, files, self.files, human_rate(rate), left,
            )


def stage_inputs(
    inputs: Mapping | Sequence | None,
    *,
    inputs_dir: str,
    cache: InputCache | None = None,
    max_concurrency: int = 8,
    policy: RetryPolicy | None = None,
    progress_interval: float = 10.0,
    logger: logging.Logger | None = None,
) -> StagingResult:
    """Stage every file of ``inputs`` into ``inputs_dir`` and return one record per file.

    :param inputs: what :func:`parse_inputs` accepts.
    :param inputs_dir: local directory; each input gets a sub-directory named after it.
    :param cache: worker-local cache; an object whose identity and size match an entry is linked from
        it without a GET or a re-hash.
    :param max_concurrency: how many files transfer at once.
    :param policy: how transient failures (reset, timeout, 5xx, throttling) are retried; a read
        resumes from the last byte received, pinned to the object first seen. Default: the
        ``[datastores]`` retry options.
    :param progress_interval: seconds between progress lines while staging runs; 0 disables them.
    :param logger: where the per-file lines go (the task's logger).
    """
    files = resolve_inputs(parse_inputs(inputs))
    return stage_files(
        files,
        inputs_dir=inputs_dir,
        cache=cache,
        max_concurrency=max_concurrency,
        policy=policy,
        progress_interval=progress_interval,
        logger=logger,
    )


def stage_files(
    files: Sequence[SourceFile],
    *,
    inputs_dir: str,
    cache: InputCache | None = None,
    max_concurrency: int = 8,
    policy: RetryPolicy | None = None,
    progress_interval: float = 10.0,
    logger: logging.Logger | None = None,
) -> StagingResult:
    """Stage already resolved files (see :func:`resolve_inputs`); the records keep their order."""
    logger = logger or log
    started = time.monotonic()
    inputs_dir = os.path.abspath(inputs_dir)
    os.makedirs(inputs_dir, exist_ok=True)
    result = StagingResult(inputs_dir=inputs_dir, records=[])
    stats_lock = threading.Lock()

    def stage_one(source: SourceFile) -> InputRecord:
        target = os.path.join(inputs_dir, source.input_name, *source.relpath.split("/"))
        record = _from_cache(source, target, cache) if cache else None
        if record is None:
            source, digests = _download_once_more_if_replaced(source, target, policy=policy, progress=progress,
                                                              logger=logger)
            record = _record(source, target, digests, cached=False)
            if cache:
                cache.put(url=source.url, identity=source.identity, size=source.size, path=target,
                          digests=digests)
        with stats_lock:
            if record.cached:
                result.files_cached += 1
            else:
                result.files_downloaded += 1
                result.bytes_downloaded += record.size
        # One record of four lines: they stay together, and logging costs a quarter as much.
        if record.cached:
            how = ""
        elif record.verified == "size":
            how = " (only its size could be verified: the store keeps no checksum of it)"
        else:
            how = f", verified against {record.verified}"
        logger.info(
            "%s: %s, %s%s\n%s: md5 sum: %s\n%s: sha1 sum: %s\n%s: sha256 sum: %s",
            target, "cached" if record.cached else "downloaded", human_size(record.size), how,
            target, record.md5, target, record.sha1, target, record.sha256,
        )
        progress.file_done()
        return record

    total = sum(f.size for f in files)
    with _Progress(total=total, files=len(files), interval=progress_interval, logger=logger) as progress:
        if len(files) <= 1 or max_concurrency <= 1:
            result.records = [stage_one(f) for f in files]
        else:
            with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="stage") as pool:
                result.records = list(pool.map(stage_one, files))
    if cache:
        cache.evict()
    result.seconds = time.monotonic() - started
    return result


def _from_cache(source: SourceFile, target: str, cache: InputCache) -> InputRecord | None:
    entry = cache.get(url=source.url, identity=source.identity, size=source.size)
    if entry is None:
        return None
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temp = _temp_name(target)
    try:
        place_file(entry.path, temp)
        os.replace(temp, target)
    except FileNotFoundError:  # evicted between lookup and link
        return None
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)
    return _record(source, target, entry.digests, cached=True)


def _download_once_more_if_replaced(source: SourceFile, target: str, *, policy: RetryPolicy | None,
                                    progress: _Progress, logger: logging.Logger) -> tuple[SourceFile, dict]:
    """Download ``source``; if it was replaced meanwhile, start over once on the new object."""
    try:
        return source, _download(source, target, policy=policy, progress=progress, logger=logger)
    except ObjectChanged:
        info = source.store.stat(source.key)
        logger.warning("%s was replaced while it was staged (%s, now %s); starting over on the new object",
                       source.url, source.identity, info.identity)
        changed = replace(source, size=info.size, identity=info.identity, expected=dict(info.checksums))
        try:
            return changed, _download(changed, target, policy=policy, progress=progress, logger=logger)
        except ObjectChanged:
            raise ObjectChanged(f"{source.url} was replaced twice while it was staged; nothing was kept. Run "
                                "the task again once the object stays put") from None


def _vouched(source: SourceFile) -> Vouched:
    if source.source.startswith(REFERENCE_SCHEME):  # a file of a version: its manifest's sha256
        return Vouched(source="manifest:sha256", checksums=dict(source.expected))
    return source.store.vouched(_info(source))


def _verify_exact_parts(source: SourceFile, path: str, digests: dict[str, str]) -> str:
    """Check ``path`` again with each part's size asked for: the inferred layout was not the real one.
    A second read of the local file, on this rare path only."""
    exact = source.store.vouched(_info(source), exact=True)
    hasher = Hasher(expected_size=source.size, vouched=exact)
    with open(path, "rb") as handle:
        while chunk := handle.read(8 * 1024 * 1024):
            hasher.update(chunk)
    verified = hasher.verify(source.url)
    if hasher.hexdigests()["sha256"] != digests["sha256"]:  # pragma: no cover - the file is ours
        raise IntegrityError(f"{source.url}: the staged file changed while it was checked; retry")
    return verified


def _info(source: SourceFile) -> ObjectInfo:
    return ObjectInfo(key=source.key, url=source.url, size=source.size, identity=source.identity,
                      checksums=dict(source.expected))


def _download(source: SourceFile, target: str, *, policy: RetryPolicy | None, progress: _Progress,
              logger: logging.Logger) -> dict[str, str]:
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    temp = _temp_name(target)
    vouched = _vouched(source)
    hasher = Hasher(expected_size=source.size, vouched=vouched)
    # The task's logger shows the retries; the read resumes at the last byte, pinned to the identity.
    store = RetryingStore(getattr(source.store, "inner", source.store), policy=policy, logger=logger)
    received = 0
    try:
        with open(temp, "wb") as out:
            # A file of a version is immutable and checked against its manifest's sha256; others are
            # pinned to the identity their listing or HEAD gave.
            pin = None if source.source.startswith(REFERENCE_SCHEME) else (source.identity or None)
            for chunk in store.read(source.key, identity=pin):
                out.write(chunk)
                hasher.update(chunk)
                received += len(chunk)
                progress.add(len(chunk))
        if received != source.size:
            hasher.close()
            raise IntegrityError(
                f"{source.url}: received {received} bytes but the store says the object has "
                f"{source.size}; it may have been replaced during the download. Nothing was kept; retry"
            )
        try:
            verified = hasher.verify(source.url)
        except IntegrityError:
            if not (vouched.parts and vouched.parts.assumed):
                raise
            verified = _verify_exact_parts(source, temp, hasher.hexdigests())
        digests = hasher.hexdigests()
        digests["verified"] = verified
        os.replace(temp, target)
        return digests
    finally:
        hasher.close()
        if os.path.lexists(temp):
            os.unlink(temp)


def _record(source: SourceFile, target: str, digests: Mapping[str, str], *, cached: bool) -> InputRecord:
    return InputRecord(
        name=source.input_name,
        url=source.url,
        path=target,
        size=source.size,
        md5=digests["md5"],
        sha1=digests["sha1"],
        sha256=digests["sha256"],
        identity=source.identity,
        source=source.source or source.url,
        verified=digests.get("verified", "size"),
        cached=cached,
    )


def _temp_name(target: str) -> str:
    directory, name = os.path.split(target)
    return os.path.join(directory, f".{name}.part-{uuid.uuid4().hex[:12]}")
