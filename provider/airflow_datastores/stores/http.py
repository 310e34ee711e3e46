"""Read-only HTTP(S) source: ``https://host/path``. Stat by HEAD, ranged GET where the server allows.

An optional Airflow connection gives basic-auth credentials (login / password) and, in its extra,
``verify``: a CA bundle path, or ``false`` to skip certificate checks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import BinaryIO

import requests

from airflow_datastores.stores.base import (
    CHUNK_SIZE,
    AccessDenied,
    DataStoreError,
    NotFound,
    ObjectInfo,
    Store,
    TransientError,
)

_TIMEOUT = (10, 60)  # connect, read (seconds)


class HttpStore(Store):
    """Files served over HTTP(S); keys are URL paths (with the query string, if any)."""

    schemes = ("http", "https")
    writable = False

    def __init__(self, *, root: str, conn_id: str | None = None) -> None:
        super().__init__(root=root, conn_id=conn_id)
        self._local = threading.local()
        self._auth: tuple[str, str] | None = None
        self._verify: bool | str = True
        if conn_id:
            self._load_connection(conn_id)

    def _load_connection(self, conn_id: str) -> None:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
        if conn.login:
            self._auth = (conn.login, conn.password or "")
        verify = conn.extra_dejson.get("verify", True)
        if isinstance(verify, str) and verify.lower() in ("false", "0", "no"):
            verify = False
        self._verify = verify

    @property
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.auth = self._auth
            self._local.session = session
        return session

    def stat(self, key: str) -> ObjectInfo:
        url = self.url_for(key)
        response = self._request("HEAD", key, allow_redirects=True)
        if response.status_code == 405:  # some servers refuse HEAD: ask for the headers of a GET
            response = self._request("GET", key, stream=True)
            response.close()
        self._raise_for_status(response, url)
        headers = response.headers
        if "Content-Length" not in headers:
            raise DataStoreError(f"{url}: the server does not say the file's size (no Content-Length)")
        size = int(headers["Content-Length"])
        identity = headers.get("ETag") or f"{headers.get('Last-Modified', '')}|{size}"
        modified = None
        if "Last-Modified" in headers:
            try:
                modified = parsedate_to_datetime(headers["Last-Modified"])
            except (TypeError, ValueError):
                modified = None
        return ObjectInfo(key=key, url=url, size=size, identity=identity, modified=modified)

    def read(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        url = self.url_for(key)
        headers = {}
        if start or end is not None:
            headers["Range"] = f"bytes={start}-" + ("" if end is None else str(end - 1))
        response = self._request("GET", key, headers=headers, stream=True)
        self._raise_for_status(response, url)
        # A server that ignores Range answers 200 with the whole body: skip and cut by hand.
        skip = start if (headers and response.status_code == 200) else 0
        limit = None if end is None else end - start
        return self._stream(response, url, skip, limit)

    @staticmethod
    def _stream(response: requests.Response, url: str, skip: int, limit: int | None) -> Iterator[bytes]:
        with response:
            try:
                for chunk in response.iter_content(CHUNK_SIZE):
                    if skip:
                        dropped = min(skip, len(chunk))
                        chunk, skip = chunk[dropped:], skip - dropped
                    if limit is not None:
                        chunk, limit = chunk[:limit], limit - min(limit, len(chunk))
                    if chunk:
                        yield chunk
                    if limit == 0:
                        return
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as err:
                raise TransientError(f"{url}: connection lost while reading ({type(err).__name__})") from None

    def write(
        self, key: str, data: BinaryIO, *, size: int | None = None, create_only: bool = False
    ) -> ObjectInfo:
        self._require_writable(key)
        raise AssertionError("unreachable")

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        raise DataStoreError(
            f"{self.url_for(prefix)}: HTTP has no listing, so wildcards cannot be resolved; "
            "name each file by its full URL"
        )

    def delete(self, key: str) -> None:
        self._require_writable(key)

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()

    def _request(self, method: str, key: str, **kwargs) -> requests.Response:
        url = self.url_for(key)
        try:
            # verify per request: a session-level setting loses to REQUESTS_CA_BUNDLE in requests.
            return self._session.request(method, url, timeout=_TIMEOUT, verify=self._verify, **kwargs)
        except requests.exceptions.SSLError:
            raise DataStoreError(
                f"{url}: the server's TLS certificate is not trusted; set 'verify' in the connection's "
                "extra to the path of a CA bundle that signs it"
            ) from None
        except (requests.ConnectionError, requests.Timeout) as err:
            raise TransientError(f"{url}: cannot connect ({type(err).__name__})") from None

    @staticmethod
    def _raise_for_status(response: requests.Response, url: str) -> None:
        status = response.status_code
        if status < 400:
            return
        response.close()
        if status == 404 or status == 410:
            raise NotFound(f"{url}: not found (HTTP {status})")
        if status in (401, 403):
            raise AccessDenied(
                f"{url}: access refused (HTTP {status}); give the input a connection with a login "
                "and password (conn_id) if the server requires them"
            )
        if status == 429 or status >= 500:
            raise TransientError(f"{url}: server answered HTTP {status}")
        raise DataStoreError(f"{url}: server answered HTTP {status}")
