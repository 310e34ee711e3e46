"""The package as users get it: the sdist and the wheel built from it (uv build, PEP 517 with isolation),
the wheel installed with plain pip -- the pip Python ships, in a fresh venv, from PyPI and nothing else on
this machine -- with the ``[s3]`` extra, and used from there against the local S3 server.

About a minute with pip's cache warm (.cache/pip); the first run downloads about 150 packages.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _uv() -> list[str]:
    if os.environ.get("UV"):
        return shlex.split(os.environ["UV"])
    if shutil.which("uv"):
        return [shutil.which("uv")]
    return [getattr(sys, "_base_executable", sys.executable), "-m", "uv"]  # where the Makefile installs it


def _pip_env(home: Path) -> dict[str, str]:
    """pip as on a user's machine: PyPI only (not this machine's pip.conf, find-links or constraints)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_CACHE_DIR=str(REPO / ".cache" / "pip"),
               PIP_DISABLE_PIP_VERSION_CHECK="1", AIRFLOW_HOME=str(home / "airflow"))
    for kept in ("PIP_CERT", "PIP_INDEX_URL", "PIP_DEFAULT_TIMEOUT"):  # how this machine reaches PyPI
        if kept in os.environ:
            env[kept] = os.environ[kept]
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(_uv() + ["build", "--quiet", "--out-dir", str(out), str(REPO)], check=True)
    return out


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory):
    """A fresh venv with the wheel and its ``[s3]`` extra, installed by the pip the interpreter ships."""
    root = tmp_path_factory.mktemp("user")
    env = _pip_env(root)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(root / "venv")], check=True, env=env)
    python = str(root / "venv" / "bin" / "python")
    pip_version = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True,
                                 check=True, env=env).stdout.split()[1]
    (wheel,) = dist.glob("*.whl")
    started = time.monotonic()
    subprocess.run([python, "-m", "pip", "install", "--quiet", f"{wheel}[s3]"], check=True, env=env)
    print(f"pip {pip_version}: {wheel.name}[s3] installed in {time.monotonic() - started:.0f} s")
    return python, env


def _run(venv, code: str) -> str:
    python, env = venv
    env = {**env, **{k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CONN_")}}  # the servers'
    result = subprocess.run([python, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                            cwd=env["AIRFLOW_HOME"].rsplit("/", 1)[0], timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return "".join(line[3:] + "\n" for line in result.stdout.splitlines() if line.startswith("@@ "))  # not logs


def test_the_sdist_carries_the_package_not_the_tooling(dist):
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = [name.split("/", 1)[1] for name in tar.getnames() if "/" in name]
    assert {"LICENSE", "PKG-INFO", "pyproject.toml", "README.md", "provider/airflow_datastores/py.typed"} <= set(names)
    unwanted = [n for n in names if n.startswith(("uv.lock", ".ci/", "bench/", "docker/", "tests/", "Makefile"))
                or "node_modules" in n or n.endswith("package-lock.json")]
    assert unwanted == []


def test_the_wheel_carries_license_types_and_index_metadata(dist):
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        metadata = Parser().parsestr(whl.read("airflow_provider_datastores-0.1.0.dist-info/METADATA").decode())
    assert "airflow_datastores/py.typed" in names
    assert "airflow_provider_datastores-0.1.0.dist-info/licenses/LICENSE" in names
    assert metadata["License-Expression"] == "Apache-2.0" and metadata["Author"]
    assert "Framework :: Apache Airflow :: Provider" in metadata.get_all("Classifier")
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert {"Homepage", "Source", "Issues"} <= set(urls)
    readme = metadata.get_payload()
    assert metadata["Description-Content-Type"] == "text/markdown" and readme.startswith("# airflow-datastores")
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert links and [link for link in links if not link.startswith(("https://", "#"))] == []
    assert f"]({urls['Source']}/raw/main/docs/images/dashboard-overview.png)" in readme


def test_pip_installs_the_s3_extra_and_the_public_names_import(venv):
    out = _run(venv, """
        import airflow_datastores
        for name in airflow_datastores.__all__:
            getattr(airflow_datastores, name)
        from airflow.providers_manager import ProvidersManager
        from importlib.metadata import entry_points
        info = ProvidersManager().providers["airflow-provider-datastores"]
        plugins = [e.name for e in entry_points(group="airflow.plugins")]
        print("@@", airflow_datastores.__version__, info.version, "datastores" in plugins)
    """)
    assert out.split() == ["0.1.0", "0.1.0", "True"]
    python, env = venv
    cli = str(Path(python).parent / "airflow-datastores")
    assert subprocess.run([cli, "--version"], capture_output=True, text=True, env=env,
                          check=True).stdout == "airflow-datastores 0.1.0\n"
    help_text = subprocess.run([cli, "--help"], capture_output=True, text=True, env=env, check=True).stdout
    assert "Look at stores and versions" in help_text and "`" not in help_text


def test_the_s3_store_and_objectstoragepath_work_with_the_s3_extra(venv, s3_root):
    bucket = s3_root[len("s3://"):]
    out = _run(venv, f"""
        from airflow.sdk import ObjectStoragePath
        from airflow_datastores import get_store

        store = get_store("s3://{bucket}/staged", conn_id="test_s3")
        store.write_bytes("a.csv", b"day,rows\\n1,42\\n")
        print("@@", store.read_bytes("a.csv") == b"day,rows\\n1,42\\n")
        path = ObjectStoragePath("s3://test_s3@{bucket}/reports/2026-12.csv")  # the README's example
        path.write_text("day,rows\\n1,42\\n")
        print("@@", path.read_text() == "day,rows\\n1,42\\n", [p.name for p in path.parent.iterdir()])
    """)
    assert out.split("\n")[:2] == ["True", "True ['2026-12.csv']"]


def test_a_store_whose_extra_is_missing_names_the_missing_packages(venv):
    out = _run(venv, """
        from airflow_datastores.errors import BrokenExtra, MissingExtra
        from airflow_datastores.stores.registry import backend_class
        try:
            backend_class("az")
        except MissingExtra as err:
            print("@@", type(err).__name__, "|", err)
    """)
    kind, message = out.strip().split(" | ")
    assert kind == "MissingExtra"
    assert message.startswith("The az:// store needs the 'azure' extra, which is not installed (missing: ")
    assert "apache-airflow-providers-microsoft-azure" in message and "azure-storage-blob" in message
    assert message.endswith("Install it with: pip install 'airflow-provider-datastores[azure]'")


def test_an_installed_extra_that_does_not_import_is_not_called_missing(venv):
    """The issue's case: the amazon provider 9.0 installed next to Airflow 3.3 (last, it changes the venv)."""
    python, env = venv
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "apache-airflow-providers-amazon==9.0.0"],
                   check=True, env=env)
    out = _run(venv, """
        import json
        from airflow_datastores.errors import BrokenExtra
        from airflow_datastores.stores.registry import backend_class
        try:
            backend_class("s3")
        except BrokenExtra as err:
            print("@@", json.dumps([str(err), err.outside]))
    """)
    message, outside = json.loads(out.strip().splitlines()[-1])
    assert message.startswith("The s3:// store's extra 's3' is installed but does not import: ModuleNotFoundError")
    assert "airflow.utils.log.secrets_masker" in message
    assert "apache-airflow-providers-amazon 9.0.0 (the extra needs >=9.4.0)" in message
    assert "pip install 'airflow-provider-datastores[s3]' moves it into it" in message
    assert outside == ["apache-airflow-providers-amazon"]
