"""A step's ``inputs`` item -> :class:`InputSpec`: its default URLs, directory layout, download mode, file name."""

from __future__ import annotations

import os
from typing import Any

from airflow_datastores.pipelines.keys import INPUT_KEYS
from airflow_datastores.pipelines.model import InputSpec
from airflow_datastores.pipelines.reader import Reader


def read_input(reader: Reader, item: Any, line: int, step: str) -> InputSpec:
    """An input of ``step`` (how errors name the step), checked."""
    from airflow_datastores.inputs.spec import KEEP_DIRECTORIES  # not at the top: importing pipelines stays light

    item = reader.mapping(item, line, f"an input of {step}", INPUT_KEYS)
    name = reader.required_name(item, f"an input of {step}")
    what = f"input {name!r} of {step}"
    default = item.get("default")
    defaults = [] if default is None else [default] if isinstance(default, str) else default
    if not isinstance(defaults, list):
        raise reader.error(item.key_lines["default"], f"'default' of {what} must be a URL or a list of URLs")
    lines = getattr(defaults, "item_lines", None) or [item.key_lines.get("default", line)] * len(defaults)
    urls = [input_url(reader, url, url_line, what) for url, url_line in zip(defaults, lines, strict=True)]
    keep = item.get("keep-directories", "none")
    keep = {True: "full", False: "none", None: "none"}.get(keep, keep) if isinstance(keep, (bool, type(None))) \
        else keep
    if keep not in KEEP_DIRECTORIES:
        raise reader.error(item.key_lines["keep-directories"], f"keep-directories of {what} is {keep!r}; use one "
                                                               f"of {', '.join(KEEP_DIRECTORIES)}, true or false")
    download = reader.typed(item, "download", str, what, default="always")
    if download not in ("always", "on-demand"):
        raise reader.error(item.key_lines["download"], f"'download' of {what} is {download!r}; use always or "
                                                       "on-demand")
    filename = reader.typed(item, "filename", str, what)
    if filename is not None and (os.path.isabs(filename) or "/" in filename or filename in ("", ".", "..")):
        raise reader.error(item.key_lines["filename"], f"'filename' of {what} must be a plain file name, not "
                                                       f"{filename!r}")
    return InputSpec(name=name, default=urls, optional=reader.typed(item, "optional", bool, what, default=False),
                     keep_directories=keep, line=line, filename=filename, download=download,
                     description=reader.typed(item, "description", str, what))


def input_url(reader: Reader, url: Any, line: int, what: str) -> str:
    """``url`` checked to be a store URL or a ``datastore://``, ``alias://`` or ``dataset://`` reference;
    ``file:relative`` made absolute
    (against the file's directory)."""
    from airflow_datastores.errors import DataStoreError
    from airflow_datastores.stores.registry import split_url
    from airflow_datastores.versions.references import is_reference, parse_reference

    if not isinstance(url, str):
        raise reader.error(line, f"{what}: {url!r} is not a URL")
    if url.startswith("datum://"):
        raise reader.error(line, f"{what}: {url!r} is a Valohai datum URL (a file's id in Valohai), which this "
                                 "provider cannot resolve; give the store URL of the file (s3://, gs://, az://, "
                                 "swift://, https://, file:), a datastore:// reference, an alias:// or a dataset://")
    if url.startswith("file:") and not url.startswith("file://"):
        url = "file://" + os.path.normpath(os.path.join(reader.directory, url[len("file:"):]))
    try:
        parse_reference(url) if is_reference(url) else split_url(url)
    except DataStoreError as err:
        raise reader.error(line, f"{what}: {err}") from None
    return url
