"""Read-only HTTP(S) source: ``https://host/path``. Stat by HEAD, ranged GET where the server allows.

An optional Airflow connection gives basic-auth credentials (login / password) and, in its extra,
``verify``: a CA bundle path, or ``false`` to skip certificate checks.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import BinaryIO

import requests

from airflow_datastores.errors import AccessDenied, DataStoreError, NotFound, ObjectChanged, TransientError
from airflow_datastores.patterns import has_wildcard
from airflow_datastores.redaction import split_userinfo
from airflow_datastores.stores.base import READ_PIECE, ObjectInfo, Store

#: Digest algorithm names of ``Digest`` (RFC 3230) and ``Repr-Digest`` (RFC 9530) -> ours.
_DIGESTS = {"sha-256": "sha256", "sha": "sha1", "sha-1": "sha1", "md5": "md5"}


class HttpStore(Store):
    """Files served over HTTP(S); keys are URL paths (with the query string, if any)."""

    schemes = ("http", "https")
    writable = False
    label = "http"

    def __init__(self, *, root: str, conn_id: str | None = None) -> None:
        # A password written into the URL is the credential; the store's URLs never carry it.
        root, userinfo = split_userinfo(root)
        super().__init__(root=root, conn_id=conn_id)
        self._local = threading.local()
        self._auth: tuple[str, str] | None = userinfo
        self._verify: bool | str = True
        #: (key, identity) of the files whose HEAD said ``Accept-Ranges: bytes``
        self._ranged: set[tuple[str, str]] = set()
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
        identity = _identity(headers, size)
        if headers.get("Accept-Ranges", "").strip().lower() == "bytes":
            self._ranged.add((key, identity))
        modified = None
        if "Last-Modified" in headers:
            try:
                modified = parsedate_to_datetime(headers["Last-Modified"])
            except (TypeError, ValueError):
                modified = None
        return ObjectInfo(key=key, url=url, size=size, identity=identity, modified=modified,
                          checksums=_digests(headers))

    def serves_ranges(self, info: ObjectInfo) -> bool:
        """Whether the server said ``Accept-Ranges: bytes`` for this file (a server that ignores
        ``Range`` sends the whole file for every range)."""
        return (info.key, info.identity) in self._ranged

    def read(self, key: str, *, start: int = 0, end: int | None = None,
             identity: str | None = None) -> Iterator[bytes]:
        url = self.url_for(key)
        headers = {}
        if start or end is not None:
            headers["Range"] = f"bytes={start}-" + ("" if end is None else str(end - 1))
            if identity:  # the range only if the file is still the one first seen, else all of it
                headers["If-Range"] = identity.split("|")[0]
        response = self._request("GET", key, headers=headers, stream=True)
        self._raise_for_status(response, url)
        # A whole-body answer (to no range, or to one whose If-Range no longer holds) of another file.
        if identity and response.status_code == 200 and _replaced(identity, response.headers):
            response.close()
            raise ObjectChanged(f"{url}: the file was replaced since it was first seen ({identity}, now "
                                f"{_identity(response.headers, -1).split('|')[0]})")
        # A server that ignores Range answers 200 with the whole body: skip and cut by hand.
        skip = start if (headers and response.status_code == 200) else 0
        limit = None if end is None else end - start
        return self._stream(response, url, skip, limit)

    @staticmethod
    def _stream(response: requests.Response, url: str, skip: int, limit: int | None) -> Iterator[bytes]:
        with response:
            try:
                for chunk in response.iter_content(READ_PIECE):
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
        self, key: str, data: BinaryIO, *, create_only: bool = False
    ) -> ObjectInfo:
        self._require_writable(key)
        raise AssertionError("unreachable")

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        what = "wildcards cannot be resolved" if has_wildcard(prefix) else "only single files can be named"
        raise DataStoreError(
            f"{self.url_for(prefix)}: HTTP has no listing, so {what}; name each file by its full URL"
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
            from airflow_datastores.retry import default_policy

            timeout = (10, default_policy().read_timeout)  # connect, read (seconds)
            return self._session.request(method, url, timeout=timeout, verify=self._verify, **kwargs)
        except requests.exceptions.SSLError:
            raise DataStoreError(
                f"{url}: the server's TLS certificate is not trusted; set 'verify' in the connection's "
                "extra to the path of a CA bundle that signs it"
            ) from None
        except (requests.ConnectionError, requests.Timeout) as err:
            raise TransientError(f"{url}: cannot connect ({type(err).__name__})") from None

    def _raise_for_status(self, response: requests.Response, url: str) -> None:
        status = response.status_code
        if status < 400:
            return
        response.close()
        if status == 404 or status == 410:
            raise NotFound(f"{url}: not found (HTTP {status})")
        if status in (401, 403):
            if self.conn_id:
                hint = f"check the login and password of connection {self.conn_id!r}"
            elif self._auth:
                hint = "check the user and password written into the URL"
            else:
                hint = "give the input a connection with a login and password (conn_id) if the server requires them"
            raise AccessDenied(f"{url}: access refused (HTTP {status}); {hint}")
        if status in (408, 429) or status >= 500:
            raise TransientError(f"{url}: server answered HTTP {status}")
        raise DataStoreError(f"{url}: server answered HTTP {status}")


def _identity(headers, size: int) -> str:
    """The ETag, else ``Last-Modified|size``: what a resumed read is pinned to with ``If-Range``."""
    return headers.get("ETag") or f"{headers.get('Last-Modified', '')}|{size}"


def _replaced(identity: str, headers) -> bool:
    """Whether a whole-body answer to a ranged, If-Range request is of another file than ``identity``
    (a server that ignores ranges answers 200 for the same file too)."""
    validator = identity.split("|")[0]
    if validator.startswith(('"', 'W/"')):
        return bool(headers.get("ETag")) and headers["ETag"] != validator
    return bool(validator and headers.get("Last-Modified")) and headers["Last-Modified"] != validator


def _digests(headers) -> dict[str, str]:
    """Checksums the server states: ``Content-MD5``, ``Digest`` (RFC 3230), ``Repr-Digest`` (RFC 9530)."""
    found: dict[str, str] = {}
    if headers.get("Content-MD5"):
        found["md5"] = _b64hex(headers["Content-MD5"])
    for name, value in re.findall(r"([A-Za-z0-9-]+)=([^,]+)", headers.get("Digest", "")):
        if name.lower() in _DIGESTS:
            found.setdefault(_DIGESTS[name.lower()], _b64hex(value))
    for name, value in re.findall(r"([A-Za-z0-9-]+)=:([^:]*):", headers.get("Repr-Digest", "")):
        if name.lower() in _DIGESTS:
            found[_DIGESTS[name.lower()]] = _b64hex(value)
    return {k: v for k, v in found.items() if v}


def _b64hex(value: str) -> str:
    try:
        return base64.b64decode(value.strip()).hex()
    except ValueError:
        return ""
