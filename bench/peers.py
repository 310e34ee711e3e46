"""The peers the bench compares us with: rclone (Debian's package) and the AWS CLI (PyPI).

Each is installed when missing (``python -m bench.peers`` does only that), configured for the local
moto endpoint through environment variables and files in the bench's own temporary directory, and
run as a separate process. A peer that cannot be installed is still a :class:`Peer`, with ``missing``
saying why, so the table shows "not installed: <why>" and the bench goes on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Where the AWS CLI gets a virtualenv of its own: never the project's .venv (git ignores .cache/).
AWSCLI_HOME = os.path.join(REPO, ".cache", "bench-peers", "awscli")
#: The same for every tool that lets us choose: files at once, and parts or streams of one file.
CONCURRENCY = 8
ACCESS_KEY = SECRET_KEY = "testing"
REGION = "us-east-1"


@dataclass
class Peer:
    """One peer tool: its executable, or why there is none; and how to reach moto with it."""

    name: str
    executable: str | None = None
    version: str = ""
    missing: str = ""
    endpoint: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.executable is not None

    def run(self, *args: str) -> str:
        """Run the tool with ``args``; its stdout, or an error naming the command and its stderr tail."""
        command = [self.executable, *args]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            raise RuntimeError(f"{self.name}: `{' '.join(command)}` exited {done.returncode}: {tail}")
        return done.stdout


def _clean_env() -> dict[str, str]:
    """This process's environment without anything that would point a tool at a real account."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return ((done.stdout or done.stderr).strip().splitlines() or [""])[0]


def _tail(done: subprocess.CompletedProcess) -> str:
    return ((done.stderr or done.stdout or "").strip().splitlines() or ["no output"])[-1]


# -- installing ------------------------------------------------------------------------------------

