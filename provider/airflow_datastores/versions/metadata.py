"""Tags and properties of a version and of its files, and ``<file>.metadata.json`` sidecars.

A step writes ``model.pkl.metadata.json`` next to ``model.pkl`` (Valohai's shape): ``valohai.tags`` (a
list of strings) become the file's tags, ``valohai.alias`` (a name or a list) aliases of the task moved
to that file of the committed version (as a Valohai datum alias names the file), ``valohai.dataset-versions`` dataset versions that list the file, and every
other key a property of the file (any JSON). The sidecar itself is not a file of the version. A step's ``tags=`` and ``properties=`` are the version's own.

``valohai.metadata.jsonl`` at the top of the outputs (what valohai-utils' ``output_properties()`` writes:
one ``{"file": <path>, "metadata": {...}}`` a line) says the same of many files at once; it is read like
the sidecars (a sidecar's keys win where both name one file), and is not a file of the version either.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_datastores.errors import InvalidSpec
from airflow_datastores.versions.aliases import check_alias_name
from airflow_datastores.versions.datasets import check_dataset_version
from airflow_datastores.versions.references import DATASET_SCHEME

SIDECAR = ".metadata.json"
PROPERTIES_FILE = "valohai.metadata.jsonl"
_TAGS, _ALIAS, _DATASETS = "valohai.tags", "valohai.alias", "valohai.dataset-versions"


@dataclass(frozen=True)
class FileMetadata:
    """What a sidecar says of its file."""

    tags: list[str] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    #: ``(dataset version, the dataset version it builds on or None)``, as ``("images/v3", "images/v2")``
    datasets: list[tuple[str, str | None]] = field(default_factory=list)


def check_tags(tags: Any, *, where: str) -> list[str]:
    """``tags`` as a list of non-empty strings (a single string is one tag); else a clear error."""
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, Sequence) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise InvalidSpec(f"{where}: tags must be a list of non-empty strings, got {tags!r}")
    return sorted({t.strip() for t in tags})


def check_properties(properties: Any, *, where: str) -> dict[str, Any]:
    """``properties`` as a JSON object with string keys; else a clear error."""
    if properties is None:
        return {}
    if not isinstance(properties, Mapping) or not all(isinstance(k, str) for k in properties):
        raise InvalidSpec(f"{where}: properties must be a mapping of names to JSON values, got {properties!r}")
    try:
        return json.loads(json.dumps(dict(properties)))
    except (TypeError, ValueError):
        raise InvalidSpec(f"{where}: properties must be JSON values (numbers, strings, lists, mappings)") from None


def split_sidecars(files: list[tuple[str, str]], *, outputs_dir: str) -> tuple[list[tuple[str, str]],
                                                                               dict[str, FileMetadata]]:
    """The files of a version (without the sidecars) and ``{relative path: metadata}`` from the sidecars.

    :param files: ``(relative path, absolute path)`` of everything in the outputs directory.
    :raises InvalidSpec: a sidecar that is not a JSON object, or whose file is not there.
    """
    paths = {rel for rel, _ in files}
    kept, raw = [], {}
    for rel, path in files:
        where = os.path.join(outputs_dir, rel)
        if rel == PROPERTIES_FILE:
            for target, data in _read_properties_file(path, where=where):
                raw.setdefault(target, {}).update(data)
            continue
        if not rel.endswith(SIDECAR) or rel == SIDECAR:
            kept.append((rel, path))
            continue
        raw.setdefault(rel[: -len(SIDECAR)], {}).update(_read_json_object(path, where=where))
    metadata = {}
    for target, data in raw.items():
        if target not in paths:
            raise InvalidSpec(f"Outputs: {outputs_dir}: metadata describes {target}, which is not in the "
                              "outputs directory; write the file, or remove its sidecar or line")
        metadata[target] = sidecar_metadata(data, where=os.path.join(outputs_dir, target + SIDECAR))
    return kept, metadata


def _read_json_object(path: str, *, where: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except ValueError as err:
        raise InvalidSpec(f"{where}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise InvalidSpec(f"{where}: a sidecar holds a JSON object, e.g. {{\"{_TAGS}\": [\"validated\"]}}")
    return data


def _read_properties_file(path: str, *, where: str) -> list[tuple[str, dict]]:
    """``(file, metadata)`` of each line of a ``valohai.metadata.jsonl``."""
    found = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as err:
                raise InvalidSpec(f"{where}:{number}: not valid JSON ({err})") from None
            if not (isinstance(item, dict) and isinstance(item.get("file"), str)
                    and isinstance(item.get("metadata"), dict)):
                raise InvalidSpec(f'{where}:{number}: each line is {{"file": "<path>", "metadata": {{...}}}}')
            found.append((item["file"].lstrip("/"), item["metadata"]))
    return found


def sidecar_metadata(data: dict, *, where: str) -> FileMetadata:
    """What the keys of a sidecar (or a ``valohai.metadata.jsonl`` line) say of a file."""
    data = dict(data)
    tags = check_tags(data.pop(_TAGS, []), where=f"{where}: {_TAGS}")
    names = data.pop(_ALIAS, [])
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list):
        raise InvalidSpec(f"{where}: {_ALIAS} is an alias name or a list of them")
    datasets = _dataset_versions(data.pop(_DATASETS, []), where=f"{where}: {_DATASETS}")
    return FileMetadata(tags=tags, properties=check_properties(data, where=where),
                        aliases=[check_alias_name(n) for n in names], datasets=datasets)


def _dataset_versions(value: Any, *, where: str) -> list[tuple[str, str | None]]:
    """``"dataset://images/v3"`` or ``{"uri": "dataset://images/v3", "from": "dataset://images/v2"}`` (or a
    list of them) -> ``[("images/v3", "images/v2")]``."""
    items = value if isinstance(value, list) else [value]
    found = []
    for item in items:
        uri, base = (item.get("uri"), item.get("from")) if isinstance(item, dict) else (item, None)
        found.append((_dataset_version(uri, where=where), _dataset_version(base, where=where) if base else None))
    return found


def _dataset_version(uri: Any, *, where: str) -> str:
    if not isinstance(uri, str) or not uri.startswith(DATASET_SCHEME) or uri.count("/") != 3:
        raise InvalidSpec(f"{where}: {uri!r} is not a dataset version; write dataset://<dataset>/<version>")
    name, version = uri[len(DATASET_SCHEME):].split("/")
    check_dataset_version(f"{name}/{version}")
    return f"{name}/{version}"


def matches(*, tags: Sequence[str], where: Mapping[str, str], version_tags: Sequence[str],
            version_properties: Mapping[str, Any], files: Sequence[Any]) -> bool:
    """Whether a version has every tag (on itself or a file) and every ``key=value`` property (on itself or
    a file; a value is compared with the property as JSON, or as the string it is)."""
    all_tags = set(version_tags).union(*(set(f.tags) for f in files))
    if not set(tags) <= all_tags:
        return False
    scopes = [version_properties, *(f.properties for f in files)]
    return all(any(key in scope and _same(scope[key], value) for scope in scopes) for key, value in where.items())


def _same(have: Any, want: str) -> bool:
    if isinstance(have, str):
        return have == want
    try:
        return have == json.loads(want)
    except ValueError:
        return False
