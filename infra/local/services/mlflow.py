"""The MLflow tracking server: backend store in PostgreSQL, artifacts proxied to S3."""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

from infra.local.process import port_open
from infra.local.services.base import LocalService


class MlflowService(LocalService):
    """``mlflow server`` with proxied artifact access, so clients need only the tracking URI."""

    name = "mlflow"
    start_timeout = 90.0
    port_setting = "mlflow_tracking_uri"

    def port(self) -> int:
        return self.settings.mlflow_port

    def endpoint(self) -> str:
        return self.settings.mlflow_tracking_uri

    def spawn(self) -> None:
        s = self.settings
        self.home.mkdir(parents=True, exist_ok=True)
        argv = [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--backend-store-uri",
            s.postgres_url(s.mlflow_database, driver="psycopg2"),
            "--artifacts-destination",
            f"s3://{s.mlflow_bucket}",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port()),
            "--workers",
            "2",
        ]
        env = dict(os.environ)
        env.update(
            {
                "MLFLOW_S3_ENDPOINT_URL": s.s3_endpoint_url or "",
                "AWS_ACCESS_KEY_ID": s.s3_access_key,
                "AWS_SECRET_ACCESS_KEY": s.s3_secret_key,
                "AWS_DEFAULT_REGION": s.s3_region,
                # one process instead of ~7 (and ~0.5 GB instead of ~2 GB)
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "HOME": str(self.home),
            }
        )
        self.process.spawn(argv, env=env, cwd=self.home)

    def healthy(self) -> bool:
        """``/health`` alone proves little: also ask the API, which reads the backend store."""
        if not port_open("127.0.0.1", self.port()):
            return False
        base = self.settings.mlflow_tracking_uri.rstrip("/")
        try:
            for path in ("/health", "/api/2.0/mlflow/experiments/search?max_results=1"):
                with urllib.request.urlopen(base + path, timeout=3) as response:
                    if response.status != 200:
                        return False
            return True
        except OSError:
            return False