def install_rclone() -> tuple[str | None, str]:
    """(path of rclone, "") when it is or could be installed from Debian's packages, else (None, why)."""
    found = shutil.which("rclone")
    if found:
        return found, ""
    if not shutil.which("apt-get"):
        return None, "no rclone on PATH and no apt-get to install it"
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if prefix and not shutil.which("sudo"):
        return None, "no rclone on PATH; installing it needs root (apt-get install rclone)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "rclone"]
    print("bench: apt-get install rclone", flush=True)
    done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0:  # a fresh machine's package lists may be missing or stale
        subprocess.run([*prefix, "apt-get", "update", "-qq"], env=env, capture_output=True, text=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
    found = shutil.which("rclone")
    return (found, "") if found else (None, f"apt-get install rclone failed: {_tail(done)}")


def _uv() -> list[str] | None:
    """A way to run uv: on PATH, or as the module of the interpreter the Makefile uses."""
    if shutil.which("uv"):
        return ["uv"]
    for python in ("python3", sys.executable):
        if subprocess.run([python, "-m", "uv", "--version"], capture_output=True).returncode == 0:
            return [python, "-m", "uv"]
    return None


def install_awscli() -> tuple[str | None, str]:
    """(path of aws, "") from a virtualenv of its own under .cache/, made from PyPI when missing."""
    aws = os.path.join(AWSCLI_HOME, "bin", "aws")
    python = os.path.join(AWSCLI_HOME, "bin", "python")
    if os.access(aws, os.X_OK) and subprocess.run([aws, "--version"], capture_output=True).returncode == 0:
        return aws, ""
    print(f"bench: installing awscli from PyPI into {os.path.relpath(AWSCLI_HOME, REPO)}", flush=True)
    shutil.rmtree(AWSCLI_HOME, ignore_errors=True)
    uv = _uv()
    if uv:
        steps = [[*uv, "venv", "--quiet", "--python", sys.executable, AWSCLI_HOME],
                 [*uv, "pip", "install", "--quiet", "--python", python, "awscli"]]
    else:
        steps = [[sys.executable, "-m", "venv", AWSCLI_HOME],
                 [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "awscli"]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            return None, f"`{' '.join(step[:4])} ...` failed: {_tail(done)}"
    return (aws, "") if os.access(aws, os.X_OK) else (None, f"awscli installed no {aws}")


# -- configuring ---------------------------------------------------------------------------------

def rclone(endpoint: str, work: str, *, remote: str = "moto") -> Peer:
    """rclone with a remote named ``remote`` (``moto``) defined only by environment variables (no config file)."""
    path, why = install_rclone()
    env = _clean_env()
    name = f"RCLONE_CONFIG_{remote.upper()}"
    env.update({
        "RCLONE_CONFIG": os.path.join(work, "rclone.conf"),  # absent: rclone reads nobody's config
        f"{name}_TYPE": "s3",
        f"{name}_PROVIDER": "Other",
        f"{name}_ENDPOINT": endpoint,
        f"{name}_ACCESS_KEY_ID": ACCESS_KEY,
        f"{name}_SECRET_ACCESS_KEY": SECRET_KEY,
        f"{name}_REGION": REGION,
        f"{name}_FORCE_PATH_STYLE": "true",
    })
    version = _first_line([path, "version"]).removeprefix("rclone ") if path else ""
    return Peer("rclone", executable=path, version=version, missing=why, env=env)


def awscli(endpoint: str, work: str, *, concurrency: int | None = CONCURRENCY) -> Peer:
    """The AWS CLI with a config file of the bench's own (region, 8 concurrent requests) and test keys.

    Its profile ``one-stream`` never splits a transfer into parts or ranges. The endpoint is passed as
    ``--endpoint-url`` by the callers (see :func:`aws_s3`).

    :param concurrency: ``max_concurrent_requests``; ``None`` keeps the CLI's default (10)."""
    path, why = install_awscli()
    config = os.path.join(work, "aws-config" if concurrency == CONCURRENCY else f"aws-config-{concurrency}")
    requests = f"    max_concurrent_requests = {concurrency}\n" if concurrency else ""
    with open(config, "w") as handle:
        for section, s3 in (("default", requests), ("profile one-stream", requests + "    multipart_threshold = 1TB\n")):
            handle.write(f"[{section}]\nregion = {REGION}\naws_access_key_id = {ACCESS_KEY}\n"
                         f"aws_secret_access_key = {SECRET_KEY}\n" + (f"s3 =\n{s3}" if s3 else ""))
    env = _clean_env()
    env.update({
        "AWS_CONFIG_FILE": config,
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(work, "aws-credentials-none"),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    peer = Peer("aws", executable=path, missing=why, endpoint=endpoint, env=env)
    if path:
        peer.version = _first_line([path, "--version"]).split(" ")[0].removeprefix("aws-cli/")
    return peer


# -- the commands each case runs -----------------------------------------------------------------

def rclone_flags(*, one_stream: bool = False) -> list[str]:
    """What every rclone command gets: the shared concurrency, quiet, and no bucket creation;
    ``one_stream`` downloads each file in one GET instead of ranges on several streams."""
    return ["-q", "--transfers", str(CONCURRENCY), "--checkers", str(CONCURRENCY),
            "--multi-thread-streams", "0" if one_stream else str(CONCURRENCY),
            "--s3-upload-concurrency", str(CONCURRENCY),
            "--s3-no-check-bucket"]


def rclone_hashes(peer: Peer, path: str) -> None:
    """md5, sha1 and sha256 of every file under ``path``, by rclone itself (one command per hash)."""
    for name in ("md5", "sha1", "sha256"):
        peer.run("hashsum", name, path, "--checkers", str(CONCURRENCY), "-q")


def aws_s3(peer: Peer, *args: str, one_stream: bool = False) -> None:
    """``aws s3 ARGS`` against moto, without progress output; ``one_stream``: no parts, no ranges."""
    profile = ["--profile", "one-stream"] if one_stream else []
    peer.run("s3", *args, *profile, "--endpoint-url", peer.endpoint, "--only-show-errors", "--no-progress")


def install_all() -> None:
    """Install both peers (what `make bench-peers` runs) and say what each is."""
    for name, install in (("rclone", install_rclone), ("aws", install_awscli)):
        path, why = install()
        print(f"{name}: {path}" if path else f"{name}: not installed: {why}")


if __name__ == "__main__":
    install_all()
