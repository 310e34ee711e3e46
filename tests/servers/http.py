"""HTTP and HTTPS file servers on the stdlib, with what the stdlib's lacks: Range and If-Range, ETag,
``Repr-Digest`` (RFC 9530) for files in a ``digest/`` directory, basic auth on ``/private/``, and a log of every
request for the tests to read. TLS uses a CA made with openssl."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import http.server
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.servers.base import HOST, INSTALL_HINT, ServerError

BASIC_USER, BASIC_PASSWORD = "reader", "s3cret-for-tests"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    range: str | None


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _FileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, *, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        self.server.requests.append(Request(self.command, path, self.headers.get("Range")))
        if path.startswith("/private/") and not self._authorized():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="tests"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        file = (self.server.root / path.lstrip("/")).resolve()
        if not file.is_file() or self.server.root not in file.parents:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        st = file.stat()
        size = st.st_size
        start, end = 0, size - 1
        status = 200
        etag = f'"{st.st_mtime_ns:x}-{size:x}"'
        if_range = self.headers.get("If-Range")
        if (rng := self.headers.get("Range")) and rng.startswith("bytes=") and if_range in (None, etag):
            first, _, last = rng[6:].partition("-")
            start = int(first) if first else max(0, size - int(last))
            end = min(int(last), size - 1) if first and last else size - 1
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        if "/digest/" in path:
            sha256 = base64.b64encode(hashlib.sha256(file.read_bytes()).digest()).decode()
            self.send_header("Repr-Digest", f"sha-256=:{sha256}:")
        self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if body:
            with open(file, "rb") as handle:
                handle.seek(start)
                remaining = end - start + 1
                while remaining > 0 and (chunk := handle.read(min(remaining, 1 << 20))):
                    self.wfile.write(chunk)
                    remaining -= len(chunk)

    def _authorized(self) -> bool:
        expected = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
        return self.headers.get("Authorization") == f"Basic {expected}"


class _FileServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__((HOST, 0), _Handler)
        self.root = root.resolve()
        self.requests: list[Request] = []


def make_certificates(directory: str) -> tuple[str, str, str]:
    """A CA and a leaf for 127.0.0.1 / localhost signed by it: (ca.pem, cert.pem, key.pem)."""
    if shutil.which("openssl") is None:
        raise ServerError(f"openssl is not installed; {INSTALL_HINT}")
    ca_key, ca, key, csr, cert = (os.path.join(directory, n) for n in
                                  ("ca.key", "ca.pem", "leaf.key", "leaf.csr", "leaf.pem"))
    ext = os.path.join(directory, "leaf.ext")
    with open(ext, "w") as handle:
        handle.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
    for argv in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=airflow-datastores test CA"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2",
         "-extfile", ext],
    ):
        subprocess.run(["openssl", *argv], check=True, capture_output=True)
    return ca, cert, key


class HttpFileServer:
    """Serves ``root_dir`` over HTTP, or HTTPS when ``tls`` (in a thread of this process).

    :param root_dir: the directory served; tests write files into it.
    :param tls: serve HTTPS with a certificate signed by a fresh CA (``ca_path``).
    """

    def __init__(self, *, root_dir: str | None = None, tls: bool = False) -> None:
        self._tmp = tempfile.mkdtemp(prefix="datastores-http-")
        self.root_dir = Path(root_dir or os.path.join(self._tmp, "www"))
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self.tls = tls
        self.ca_path: str | None = None

    def start(self) -> HttpFileServer:
        self._server = _FileServer(self.root_dir)
        scheme = "http"
        if self.tls:
            self.ca_path, cert, key = make_certificates(self._tmp)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.port = self._server.server_address[1]
        self.endpoint = f"{scheme}://{HOST}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"{scheme}-server", daemon=True)
        self._thread.start()
        return self

    @property
    def requests(self) -> list[Request]:
        return self._server.requests

    def clear_requests(self) -> None:
        self._server.requests.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    close = stop  # as the process servers' close: stopped, and its directory gone

    def connection(self) -> dict:
        conn = {"conn_type": "http", "host": HOST, "port": self.port}
        if self.ca_path:
            conn["extra"] = {"verify": self.ca_path}
        return conn

    def __enter__(self) -> HttpFileServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
