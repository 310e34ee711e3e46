"""Resolution: the objects an input's URLs, wildcards and references name, from listings and HEADs only."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_datastores.errors import DataStoreError, InvalidSpec, NotFound
from airflow_datastores.inputs.spec import Input
from airflow_datastores.patterns import has_wildcard, literal_prefix, matches
from airflow_datastores.stores.base import ObjectInfo, Store
from airflow_datastores.stores.local import LocalStore
from airflow_datastores.stores.registry import get_store, locate
from airflow_datastores.stores.retrying import RetryingStore
from airflow_datastores.versions.datums import resolve_datum
from airflow_datastores.versions.lookup import resolve_reference
from airflow_datastores.versions.references import DATUM_SCHEME, is_reference, parse_reference


@dataclass(frozen=True)
class SourceFile:
    """One object to stage: what its store says of it, and where it lands.

    :param input_name: the input it belongs to.
    :param store: the store to read it from.
    :param info: the store's metadata (key, URL, size, identity, the checksums it vouches for).
    :param relpath: where it lands below ``<inputs dir>/<input name>/``.
    :param source: what stays the same across runs for change detection: the URL, or for a file of
        an upstream version (whose URL is new every run) ``datastore://<dag>/<task>/<path>``.
    :param version_id: for a file of a version, that version; ``alias`` the alias that named it.
    """

    input_name: str
    store: Store
    info: ObjectInfo
    relpath: str
    source: str = ""
    version_id: str | None = None
    alias: str | None = None
    tags: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.info.url

    @property
    def key(self) -> str:
        return self.info.key

    @property
    def size(self) -> int:
        return self.info.size

    @property
    def identity(self) -> str:
        return self.info.identity

    @property
    def from_version(self) -> bool:
        """A file of a committed version: immutable, and vouched for by its manifest's sha256."""
        return is_reference(self.source)


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
                "wildcard, or mark the input optional" + "".join(_hint(url) for url in spec.urls[:1])
            )
        files.extend(found)
    _check_collisions(files)
    return files


def _resolve_url(spec: Input, url: str) -> list[SourceFile]:
    """The objects ``url`` names. ``url`` is as :attr:`Input.urls` shows it (a password as ``***``): every
    message uses it, and only the store is opened with the URL as given."""
    if url.startswith(DATUM_SCHEME):  # a Valohai datum: the URL it stands for, from the table or an alias
        parsed = parse_reference(url)
        return _resolve_url(spec, resolve_datum(url, store=get_store(parsed.store, conn_id=spec.conn_id),
                                                input_name=spec.name))
    if is_reference(url):
        selection = resolve_reference(url, conn_id=spec.conn_id)
        return [
            SourceFile(
                input_name=spec.name,
                store=selection.store,
                info=ObjectInfo(key=f.key, url=selection.store.url_for(f.key), size=f.size,
                                identity=f"sha256:{f.sha256}", checksums={"sha256": f.sha256}),
                relpath=_relpath(spec, f.path, selection.prefix, url),
                source=selection.source(f),
                version_id=selection.version.version_id,
                alias=selection.alias,
                tags=tuple(f.tags),
                properties=dict(f.properties),
            )
            for f in selection.files
        ]
    store, key = locate(spec.url_to_open(url), conn_id=spec.conn_id)
    base = ""
    if isinstance(getattr(store, "inner", store), LocalStore):
        # Rooted at the directory the URL names, so a symbolic link cannot lead out of it unnoticed.
        if has_wildcard(key):
            base = literal_prefix(key)
        elif key and os.path.isdir(f"/{key}"):
            base = key.rstrip("/") + "/"
        else:
            base = key[: key.rfind("/") + 1]
        store = RetryingStore(LocalStore(root=f"file:///{base.rstrip('/')}", follow_symlinks=spec.follow_symlinks))
        key = key[len(base):]
    if has_wildcard(key):
        prefix = literal_prefix(key)
        return [
            _source(spec, store, info, base + prefix, url, base=base)
            for info in store.list(prefix)
            if matches(key, info.key) and _is_file(info, spec)
        ]
    # Without a wildcard the URL names one object or, failing that, a directory: what is below ``key/``
    # (never a sibling that merely starts the same, such as ``data-cache/`` beside ``data``).
    if key and not key.endswith("/"):
        try:
            return [_source(spec, store, store.stat(key), base + literal_prefix(key), url, base=base)]
        except NotFound:
            if not store.writable:  # HTTP: no listing, so no directory either
                return _missing(spec, url)
    directory = key.rstrip("/") + "/" if key.rstrip("/") else ""
    found = [_source(spec, store, info, base + directory, url, base=base)
             for info in store.list(directory) if _is_file(info, spec)]
    return found or _missing(spec, url)


def _is_file(info: ObjectInfo, spec: Input) -> bool:
    """Whether a listed object is a file to stage: a directory marker (an empty object whose key ends
    with ``/``, as consoles and other tools make) is not; one that holds bytes cannot be staged."""
    if not info.key.endswith("/"):
        return True
    if info.size:
        raise DataStoreError(
            f"Input {spec.name!r}: {info.url} holds {info.size} bytes under a name that ends with '/', which no "
            "file can have; rename the object, or narrow the URL or wildcard so it does not match it")
    return False


def _missing(spec: Input, url: str) -> list[SourceFile]:
    if spec.optional:
        return []
    raise NotFound(
        f"Input {spec.name!r}: {url} does not exist (no object, nor a directory with files in it); check "
        "the URL, or mark the input optional" + _hint(url)
    )


def _hint(url: str) -> str:
    """What '#' and '?' mean in ``url``, when it holds one."""
    if "#" not in url and "?" not in url:
        return ""
    if url.startswith(("http://", "https://")):
        return (". In an http(s) URL '?' starts the query and '#' a fragment, which is never sent: write them "
                "%3F and %23 when they are part of the file's name")
    return (". In a store URL '#' is part of the key and '?' is a wildcard for one character: write '[?]' for "
            "a '?' in the name itself ('[*]' and '[[]' likewise)")


def _source(spec: Input, store: Store, info: ObjectInfo, prefix: str, url: str, *, base: str = "") -> SourceFile:
    """``base``: the part of the URL's key the store's root already holds (a local directory)."""
    return SourceFile(input_name=spec.name, store=store, info=info,
                      relpath=_relpath(spec, base + info.key, prefix, url))


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
