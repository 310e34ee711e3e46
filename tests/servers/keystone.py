"""OpenStack Keystone v3 (Debian's package) on SQLite, served by uwsgi, in a temp directory.

Setup (db_sync, key repositories, bootstrap) takes a minute or more on a loaded machine, so a session
starts one lazily and shares it. The admin, service and test users get random passwords per start.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys

from tests.servers.base import HOST, INSTALL_HINT, LocalServer, ServerError, free_port, http_ok

REGION = "RegionOne"

_KEYSTONE_CONF = """[DEFAULT]
log_dir = {dir}/log
use_stderr = true
[database]
connection = sqlite:///{dir}/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = {dir}/fernet-keys
[fernet_receipts]
key_repository = {dir}/fernet-receipts
[credential]
key_repository = {dir}/credential-keys
[cache]
enabled = false
"""


class KeystoneServer(LocalServer):
    """Keystone's public API at ``.auth_url`` (``http://127.0.0.1:PORT/v3``), bootstrapped with an admin.

    Use :meth:`create_user` for users scoped to a project and :meth:`register_endpoint` to put a service
    into the catalog.
    """

    name = "keystone"
    ready_timeout = 600.0  # db_sync and bootstrap run inside start(); both are slow on a loaded machine

    def launch(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        self.auth_url = f"{self.endpoint}/v3"
        self.admin_password = secrets.token_urlsafe(18)
        for sub in ("log", "fernet-keys", "fernet-receipts", "credential-keys"):
            os.makedirs(os.path.join(self.dir, sub), mode=0o700, exist_ok=True)
        self.conf = os.path.join(self.dir, "keystone.conf")
        with open(self.conf, "w") as handle:
            handle.write(_KEYSTONE_CONF.format(dir=self.dir))
        self._manage("db_sync")
        # Keystone leaves read cursors open between requests; in rollback-journal mode they block every
        # later write ("database is locked"). In WAL mode readers never block a writer. The mode persists.
        with sqlite3.connect(os.path.join(self.dir, "keystone.db")) as db:
            db.execute("PRAGMA journal_mode=WAL")
        for repository in ("fernet_setup", "credential_setup"):
            self._manage(repository, "--keystone-user", "root", "--keystone-group", "root")
        self._manage("bootstrap", f"--bootstrap-password={self.admin_password}", "--bootstrap-region-id", REGION,
                     *(arg for kind in ("public", "internal", "admin")
                       for arg in (f"--bootstrap-{kind}-url", self.auth_url)),
                     secret=self.admin_password)
        env = dict(os.environ, OS_KEYSTONE_CONFIG_FILES=self.conf)
        # uwsgi's http-socket drops reused keep-alive connections (seen as a 401 from Swift): close each one.
        self.spawn(["uwsgi", "--plugin", "python3", "--http-socket", f"{HOST}:{self.port}",
                    "--wsgi-file", "/usr/bin/keystone-wsgi-public", "--add-header", "Connection: close",
                    "--master", "--processes", "1", "--threads", "1", "--die-on-term",
                    "--buffer-size", "65535", "--chdir", self.dir],
                   log_name="uwsgi.log", env=env)

    def _manage(self, *args: str, secret: str | None = None) -> None:
        argv = ["keystone-manage", "--config-file", self.conf, *args]
        try:
            result = subprocess.run(argv, cwd=self.dir, capture_output=True, text=True, timeout=self.ready_timeout)
        except FileNotFoundError:
            raise ServerError(f"keystone: keystone-manage is not installed; {INSTALL_HINT}") from None
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-2000:]
            if secret:
                output = output.replace(secret, "***")
            raise ServerError(f"keystone: keystone-manage {args[0]} failed with {result.returncode}:\n{output}")

    def is_ready(self) -> bool:
        return http_ok(self.auth_url, timeout=5, expect=lambda status, body: status == 200)

    def start(self) -> KeystoneServer:
        super().start()
        self._admin = self._client()
        return self

    def _client(self):
        from keystoneauth1 import session
        from keystoneauth1.identity import v3
        from keystoneclient.v3 import client

        auth = v3.Password(auth_url=self.auth_url, username="admin", password=self.admin_password,
                           project_name="admin", user_domain_id="default", project_domain_id="default")
        return client.Client(session=session.Session(auth=auth, timeout=120))

    def _project(self, name: str):
        found = self._admin.projects.list(name=name, domain="default")
        return found[0] if found else self._admin.projects.create(name=name, domain="default")

    def create_user(self, *, project: str, user: str, role: str = "member") -> str:
        """Create ``user`` (domain Default) with ``role`` on ``project`` (created if missing).

        :param project: name of the project the user's tokens are scoped to.
        :param user: the user name.
        :param role: a role bootstrap created: ``admin``, ``member`` or ``reader``.
        :return: the user's random password.
        """
        password = secrets.token_urlsafe(18)
        scope = self._project(project)
        created = self._admin.users.create(name=user, domain="default", password=password, default_project=scope)
        (found,) = self._admin.roles.list(name=role)
        self._admin.roles.grant(found, user=created, project=scope)
        return password

    def register_endpoint(self, *, service_type: str, name: str, url: str) -> None:
        """Put ``url`` into the catalog as the public, internal and admin endpoint of a new service.

        :param service_type: e.g. ``object-store``.
        :param name: the service's name, e.g. ``swift``.
        :param url: the endpoint URL; Keystone substitutes ``$(project_id)s``.
        """
        service = self._admin.services.create(name=name, type=service_type)
        for interface in ("public", "internal", "admin"):
            self._admin.endpoints.create(service=service, url=url, interface=interface, region=REGION)

    def project_id(self, name: str) -> str:
        """The id of the project called ``name``."""
        return self._project(name).id


if __name__ == "__main__":  # start one by hand: python -m tests.servers.keystone
    with KeystoneServer() as server:
        print(f"Keystone ready at {server.auth_url} in {server.startup_seconds:.0f} s", file=sys.stderr)
        input("press Enter to stop\n")
