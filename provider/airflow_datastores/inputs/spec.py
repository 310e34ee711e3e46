"""The input-spec language: what a DAG author writes for a task's inputs, parsed and checked.

``{"images": "s3://b/img/*.png", "labels": ["gs://b/l1.csv", "gs://b/l2.csv"]}``, a list of
:class:`Input`, dicts with ``name``/``url``/``optional``/``keep_directories``/``conn_id``, or
``{"version": outputs_of(step), "path": "*.csv"}`` for an earlier step's outputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from airflow_datastores.errors import InvalidSpec, NotFound
from airflow_datastores.redaction import redact
from airflow_datastores.stores.registry import split_url
from airflow_datastores.versions.references import REFERENCE_SCHEME, is_reference, make_reference, parse_reference

KEEP_DIRECTORIES = ("none", "full", "suffix")


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

    A password written into a URL (``https://user:secret@host/file``) opens the store and is shown
    nowhere: ``urls`` holds each URL as every message, log line and record may show it
    (``https://user:***@host/file``); only :meth:`url_to_open` gives it back, to open the store.
    """

    name: str
    urls: tuple[str, ...]
    optional: bool = False
    keep_directories: str = "none"
    conn_id: str | None = None
    follow_symlinks: bool = False
    #: shown URL -> the URL as given, for the URLs that carry a password (kept by ``dataclasses.replace``).
    given_urls: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        shown = tuple(redact(url) if isinstance(url, str) else url for url in self.urls)
        if shown != tuple(self.urls):
            given = {s: u for s, u in zip(shown, self.urls, strict=True) if s != u}
            object.__setattr__(self, "given_urls", {**self.given_urls, **given})
            object.__setattr__(self, "urls", shown)
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

    def url_to_open(self, url: str) -> str:
        """``url`` (one of :attr:`urls`) as it was given, password included: for opening its store only."""
        return self.given_urls.get(url, url)


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
                f"Cannot read input {redact(repr(item))}: give a mapping of input name to URL(s), or items with a "
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
        optional = bool(spec.get("optional", False))
        url = _version_url(name, spec["version"], spec.get("path", ""), optional=optional)
        return Input(
            name=name,
            urls=(url,) if url else (),
            optional=optional,
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
    raise InvalidSpec(f"Input {name!r}: expected a URL, a list of URLs or a mapping, got {redact(repr(spec))}")


def _version_url(name: str, version: object, path: str, *, optional: bool = False) -> str | None:
    """A reference to an upstream step's version: its ``datastore_outputs`` record or a reference; ``None``
    for an optional input whose upstream step wrote nothing (so committed no version)."""
    if isinstance(version, Mapping) and version.get("committed") is False:
        if optional:
            return None
        raise NotFound(f"Input {name!r}: the upstream step {version.get('dag_id')}.{version.get('task_id')} wrote no "
                       "outputs in this run, so it committed no version to stage; mark the input optional, or "
                       "read an earlier version (datastore://<dag>/<task>/latest)")
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


def check_inputs(inputs: Mapping | Sequence | None) -> None:
    """What can be checked of ``inputs`` before the task runs (at DAG parse time): the spec's shape, its
    names and keys, and each URL's syntax. Parts that are only known at run time -- a Jinja template,
    an upstream step's outputs (an ``XComArg``) -- are left to the run.

    :raises InvalidSpec: naming what is wrong.
    """
    for spec in parse_inputs(_known_now(inputs)):
        for url in spec.urls:
            parse_reference(url) if is_reference(url) else split_url(url)


def _known_now(inputs: object) -> object:
    """``inputs`` without the items whose value is only known at run time."""
    if isinstance(inputs, Mapping):
        return {name: spec for name, spec in inputs.items() if _is_plain(spec)}
    if isinstance(inputs, Sequence) and not isinstance(inputs, str):
        return [item for item in inputs if _is_plain(item)]
    return inputs if _is_plain(inputs) else None


def is_template(value: str) -> bool:
    """Whether ``value`` holds Jinja that Airflow renders when the task runs."""
    return "{{" in value or "{%" in value


def _is_plain(value: object) -> bool:
    if isinstance(value, str):
        return not is_template(value)
    if isinstance(value, Input) or value is None or isinstance(value, (bool, int, float)):
        return True
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    if isinstance(value, Sequence):
        return all(_is_plain(v) for v in value)
    return False  # an XComArg, a template object, ...
