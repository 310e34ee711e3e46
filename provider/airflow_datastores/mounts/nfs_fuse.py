"""An NFS share as a directory without a kernel NFS client: FUSE (mfusepy, libfuse3) over nfs-rs.

Run as ``python -m airflow_datastores.mounts.nfs_fuse CONFIG_JSON READY_FD`` by
:class:`~airflow_datastores.mounts.drivers.UserspaceNfsDriver`, inside the task's mount namespace.
It connects, checks the export, mounts, writes ``ready`` (or ``error: <why>``) to ``READY_FD``, and
serves until SIGTERM or until the mount goes away. Its log lines go to stderr as ``LEVEL message``.
The file operations it serves are in :mod:`.nfs_filesystem`.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from airflow_datastores.mounts.nfs_filesystem import NfsTree, build_filesystem

log = logging.getLogger("airflow_datastores.mounts.nfs_fuse")


def connect(config: dict):
    """An nfs-rs client for the share in ``config`` and the :class:`NfsTree` over its export."""
    import nfs_rs

    host = config["server"]
    netloc = f"[{host}]" if ":" in host else host
    v3 = config["versions"] == ["3"]
    export = config["export"]
    url = f"nfs://{netloc}{export if v3 else '/'}"
    client = nfs_rs.Client.connect(
        url,
        versions=config["versions"],
        nfs_port=config["port"],
        mount_port=config.get("mountport"),
        noresvport=config.get("noresvport") or None,
        connect_timeout=config["connect_timeout"],
        operation_timeout=config["operation_timeout"],
    )
    tree = NfsTree(client, base="" if v3 else export)
    try:
        info = tree.stat("/")
    except FileNotFoundError:
        client.close()
        raise FileNotFoundError(f"the server has no export {export}") from None
    if info.type.value != "directory":
        client.close()
        raise NotADirectoryError(f"{export} on the server is not a directory")
    return client, tree


def serve(config: dict, ready_fd: int) -> int:
    """Connect, mount, report on ``ready_fd`` and serve until unmounted; the process's exit code."""
    from mfusepy import FUSE

    source = config["source"]
    where = f"NFS server {config['server']} port {config['port']}"

    def report(message: str) -> None:
        try:
            os.write(ready_fd, (message + "\n").encode())
            os.close(ready_fd)
        except OSError:
            pass

    try:
        client, tree = connect(config)
    except Exception as err:  # noqa: BLE001 - reported to the task with the server's name
        report(f"error: {where}: {err} (mounting {source})")
        return 1
    log.info("Connected to %s with NFS %s for %s", where, client.version.value, source)
    options = {"fsname": source, "subtype": "nfs-rs", "allow_other": True, "default_permissions": True}
    options.update({flag: True for flag in config.get("flags", ())})
    if config["readonly"]:
        options["ro"] = True
    filesystem = build_filesystem(tree, readonly=config["readonly"], on_ready=lambda: report("ready"))
    try:
        FUSE(filesystem, config["mountpoint"], foreground=True, **options)
    except Exception as err:  # noqa: BLE001 - reported to the task; nothing is mounted
        report(f"error: FUSE could not mount {config['mountpoint']}: {err}")
        return 1
    finally:
        try:
            client.close()
        except Exception as err:  # noqa: BLE001 - on the way out
            log.warning("closing the NFS client failed: %s", err)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``CONFIG_JSON READY_FD``; the driver that starts this has already set PR_SET_PDEATHSIG."""
    args = sys.argv[1:] if argv is None else argv
    config, ready_fd = json.loads(args[0]), int(args[1])
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("mfusepy").setLevel(logging.WARNING)
    return serve(config, ready_fd)


if __name__ == "__main__":
    sys.exit(main())
