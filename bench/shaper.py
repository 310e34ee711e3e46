"""A shaping TCP proxy for the bench's network profile: what a cloud store looks like from a worker.

Every connection through it gets, in each direction, its own rate (bytes per second; parallel
connections add up, as on S3, GCS and Azure, where one stream is capped at tens of MB/s) and half of a
round-trip time of delay on every byte. A new connection waits one round trip before its first byte
goes on (the TCP handshake the loopback does not cost). Loopback only: it listens on 127.0.0.1 and
forwards to a port on 127.0.0.1.

Not simulated: TCP slow start, loss, a shared bottleneck across connections (the server's own disk
and the two cores are shared anyway), TLS.

Run it as a process of its own, so its work never shares the measured process's interpreter::

    python -m bench.shaper --upstream-port 8333 --rate 40e6 --rtt 0.020

It prints the port it listens on as its first line, then serves until it is terminated.
:class:`Shaper` does that from Python (a context manager).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import signal
import subprocess
import sys

HOST = "127.0.0.1"
#: Bytes a connection's direction holds before it stops reading: at least twice what is on the
#: wire (rate x delay), so the rate, not this bound, caps a stream.
MIN_BUFFER = 1 << 20
#: Bytes sent on the wire as one piece: small enough that a piece's bytes are not held long (1.6 ms at
#: 40 MB/s), large enough that a 400 MB/s bench costs the proxy little CPU.
PIECE = 64 * 1024


class _Direction:
    """One direction of one connection: bytes wait for the wire (the rate) and then the delay."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, rate: float, delay: float, free_at: float,
                 limit: int) -> None:
        self.loop, self.rate, self.delay, self.limit = loop, rate, delay, limit
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.free_at = free_at  # when the wire is free for the next byte
        self.held = 0
        self.source: asyncio.Transport | None = None
        self.target: asyncio.Transport | None = None
        self.ended = False  # the source closed: close the target once the queue is empty
        self._timer: asyncio.TimerHandle | None = None
        self._paused = False

    def feed(self, data: bytes) -> None:
        now = self.loop.time()
        view = memoryview(data)
        for offset in range(0, len(data), PIECE):
            piece = bytes(view[offset:offset + PIECE])
            start = max(now, self.free_at)
            self.free_at = start + len(piece) / self.rate
            self.queue.append((self.free_at + self.delay, piece))
            self.held += len(piece)
        if self.held >= self.limit and not self._paused and self.source is not None:
            self._paused = True
            self.source.pause_reading()
        self._schedule()

    def end(self) -> None:
        self.ended = True
        self._schedule()

    def target_ready(self) -> None:
        """The socket the bytes go to is connected: what waited for it can go."""
        if self._timer is None:
            self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None or self.target is None:
            return  # a flush is due already, or the server's socket is still connecting
        if self.queue:
            self._timer = self.loop.call_at(self.queue[0][0], self._flush)
        elif self.ended and self.target is not None:
            self.target.close()

    def _flush(self) -> None:
        self._timer = None
        now = self.loop.time()
        due = []
        while self.queue and self.queue[0][0] <= now:
            due.append(self.queue.popleft()[1])
        if due and self.target is not None and not self.target.is_closing():
            self.target.write(b"".join(due))
        self.held -= sum(map(len, due))
        if self._paused and self.held < self.limit // 2 and self.source is not None:
            self._paused = False
            self.source.resume_reading()
        self._schedule()


class _Side(asyncio.Protocol):
    """One socket of a proxied connection; what it receives goes into ``outgoing``."""

    def __init__(self, outgoing: _Direction, incoming: _Direction) -> None:
        self.outgoing, self.incoming = outgoing, incoming

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.outgoing.source = transport  # type: ignore[assignment]
        self.incoming.target = transport  # type: ignore[assignment]
        self.incoming.target_ready()

    def data_received(self, data: bytes) -> None:
        self.outgoing.feed(data)

    def eof_received(self) -> bool:
        self.outgoing.end()
        return True  # keep the transport open for the other direction's bytes still on their way

    def connection_lost(self, exc: Exception | None) -> None:
        self.outgoing.end()
        # What is still on its way to this socket has nowhere to go.
        self.incoming.queue.clear()
        self.incoming.held = 0
        self.incoming.target = None


class _Client(_Side):
    """The client's socket: on connect, the server's connection is opened beside it."""

    def __init__(self, *, upstream_port: int, rate: float, rtt: float, limit: int) -> None:
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        # The handshake a real network costs before the client's first byte can leave.
        up = _Direction(loop, rate=rate, delay=rtt / 2, free_at=accepted + rtt, limit=limit)
        down = _Direction(loop, rate=rate, delay=rtt / 2, free_at=accepted, limit=limit)
        super().__init__(up, down)
        self.upstream_port = upstream_port
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = transport  # type: ignore[assignment]
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: _Side(self.incoming, self.outgoing), HOST, self.upstream_port)
        except OSError:
            if self.transport is not None:
                self.transport.close()


async def _serve(*, upstream_port: int, rate: float, rtt: float, ready) -> None:
    loop = asyncio.get_running_loop()
    limit = max(MIN_BUFFER, int(2 * rate * rtt))
    server = await loop.create_server(
        lambda: _Client(upstream_port=upstream_port, rate=rate, rtt=rtt, limit=limit), HOST, 0, backlog=1024)
    ready(server.sockets[0].getsockname()[1])
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.shaper", description=__doc__.split("\n")[0])
    parser.add_argument("--upstream-port", type=int, required=True, help="the server's port on 127.0.0.1")
    parser.add_argument("--rate", type=float, required=True, help="bytes per second, per connection and direction")
    parser.add_argument("--rtt", type=float, required=True, help="round-trip time in seconds")
    args = parser.parse_args(argv)

    def ready(port: int) -> None:
        print(port, flush=True)

    asyncio.run(_serve(upstream_port=args.upstream_port, rate=args.rate, rtt=args.rtt, ready=ready))


class Shaper:
    """The proxy as a process of its own, in front of ``upstream_port``; ``endpoint`` is where to connect.

    :param rate: bytes per second, per connection and direction.
    :param rtt: round-trip time in seconds.
    """

    def __init__(self, *, upstream_port: int, rate: float, rtt: float) -> None:
        self.upstream_port, self.rate, self.rtt = upstream_port, rate, rtt
        self.process: subprocess.Popen | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> Shaper:
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.shaper", "--upstream-port", str(self.upstream_port),
             "--rate", repr(self.rate), "--rtt", repr(self.rtt)], cwd=repo, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.__exit__()
            raise RuntimeError(f"the shaping proxy did not start (said {line!r})")
        self.port = int(line)
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


if __name__ == "__main__":
    main()
