"""What a DAG author writes for a mount: :class:`Mount`, and :func:`parse_mounts` for every form of it.

``Mount("10.0.0.2:/mystore", "/mnt/store", readonly=True)`` or, from a YAML pipeline,
``{"source": "10.0.0.2:/mystore", "destination": "/mnt/store", "readonly": true}`` or the short form
``"10.0.0.2:/mystore:/mnt/store:ro"``. Everything here is plain data: nothing is mounted, nothing
touches the network. A spec's source and destination are checked in :mod:`.paths`, its options in
:mod:`.options`; checks that depend on the task (its inputs and outputs directories, other mounts,
symlinks on the worker) live in :mod:`.validation`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_datastores.errors import MountError
from airflow_datastores.mounts.options import parse_options
from airflow_datastores.mounts.paths import (
    normalize_bind_source,
    normalize_destination,
    normalize_nfs_source,
    split_nfs_source,
)

MOUNT_TYPES = ("nfs", "bind")
DRIVERS = ("auto", "kernel", "userspace")
SPEC_KEYS = ("source", "destination", "type", "readonly", "options", "driver", "strict_options")
NFS_DEFAULT_PORT = 2049


@dataclass(frozen=True)
class Mount:
    """A directory the task sees while it runs: an NFS share or a directory of the worker.

    :param source: ``server:/path`` for NFS (``fs-1234aa62.efs.eu-west-1.amazonaws.com:/``,
        ``10.0.0.2:/mystore``, ``[fd00::2]:/data``), or an absolute directory of the worker for
        ``bind``.
    :param destination: absolute path where the task sees it.
    :param type: ``nfs`` or ``bind``; default: ``bind`` for an absolute path, ``nfs`` otherwise.
    :param readonly: mount read-only; writes fail with "Read-only file system".
    :param options: mount options as a dict (``{"vers": "4.1", "hard": True}``), a string
        (``"vers=4.1,hard"``) or a list of ``name[=value]``. NFS takes the nfs(5) options listed in
        :data:`.options.OPTIONS_BY_TYPE` ``["nfs"]``; both types take ``nosuid``, ``nodev``,
        ``noexec`` and the atime flags.
    :param driver: for NFS, ``auto`` (the kernel's NFS client where there is one, else user space),
        ``kernel`` or ``userspace`` (FUSE over nfs-rs). Bind mounts only take ``auto``.
    :param strict_options: refuse an option we do not know (default). ``False`` keeps it as written for
        the kernel's mount(8), as a YAML pipeline's mounts do (Valohai takes any option); the userspace
        NFS driver refuses it when the step runs.
    """

    source: str
    destination: str
    type: str | None = None
    readonly: bool = False
    options: Any = field(default=(), hash=False)
    driver: str = "auto"
    strict_options: bool = True
    #: ``(name, value)`` pairs in the order given; ``value`` is None for a flag. After construction,
    #: ``options`` is the same as a dict, flags mapping to True.
    option_items: tuple[tuple[str, str | None], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        mount_type = self.type if self.type is not None else _infer_type(self.source)
        if mount_type not in MOUNT_TYPES:
            raise MountError(f"type: {mount_type!r} is not a mount type; use one of {', '.join(MOUNT_TYPES)}")
        if not isinstance(self.readonly, bool):
            raise MountError(f"readonly: {self.readonly!r} is not true or false")
        if self.driver not in DRIVERS:
            raise MountError(f"driver: {self.driver!r} is not a driver; use one of {', '.join(DRIVERS)}")
        if mount_type == "bind" and self.driver != "auto":
            raise MountError(f"driver: {self.driver!r} applies to NFS mounts only; a bind mount takes none")
        normalize_source = normalize_nfs_source if mount_type == "nfs" else normalize_bind_source
        source = normalize_source(self.source)
        destination = normalize_destination(self.destination)
        items = parse_options(self.options, mount_type, strict=self.strict_options)
        object.__setattr__(self, "type", mount_type)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "destination", destination)
        object.__setattr__(self, "options", {name: True if value is None else value for name, value in items})
        object.__setattr__(self, "option_items", items)

    @property
    def server(self) -> str:
        """The NFS server's host name or address (IPv6 without brackets)."""
        return split_nfs_source(self.source)[0]

    @property
    def export(self) -> str:
        """The path on the NFS server, always absolute."""
        return split_nfs_source(self.source)[1]

    @property
    def port(self) -> int:
        """The NFS server's TCP port: the ``port`` option, else 2049."""
        value = self.options.get("port")
        return int(value) if value not in (None, "0") else NFS_DEFAULT_PORT

    @property
    def nfs_version(self) -> str | None:
        """``vers``/``nfsvers`` (with ``minorversion`` folded in), or None to negotiate."""
        vers = self.options.get("vers") or self.options.get("nfsvers")
        minor = self.options.get("minorversion")
        if vers == "4" and minor is not None:
            return f"4.{minor}"
        return vers

    def options_string(self, *extra: str) -> str:
        """The options as ``mount -o`` takes them, with ``extra`` names appended."""
        parts = [name if value is None else f"{name}={value}" for name, value in self.option_items]
        return ",".join([*parts, *extra])

    def describe(self) -> str:
        """One line for logs: ``10.0.0.2:/mystore -> /mnt/store (nfs, read-only)``."""
        access = "read-only" if self.readonly else "read-write"
        return f"{self.source} -> {self.destination} ({self.type}, {access})"

    def to_dict(self) -> dict[str, Any]:
        """The spec as a plain, JSON-able dict that :func:`parse_mount` reads back."""
        return {
            "source": self.source,
            "destination": self.destination,
            "type": self.type,
            "readonly": self.readonly,
            "options": dict(self.options),  # flags are True, so the dict reads back as given
            "driver": self.driver,
            **({} if self.strict_options else {"strict_options": False}),
        }


def parse_mounts(specs: Sequence[Mapping | str | Mount] | None, *, lenient_options: bool = False) -> list[Mount]:
    """Turn what a DAG author or a YAML file gives into :class:`Mount` objects.

    Each item is a :class:`Mount`, a dict with the keys of :data:`SPEC_KEYS`, or a
    ``"source:destination[:ro|:rw]"`` string. Errors name the item (``mounts[1].destination: ...``).

    :param lenient_options: make each mapping's ``strict_options`` false (a YAML pipeline's mounts).
    """
    if specs is None:
        return []
    if isinstance(specs, (str, Mapping, Mount)):
        specs = [specs]
    mounts = []
    for index, spec in enumerate(specs):
        if lenient_options and isinstance(spec, Mapping):
            spec = {**spec, "strict_options": False}
        try:
            mounts.append(parse_mount(spec))
        except MountError as err:
            raise MountError(f"mounts[{index}].{err}") from None
    return mounts


def parse_mount(spec: Mapping | str | Mount) -> Mount:
    """One spec to a :class:`Mount`; errors start with the field name (``destination: ...``)."""
    if isinstance(spec, Mount):
        return spec
    if isinstance(spec, str):
        return _parse_short_form(spec)
    if isinstance(spec, Mapping):
        return _parse_mapping(spec)
    raise MountError(
        f"spec: {type(spec).__name__} is not a mount; give a Mount, a dict or a 'source:destination' string"
    )


def _parse_mapping(spec: Mapping) -> Mount:
    for key in spec:
        if key not in SPEC_KEYS:
            hint = difflib.get_close_matches(str(key), SPEC_KEYS, n=1)
            also = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise MountError(f"{key}: unknown key{also}; a mount takes {', '.join(SPEC_KEYS)}")
    for key in ("source", "destination"):
        value = spec.get(key)
        if not isinstance(value, str) or not value:
            raise MountError(f"{key}: missing; a mount needs a source and a destination")
    for key in ("type", "driver"):
        if key in spec and not isinstance(spec[key], str):
            raise MountError(f"{key}: {spec[key]!r} is not a string")
    return Mount(
        source=spec["source"],
        destination=spec["destination"],
        type=spec.get("type"),
        readonly=spec.get("readonly", False),
        options=spec.get("options") or (),
        driver=spec.get("driver") or "auto",
        strict_options=bool(spec.get("strict_options", True)),
    )


def _parse_short_form(spec: str) -> Mount:
    text, readonly = spec.strip(), False
    for suffix, flag in ((":ro", True), (":rw", False)):
        if text.endswith(suffix):
            text, readonly = text[: -len(suffix)], flag
            break
    source, sep, destination = text.rpartition(":")
    if not sep or not source or not destination:
        raise MountError(
            f"spec: {spec!r} is not 'source:destination'; e.g. '/data/raw:/mnt/raw' or "
            "'10.0.0.2:/mystore:/mnt/store:ro'"
        )
    return Mount(source=source, destination=destination, readonly=readonly)


def _infer_type(source: Any) -> str:
    if not isinstance(source, str) or not source:
        raise MountError(f"source: {source!r} is not a path or server:/path")
    return "bind" if source.startswith("/") else "nfs"
