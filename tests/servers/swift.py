"""OpenStack Swift all-in-one (Debian's packages) with tempauth, on free ports, in a temp directory."""

from __future__ import annotations

import os
import subprocess
import urllib.request

from tests.servers.base import HOST, INSTALL_HINT, LocalServer, ServerError, free_port, http_ok

USER, KEY = "test:tester", "testing"

_SWIFT_CONF = """[swift-hash]
swift_hash_path_suffix = datastores-test
swift_hash_path_prefix = datastores-test
[storage-policy:0]
name = Policy-0
default = yes
"""

_BACKEND_CONF = """[DEFAULT]
devices = {dir}/node
mount_check = false
disable_fallocate = true
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
swift_dir = {dir}/etc
log_address = {dir}/run/nolog
[pipeline:main]
pipeline = {kind}-server
[app:{kind}-server]
use = egg:swift#{kind}
"""

_FILTERS = ("catch_errors", "gatekeeper", "healthcheck", "proxy-logging", "cache", "listing_formats", "bulk",
            "tempurl", "tempauth", "copy", "slo", "dlo", "versioned_writes", "symlink")

_PROXY_CONF = """[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
swift_dir = {dir}/etc
log_address = {dir}/run/nolog
[pipeline:main]
pipeline = {pipeline}
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
{filters}
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcached}
"""


class SwiftServer(LocalServer):
    name = "swift"
    ready_timeout = 60.0

    def launch(self) -> None:
        ports = {kind: free_port() for kind in ("object", "container", "account", "proxy", "memcached")}
        self.port = ports["proxy"]
        self.endpoint = f"http://{HOST}:{self.port}"
        self.auth_url = f"{self.endpoint}/auth/v1.0"
        etc = os.path.join(self.dir, "etc")
        for sub in ("etc", "node/d1", "run"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        with open(os.path.join(etc, "swift.conf"), "w") as handle:
            handle.write(_SWIFT_CONF)
        for kind in ("object", "container", "account"):
            with open(os.path.join(etc, f"{kind}-server.conf"), "w") as handle:
                handle.write(_BACKEND_CONF.format(dir=self.dir, port=ports[kind], kind=kind))
            builder = os.path.join(etc, f"{kind}.builder")
            for args in (["create", "10", "1", "1"], ["add", f"r1z1-127.0.0.1:{ports[kind]}/d1", "100"],
                         ["rebalance"]):
                self._run(["swift-ring-builder", builder, *args])
        filters = "\n".join(f"[filter:{f}]\nuse = egg:swift#{f.replace('-', '_')}" for f in _FILTERS
                            if f not in ("tempauth", "cache"))
        pipeline = " ".join((*_FILTERS, "proxy-logging", "proxy-server"))
        with open(os.path.join(etc, "proxy-server.conf"), "w") as handle:
            handle.write(_PROXY_CONF.format(dir=self.dir, port=self.port, pipeline=pipeline, filters=filters,
                                            memcached=ports["memcached"]))
        self.spawn(["memcached", "-l", HOST, "-p", str(ports["memcached"]), "-U", "0", "-u", "root", "-m", "32"],
                   log_name="memcached.log")
        for kind in ("object", "container", "account", "proxy"):
            self.spawn([f"swift-{kind}-server", os.path.join(etc, f"{kind}-server.conf"), "-v"],
                       log_name=f"{kind}.log")

    def _run(self, argv: list[str]) -> None:
        try:
            subprocess.run(argv, cwd=self.dir, check=True, capture_output=True)
        except FileNotFoundError:
            raise ServerError(f"swift: {argv[0]} is not installed; {INSTALL_HINT}") from None
        except subprocess.CalledProcessError as err:
            if argv[-1] != "rebalance" or err.returncode != 1:  # 1 = warnings only
                raise ServerError(f"swift: {' '.join(argv)} failed: {err.stderr.decode()[-500:]}") from None

    def is_ready(self) -> bool:
        if not http_ok(f"{self.endpoint}/healthcheck", expect=lambda status, body: status == 200):
            return False
        try:  # the whole chain answers: auth, then an account listing
            request = urllib.request.Request(self.auth_url, headers={"X-Auth-User": USER, "X-Auth-Key": KEY})
            with urllib.request.urlopen(request, timeout=2) as response:
                token, storage = response.headers["X-Auth-Token"], response.headers["X-Storage-Url"]
            request = urllib.request.Request(storage, headers={"X-Auth-Token": token})
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.status in (200, 204)
        except OSError:
            return False

    def connection(self) -> dict:
        return {"conn_type": "swift", "host": self.auth_url, "login": USER, "password": KEY,
                "extra": {"auth_version": "1"}}
