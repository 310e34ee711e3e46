"""A step's input, as Valohai's parser read it -> :class:`InputSpec`: its default URLs (checked, made
absolute), directory layout, download mode, file name.

What Valohai takes and Airflow can only do when the step runs is kept, not refused: a ``datum://``
default (resolved when the step runs: :mod:`airflow_datastores.versions.datums`), a default with
``{parameter:NAME}`` in it (rendered from the run's values), a URL of a kind no store reads (noted; the
step that stages it fails naming it). An empty default is no default; a default without a scheme
(``data/train.csv``) is a file beside the YAML file, as it is a file of the repository on Valohai.
"""

from __future__ import annotations

import os

from valohai_yaml.objs.input import Input

from airflow_datastores.pipelines import parameters as P
from airflow_datastores.pipelines.model import InputSpec
from airflow_datastores.pipelines.reader import Reader
from airflow_datastores.pipelines.yamlfile import Map, line_of

DATUM_SCHEME = "datum://"


def read_input(reader: Reader, item: Input, raw: Map, step: str, *, directory: str) -> InputSpec:
    """An input of ``step`` (how messages name the step); ``raw`` its YAML mapping (for lines).

    :param directory: the YAML file's directory, which relative defaults are in.
    """
    what = f"input {item.name!r} of {step}"
    defaults = item.default if isinstance(item.default, list) else [item.default]
    urls = []
    for index, url in enumerate(defaults):
        if url is None or (isinstance(url, str) and not url.strip()):
            continue  # `default: ''`: no default
        line = line_of(raw, ["default", index] if isinstance(item.default, list) else ["default"])
        urls.append(input_url(reader, str(url).strip(), line, what, directory=directory))
    filename = item.filename
    if filename is not None and (os.path.isabs(filename) or "/" in filename or filename in ("", ".", "..")):
        reader.note(line_of(raw, ["filename"]), f"'filename' of {what} is {filename!r}, which is not a plain file "
                                                "name; it is not used", key=f"filename:{what}")
        filename = None
    return InputSpec(name=item.name, default=urls, optional=item.optional,
                     keep_directories=item.keep_directories.value, line=raw.line, filename=filename,
                     download=item.download.value, description=item.description)


def input_url(reader: Reader, url: str, line: int, what: str, *, directory: str) -> str:
    """``url`` as staging reads it: ``file:relative`` and a path without a scheme made absolute against the
    YAML file's directory; a URL no store reads noted (the step fails on it when it runs)."""
    from airflow_datastores.errors import DataStoreError
    from airflow_datastores.stores.registry import split_url
    from airflow_datastores.versions.references import is_reference, parse_reference

    if url.startswith(DATUM_SCHEME):
        reader.note(line, f"{what}: {url!r} is a Valohai datum; it is looked up when the step runs, in "
                          "[datastores] datums (id -> URL), then as an alias that names a file (airflow-datastores "
                          "alias set ... --path). A run can give the input another URL", key=f"url:{url}")
        return url
    if P.placeholders(url):
        return url  # rendered from the run's parameter values when the step runs
    if url.startswith("file:") and not url.startswith("file://"):
        url = "file://" + os.path.normpath(os.path.join(directory, url[len("file:"):]))
    elif "://" not in url and not url.startswith("/"):
        url = "file://" + os.path.normpath(os.path.join(directory, url))
    elif url.startswith("/"):
        url = "file://" + os.path.normpath(url)
    try:
        parse_reference(url) if is_reference(url) else split_url(url)
    except DataStoreError as err:
        reader.note(line, f"{what}: {err}; the step fails on it when it runs, unless a run gives the input "
                          "another URL", key=f"url:{url}")
    return url
