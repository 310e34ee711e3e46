"""SwiftHook: an Airflow connection to OpenStack Swift (Keystone v3 or tempauth v1)."""

from __future__ import annotations

from typing import Any

from airflow_datastores.stores.base import MissingExtra

try:
    from airflow.sdk import BaseHook
except ImportError:  # pragma: no cover - Airflow before the task SDK
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]


class SwiftHook(BaseHook):
    """Connects to OpenStack Swift with python-swiftclient.

    Connection fields: *host* is the auth URL (``https://keystone:5000/v3``, or
    ``http://proxy:8080/auth/v1.0`` for tempauth), *login* the user (``project:user`` for tempauth),
    *password* the password or key. Extra: ``auth_version`` (``"3"`` default, ``"1"`` for tempauth),
    ``project_name``, ``user_domain_name``, ``project_domain_name``, ``region_name``, ``insecure``,
    ``cacert``.

    :param swift_conn_id: the Airflow connection id.
    """

    conn_name_attr = "swift_conn_id"
    default_conn_name = "swift_default"
    conn_type = "swift"
    hook_name = "OpenStack Swift"

    def __init__(self, swift_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.swift_conn_id = swift_conn_id

    def connection_kwargs(self) -> dict[str, Any]:
        """The arguments of ``swiftclient.Connection`` for this connection."""
        conn = self.get_connection(self.swift_conn_id)
        extra = conn.extra_dejson
        version = str(extra.get("auth_version", "3"))
        kwargs: dict[str, Any] = {
            "authurl": conn.host,
            "user": conn.login,
            "key": conn.password,
            "auth_version": version,
            "retries": int(extra.get("retries", 5)),
            "insecure": str(extra.get("insecure", "false")).lower() in ("true", "1", "yes"),
            "timeout": float(extra.get("timeout", 60)),
        }
        if extra.get("cacert"):
            kwargs["cacert"] = extra["cacert"]
        if version.startswith("3") or version.startswith("2"):
            kwargs["os_options"] = {
                "project_name": extra.get("project_name"),
                "user_domain_name": extra.get("user_domain_name", "Default"),
                "project_domain_name": extra.get("project_domain_name", "Default"),
                "region_name": extra.get("region_name"),
            }
        return kwargs

    def get_conn(self):
        """A new ``swiftclient.Connection`` (not thread-safe: one per thread)."""
        try:
            import swiftclient
        except ImportError as err:
            raise MissingExtra(scheme="swift", extra="swift") from err
        return swiftclient.Connection(**self.connection_kwargs())

    def test_connection(self) -> tuple[bool, str]:
        try:
            self.get_conn().head_account()
        except Exception as err:  # noqa: BLE001 - reported to the UI
            return False, f"Cannot reach Swift: {type(err).__name__}"
        return True, "Connected to OpenStack Swift"
