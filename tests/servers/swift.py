"""OpenStack Swift all-in-one (Debian's packages) on free ports, in a temp directory.

Auth is tempauth (v1, ``test:tester``), or Keystone v3 when given a :class:`~tests.servers.keystone.KeystoneServer`:
then the proxy runs ``authtoken keystoneauth`` (Debian's keystonemiddleware), registers itself as the
``object-store`` endpoint and the connection is a v3 one (user ``tester`` in project ``test``).
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from typing import TYPE_CHECKING

from tests.servers.base import HOST, INSTALL_HINT, LocalServer, ServerError, free_port, http_ok

if TYPE_CHECKING:
    from tests.servers.keystone import KeystoneServer

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
{auth}
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcached}
"""


_TEMPAUTH = """[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
"""

_KEYSTONEAUTH = """[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = {auth_url}
auth_url = {auth_url}
auth_type = password
user_domain_id = default
project_domain_id = default
project_name = service
username = {user}
password = {password}
delay_auth_decision = True
service_token_roles_required = True
memcached_servers = 127.0.0.1:{memcached}
[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member
"""

KEYSTONE_PROJECT, KEYSTONE_USER = "test", "tester"


class SwiftServer(LocalServer):
    """One Swift cluster (proxy, account, container, object servers and a memcached of its own).

    :param keystone: a started Keystone to authenticate against (one Swift per Keystone: it registers the
        one ``object-store`` endpoint); tempauth when not given.
    :param log_dir: where logs, configs and data go; a temporary directory when not given.
    """

    name = "swift"
    ready_timeout = 60.0

    def __init__(self, *, keystone: KeystoneServer | None = None, log_dir: str | None = None) -> None:
        self.keystone = keystone
        if keystone is not None:
            self.name = "swift-keystone"
        super().__init__(log_dir=log_dir)

    def launch(self) -> None:
        ports = {kind: free_port() for kind in ("object", "container", "account", "proxy", "memcached")}
        self.port = ports["proxy"]
        self.endpoint = f"http://{HOST}:{self.port}"
        if self.keystone is None:
            self.auth_url = f"{self.endpoint}/auth/v1.0"
            auth, auth_filters = _TEMPAUTH, ("tempauth",)
        else:
            auth_filters = ("authtoken", "keystoneauth")
            auth = self._register_in_keystone(memcached=ports["memcached"])
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
        chain = [name for f in _FILTERS for name in (auth_filters if f == "tempauth" else (f,))]
        pipeline = " ".join((*chain, "proxy-logging", "proxy-server"))
        with open(os.path.join(etc, "proxy-server.conf"), "w") as handle:
            handle.write(_PROXY_CONF.format(dir=self.dir, port=self.port, pipeline=pipeline, filters=filters,
                                            memcached=ports["memcached"], auth=auth))
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

    def _register_in_keystone(self, *, memcached: int) -> str:
        """Users and the object-store endpoint in Keystone; returns the proxy's auth filter sections."""
        keystone = self.keystone
        self.auth_url = keystone.auth_url
        service_user = f"swift-{self.port}"
        service_password = keystone.create_user(project="service", user=service_user, role="admin")
        self.password = keystone.create_user(project=KEYSTONE_PROJECT, user=KEYSTONE_USER)
        keystone.register_endpoint(service_type="object-store", name="swift",
                                   url=f"{self.endpoint}/v1/AUTH_$(project_id)s")
        self.account = f"AUTH_{keystone.project_id(KEYSTONE_PROJECT)}"
        return _KEYSTONEAUTH.format(auth_url=keystone.auth_url, user=service_user, password=service_password,
                                    memcached=memcached)

    def is_ready(self) -> bool:
        if not http_ok(f"{self.endpoint}/healthcheck", expect=lambda status, body: status == 200):
            return False
        if self.keystone is not None:
            return self._keystone_ready()
        try:  # the whole chain answers: auth, then an account listing
            request = urllib.request.Request(self.auth_url, headers={"X-Auth-User": USER, "X-Auth-Key": KEY})
            with urllib.request.urlopen(request, timeout=2) as response:
                token, storage = response.headers["X-Auth-Token"], response.headers["X-Storage-Url"]
            request = urllib.request.Request(storage, headers={"X-Auth-Token": token})
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.status in (200, 204)
        except OSError:
            return False

    def _keystone_ready(self) -> bool:
        import swiftclient

        conn = swiftclient.Connection(retries=0, timeout=30, **self.swiftclient_kwargs())
        try:  # a v3 token from Keystone, which the proxy's authtoken accepts
            conn.head_account()
            return True
        except Exception:  # noqa: BLE001 - not ready yet
            return False
        finally:
            conn.close()

    def swiftclient_kwargs(self) -> dict:
        """``swiftclient.Connection`` arguments for this cluster's test user."""
        if self.keystone is None:
            return {"authurl": self.auth_url, "user": USER, "key": KEY, "auth_version": "1"}
        return {"authurl": self.auth_url, "user": KEYSTONE_USER, "key": self.password, "auth_version": "3",
                "os_options": {"project_name": KEYSTONE_PROJECT, "user_domain_name": "Default",
                               "project_domain_name": "Default", "region_name": "RegionOne"}}

    def connection(self) -> dict:
        if self.keystone is None:
            return {"conn_type": "swift", "host": self.auth_url, "login": USER, "password": KEY,
                    "extra": {"auth_version": "1"}}
        return {"conn_type": "swift", "host": self.auth_url, "login": KEYSTONE_USER, "password": self.password,
                "extra": {"auth_version": "3", "project_name": KEYSTONE_PROJECT, "region_name": "RegionOne"}}
