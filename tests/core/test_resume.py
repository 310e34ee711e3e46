"""A transfer cut off mid-stream resumes with a Range request instead of starting over.

The server here is a real HTTP server on 127.0.0.1 that drops the first connection half-way."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading

import pytest

from airflow_datastores.errors import TransientError
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.retry import RetryPolicy

PAYLOAD = os.urandom(20 * 1024 * 1024 + 17)  # more than one 8 MiB read chunk before the cut


class FlakyHandler(http.server.BaseHTTPRequestHandler):
    requests: list[tuple[str, str | None]] = []
    cut_first = 1

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_HEAD(self) -> None:
        self.requests.append(("HEAD", None))
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.send_header("ETag", '"v1"')
        self.end_headers()

    def do_GET(self) -> None:
        rng = self.headers.get("Range")
        self.requests.append(("GET", rng))
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        body = PAYLOAD[start:]
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body)))
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.end_headers()
        if type(self).cut_first > 0:
            type(self).cut_first -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)  # the connection drops half-way
            return
        self.wfile.write(body)


@pytest.fixture
def flaky_server():
    FlakyHandler.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_resumes_from_the_last_byte_and_hashes_the_whole_file(flaky_server, tmp_path):
    FlakyHandler.cut_first = 1
    result = stage_inputs({"blob": f"{flaky_server}/data.bin"}, inputs_dir=str(tmp_path / "in"),
                          policy=RetryPolicy(attempts=4, base_delay=0.05))
    record = result.records[0]
    assert record.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert open(record.path, "rb").read() == PAYLOAD
    gets = [r for r in FlakyHandler.requests if r[0] == "GET"]
    assert len(gets) == 2 and gets[0][1] is None
    resumed_at = int(gets[1][1].split("=")[1].rstrip("-"))
    assert 0 < resumed_at < len(PAYLOAD)  # resumed, not started over


def test_gives_up_after_the_retries_and_leaves_nothing(flaky_server, tmp_path):
    FlakyHandler.cut_first = 10
    with pytest.raises(TransientError, match="gave up after 3 tries"):
        stage_inputs({"blob": f"{flaky_server}/data.bin"}, inputs_dir=str(tmp_path / "in"),
                     policy=RetryPolicy(attempts=3, base_delay=0.05))
    assert [f for _, _, files in os.walk(tmp_path / "in") for f in files] == []
