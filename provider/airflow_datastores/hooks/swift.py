"""SwiftHook: an Airflow connection to OpenStack Swift (Keystone v3 or tempauth v1), via python-swiftclient."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_datastores.errors import DataStoreError, MissingExtra

try:
    from airflow.sdk import BaseHook
except ImportError:  # pragma: no cover - Airflow before the task SDK
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]

if TYPE_CHECKING:
    from swiftclient import Connection

_TRUE = ("true", "1", "yes", "on")


class KeystoneMissing(MissingExtra):
    """A Keystone v3 connection, but python-keystoneclient or keystoneauth1 is not installed."""

    def __init__(self, *, conn_id: str) -> None:
        DataStoreError.__init__(
            self,
            f"Swift connection {conn_id!r} uses Keystone v3 auth, which needs python-keystoneclient and "
            "keystoneauth1 (part of the 'swift' extra). Install them with: "
            "pip install 'airflow-provider-datastores[swift]'",
        )
        self.extra = "swift"


class SwiftHook(BaseHook):
    """Connects to OpenStack Swift with python-swiftclient.

    Connection fields: *host* is the auth URL (``https://keystone:5000/v3``, or
    ``http://proxy:8080/auth/v1.0`` for tempauth), *login* the user (``account:user`` for tempauth),
    *password* the password or key. Extra: ``auth_version`` (``"3"``, the default, or ``"1"`` for
    tempauth), ``project_name``, ``user_domain_name`` and ``project_domain_name`` (both default
    ``Default``), ``region_name``, ``insecure`` (skip TLS verification) and ``cacert`` (path of a CA
    bundle). Keystone v3 needs python-keystoneclient and keystoneauth1 next to python-swiftclient; the
    ``swift`` extra installs all three.

    :param swift_conn_id: the Airflow connection id.
    :param retries: how often swiftclient repeats a request that failed with a network error, a 5xx or
        a rate limit, with exponential backoff; an expired token is always renewed once.
    :param timeout: seconds to wait for a connection or an answer.
    """

    conn_name_attr = "swift_conn_id"
    default_conn_name = "swift_default"
    conn_type = "swift"
    hook_name = "OpenStack Swift"

    def __init__(
        self,
        *,
        swift_conn_id: str = default_conn_name,
        retries: int = 5,
        timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.swift_conn_id = swift_conn_id
        self.retries = retries
        self.timeout = timeout

    def get_conn(self, **overrides: Any) -> Connection:
        """A new ``swiftclient.Connection``. It is not thread-safe: use one per thread.

        :param overrides: further ``Connection`` arguments, e.g. ``preauthurl`` and ``preauthtoken`` to
            reuse a token another connection of this hook obtained.
        """
        try:
            import swiftclient
            import swiftclient.client
        except ImportError as err:
            raise MissingExtra(scheme="swift", extra="swift") from err
        # swiftclient logs failed requests at INFO with the first 16 characters of the token or key.
        swiftclient.client.logger_settings["reveal_sensitive_prefix"] = 0
        kwargs = {**self._connection_kwargs, **overrides}
        # swiftclient imports the Keystone libraries if it can and fails only at the first request.
        if kwargs["auth_version"] == "3" and (swiftclient.client.ksclient_v3 is None
                                              or swiftclient.client.ksa_v3 is None):
            raise KeystoneMissing(conn_id=self.swift_conn_id)
        return swiftclient.Connection(**kwargs)

    @cached_property
    def _connection_kwargs(self) -> dict[str, Any]:
        """The ``swiftclient.Connection`` arguments of the Airflow connection, read once."""
        conn = self.get_connection(self.swift_conn_id)
        extra = conn.extra_dejson

        def field(name: str, default: Any = None) -> Any:
            # Airflow 2 forms stored custom fields as extra__<conn type>__<name>.
            value = extra.get(name, extra.get(f"extra__swift__{name}"))
            return default if value in (None, "") else value

        if not conn.host:
            raise DataStoreError(f"Swift connection {self.swift_conn_id!r} has no host: set it to the auth URL")
        version = str(field("auth_version", "3")).lower().removeprefix("v")
        if version not in ("1", "1.0", "3", "3.0"):
            raise DataStoreError(
                f"Swift connection {self.swift_conn_id!r}: auth_version {version!r} is not supported; "
                "use 3 (Keystone v3) or 1 (tempauth)"
            )
        kwargs: dict[str, Any] = {
            "authurl": conn.host,
            "user": conn.login,
            "key": conn.password,
            "auth_version": version[0],
            "retries": self.retries,
            "timeout": self.timeout,
            "insecure": str(field("insecure", False)).lower() in _TRUE,
            "cacert": field("cacert"),
        }
        if version[0] == "3":
            options = {
                "project_name": field("project_name"),
                "user_domain_name": field("user_domain_name", "Default"),
                "project_domain_name": field("project_domain_name", "Default"),
                "region_name": field("region_name"),
            }
            kwargs["os_options"] = {name: value for name, value in options.items() if value is not None}
        return kwargs

    def test_connection(self) -> tuple[bool, str]:
        """Authenticate and read the account's metadata; the message never carries a secret."""
        try:
            self.get_conn(retries=0).head_account()
        except DataStoreError as err:
            return False, str(err)
        except Exception as err:  # noqa: BLE001 - reported to the UI
            status, message = getattr(err, "http_status", None), str(getattr(err, "msg", ""))
            if status in (401, 403) or "unauthorized" in message.lower():
                return False, "Swift refused the credentials (check user, password, project and domains)"
            return False, f"Cannot use Swift: {type(err).__name__}" + (f" (HTTP {status})" if status else "")
        return True, "Connected to OpenStack Swift"
