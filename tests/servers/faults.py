"""A fault-injecting HTTP proxy between a client and one real server, for the fault tests.

Each client connection carries one request (the proxy asks the server for ``Connection: close``), so
a fault hits exactly the request it was meant for. A :class:`Fault` names the requests it applies to
(method, a regular expression searched in the request target, how many times) and what happens to
them: an answer of its own (``status``, e.g. 503, without asking the server), a reset after N bytes
of the response body, one flipped byte of the response (or request) body, a stall. The proxy also
rewrites the server's own address to its own in response headers (a storage URL, an upload session's
Location), so every later request goes through it too. ``requests`` logs what passed.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

HOST = "127.0.0.1"
_HEAD_END = b"\r\n\r\n"
_HOP_HEADERS = (b"connection", b"keep-alive", b"proxy-connection")


@dataclass
class Fault:
    """What to do to the next ``times`` requests that match.

    :param method: HTTP method to match (``None``: any).
    :param path: regular expression searched in the request target (path and query).
    :param times: how many matching requests it applies to.
    :param status: answer with this status (and ``body``) instead of forwarding the request.
    :param reset_after: reset the connection after this many bytes of the response body.
    :param flip_at: flip (xor 0xff) the response body's byte at this offset.
    :param flip_request_at: flip the request body's byte at this offset (an upload corrupted in transit).
    :param stall: seconds to stop sending the response body, after ``stall_after`` of its bytes.
    :param on_fire: called (with no argument) when the fault takes effect, before it does.
    :param unless_header: do not match requests that carry this header (e.g. ``range``: the first read only).
    :param skip: let this many matching requests pass untouched first.
    :param delay: seconds to hold the request before it is forwarded (a slow server: requests overlap).
    :param header: ``(name, value)`` regular expressions: match only requests with a header whose
        lower-case name matches ``name`` wholly and whose value ``value`` is found in (e.g.
        ``("x-ms-range|range", "bytes=1048576-")``: the ranged read from that byte).
    """

    method: str | None = None
    path: str = ""
    times: int = 1
    status: int | None = None
    body: bytes = b""
    reset_after: int | None = None
    flip_at: int | None = None
    flip_request_at: int | None = None
    stall: float | None = None
    stall_after: int = 0
    on_fire: Callable[[], None] | None = None
    unless_header: str | None = None
    skip: int = 0
    header: tuple[str, str] | None = None
    delay: float | None = None
    fired: int = 0

    def matches(self, method: str, target: str, headers: dict[str, str]) -> bool:
        if self.times <= 0 or (self.method and self.method != method):
            return False
        if self.unless_header and self.unless_header.lower() in headers:
            return False
        if self.header and not any(re.fullmatch(self.header[0], name) and re.search(self.header[1], value)
                                   for name, value in headers.items()):
            return False
        return re.search(self.path, target) is not None


@dataclass
class Seen:
    """One request that passed the proxy."""

    method: str
    target: str
    headers: dict[str, str]
    fault: Fault | None = None
    status: int | None = field(default=None)


class FaultProxy:
    """A TCP proxy on a free 127.0.0.1 port in front of ``upstream_port``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.faults: list[Fault] = []
        self.requests: list[Seen] = []
        self.active = 0  # requests in progress now
        self.peak = 0  # the most in progress at once since the last clear()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener = socket.create_server((HOST, 0))
        self.port = self._listener.getsockname()[1]
        self.endpoint = f"http://{HOST}:{self.port}"
        self._thread = threading.Thread(target=self._accept, name=f"fault-proxy-{self.port}", daemon=True)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.requests.clear()
            self.peak = self.active

    def fired(self) -> int:
        with self._lock:
            return sum(f.fired for f in self.faults)

    # The relay

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _take(self, method: str, target: str, headers: dict[str, str]) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, target, headers):
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    fault.times -= 1
                    fault.fired += 1
                    return fault
        return None

    def _serve(self, client: socket.socket) -> None:
        upstream, counted = None, False
        try:
            head, rest = _read_head(client)
            if head is None:
                return
            request_line, header_lines = _split_head(head)
            method, target = request_line.decode("latin-1").split(" ")[:2]
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in header_lines}
            fault = self._take(method, target, headers)
            seen = Seen(method=method, target=target, headers=headers, fault=fault)
            with self._lock:
                self.requests.append(seen)
                self.active += 1
                self.peak = max(self.peak, self.active)
                counted = True
            if fault and fault.delay:
                self._stopping.wait(fault.delay)
            if fault and fault.status is not None:
                if fault.on_fire:
                    fault.on_fire()
                seen.status = fault.status
                _drain_body(client, headers, rest)
                client.sendall(b"HTTP/1.1 %d Injected fault\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                               % (fault.status, len(fault.body), fault.body))
                return
            upstream = socket.create_connection((HOST, self.upstream_port), timeout=300)
            kept = [(k, v) for k, v in header_lines if k.lower() not in _HOP_HEADERS]
            upstream.sendall(_join_head(request_line, [*kept, (b"Connection", b"close")]))
            sender = threading.Thread(target=self._pump_request, args=(client, upstream, rest, fault), daemon=True)
            sender.start()
            self._pump_response(upstream, client, fault, seen)
        except OSError:
            pass
        finally:
            if counted:
                with self._lock:
                    self.active -= 1
            for sock in (client, upstream):
                if sock is not None:
                    try:
                        sock.close()
                    except OSError:
                        pass

    def _pump_request(self, client: socket.socket, upstream: socket.socket, rest: bytes, fault: Fault | None) -> None:
        offset = 0
        try:
            data = rest
            while True:
                if data:
                    if fault and fault.flip_request_at is not None and offset <= fault.flip_request_at < offset + len(data):
                        i = fault.flip_request_at - offset
                        data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
                    upstream.sendall(data)
                    offset += len(data)
                data = client.recv(1 << 20)
                if not data:
                    break
        except OSError:
            pass

    def _pump_response(self, upstream: socket.socket, client: socket.socket, fault: Fault | None, seen: Seen) -> None:
        while True:
            head, body = _read_head(upstream)
            if head is None:
                return
            status_line, header_lines = _split_head(head)
            seen.status = int(status_line.split(b" ")[1])
            ours = f"{HOST}:{self.port}".encode()
            theirs = f"{HOST}:{self.upstream_port}".encode()
            header_lines = [(k, v.replace(theirs, ours)) for k, v in header_lines if k.lower() not in _HOP_HEADERS]
            if seen.status != 100:  # one request per connection: the client must not reuse it
                header_lines.append((b"Connection", b"close"))
            client.sendall(_join_head(status_line, header_lines))
            if seen.status != 100:
                break
            if body:  # the final answer's head follows the 100 Continue
                upstream = _Prepended(upstream, body)
        offset = 0
        stalled = False
        while True:
            if body:
                if fault and fault.flip_at is not None and offset <= fault.flip_at < offset + len(body):
                    if fault.on_fire:
                        fault.on_fire()
                    i = fault.flip_at - offset
                    body = body[:i] + bytes([body[i] ^ 0xFF]) + body[i + 1:]
                if fault and fault.reset_after is not None and offset + len(body) >= fault.reset_after:
                    client.sendall(body[: max(0, fault.reset_after - offset)])
                    if fault.on_fire:
                        fault.on_fire()
                    _reset(client)
                    return
                if fault and fault.stall and not stalled and offset + len(body) >= fault.stall_after:
                    cut = max(0, fault.stall_after - offset)
                    client.sendall(body[:cut])
                    if fault.on_fire:
                        fault.on_fire()
                    self._stopping.wait(fault.stall)
                    stalled, body, offset = True, body[cut:], offset + cut
                client.sendall(body)
                offset += len(body)
            body = upstream.recv(1 << 20)
            if not body:
                return


class _Prepended:
    """A socket whose next ``recv`` returns bytes already read."""

    def __init__(self, sock: socket.socket, data: bytes) -> None:
        self._sock, self._data = sock, data

    def recv(self, size: int) -> bytes:
        if self._data:
            data, self._data = self._data[:size], self._data[size:]
            return data
        return self._sock.recv(size)

    def close(self) -> None:
        self._sock.close()


def _read_head(sock) -> tuple[bytes | None, bytes]:
    data = b""
    while _HEAD_END not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
    head, _, rest = data.partition(_HEAD_END)
    return head, rest


def _split_head(head: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    first, *lines = head.split(b"\r\n")
    headers = []
    for line in lines:
        name, _, value = line.partition(b":")
        headers.append((name.strip(), value.strip()))
    return first, headers


def _join_head(first: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    return first + b"\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in headers) + b"\r\n"


def _drain_body(client: socket.socket, headers: dict[str, str], rest: bytes) -> None:
    """Read a request body we answer ourselves, so the client sees the answer, not a broken pipe."""
    if "100-continue" in headers.get("expect", "").lower():
        return
    left = int(headers.get("content-length", "0") or 0) - len(rest)
    client.settimeout(30)
    while left > 0:
        chunk = client.recv(min(left, 1 << 20))
        if not chunk:
            return
        left -= len(chunk)


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST, as a dropped connection looks to the client."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    try:
        sock.shutdown(socket.SHUT_RD)  # wakes the thread reading the request side, so close() is final
    except OSError:
        pass
    sock.close()


def wait_for(condition: Callable[[], bool], *, timeout: float = 120.0, interval: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
