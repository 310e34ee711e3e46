"""Valohai's own parser and lint beside our loader, over every valohai.yaml-shaped file of the repository
(fixtures, dags/, and the YAML examples in README.md and docs/): they agree about accepting each file,
except where our declared extension (pipelines/extension.py) is the reason."""

from __future__ import annotations

import glob
import logging
import os
import re

import pytest
import valohai_yaml
from valohai_yaml.lint import lint

from airflow_datastores.pipelines import PipelineError, read_pipelines
from airflow_datastores.pipelines.extension import PROPERTIES, valohai_view
from airflow_datastores.pipelines.yamlfile import load_yaml, plain

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BLOCK = re.compile(r"```ya?ml\n(.*?)```", re.S)
_ITEM = re.compile(r"^- (step|pipeline|task):", re.M)


def yaml_files() -> list[str]:
    """Every YAML file of the repository that holds valohai.yaml items."""
    found = []
    for path in sorted(glob.glob(os.path.join(REPO, "**", "*.y*ml"), recursive=True)):
        if "/.venv/" in path or "/node_modules/" in path or "/." in path[len(REPO):]:
            continue
        with open(path) as handle:
            if _ITEM.search(handle.read()):
                found.append(path)
    return found


def doc_examples() -> list[tuple[str, str]]:
    """``(name, text)`` of each YAML code block in README.md and docs/*.md that holds valohai.yaml items."""
    examples = []
    for path in [os.path.join(REPO, "README.md"), *sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))]:
        with open(path) as handle:
            for index, block in enumerate(_BLOCK.findall(handle.read())):
                if _ITEM.search(block):
                    examples.append((f"{os.path.basename(path)}#{index}", block))
    return examples


def valohai_accepts(text: str) -> tuple[bool, str]:
    """Whether Valohai's parser takes ``text`` (without our extension) and its lint finds no error."""
    try:
        document, _ = load_yaml(text, name="x")
        view = plain(valohai_view(document))
        valohai_yaml.parse(view)
        errors = [m["message"] for m in lint(view, ansi_colors=False).errors]
    except Exception as err:  # noqa: BLE001 - any refusal of Valohai's parser
        return False, str(err)
    return not errors, "; ".join(errors)


def uses_extension(text: str) -> bool:
    """Whether the file writes a key of our declared extension (or leaves out what we made optional)."""
    document, _ = load_yaml(text, name="x")
    return plain(valohai_view(document)) != plain(document)


def ours_accepts(path: str) -> tuple[bool, str]:
    logging.disable(logging.WARNING)
    try:
        read_pipelines(path)
    except PipelineError as err:
        return False, str(err)
    finally:
        logging.disable(logging.NOTSET)
    return True, ""


def test_the_repository_has_files_of_every_kind_to_compare():
    files, examples = yaml_files(), doc_examples()
    assert any("/dags/" in f for f in files) and any("/fixtures/" in f for f in files)
    assert len(files) >= 15 and len(examples) >= 2, (files, examples)


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: os.path.relpath(p, REPO))
def test_valohai_and_our_loader_agree_on_each_file(path):
    with open(path) as handle:
        text = handle.read()
    check_agreement(path, text)


@pytest.mark.parametrize(("name", "text"), doc_examples(), ids=lambda v: v if "\n" not in str(v) else "")
def test_valohai_and_our_loader_agree_on_each_documented_example(name, text, tmp_path):
    path = tmp_path / "valohai.yaml"
    path.write_text(text)
    check_agreement(str(path), text)


def check_agreement(path: str, text: str) -> None:
    valohai, why_valohai = valohai_accepts(text)
    ours, why_ours = ours_accepts(path)
    if valohai == ours:
        if not uses_extension(text):  # and Valohai reads the very same text
            document, _ = load_yaml(text, name="x")
            assert not lint(plain(document), ansi_colors=False).error_count
        return
    assert valohai, f"{path}: we load a file Valohai refuses: {why_valohai}"
    extension_keys = {key for keys in PROPERTIES.values() for key in keys}
    assert any(f"'{key}'" in why_ours for key in extension_keys), (
        f"{path}: Valohai accepts it, we refuse it, and not for a key of our extension: {why_ours}")
