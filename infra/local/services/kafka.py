"""Apache Kafka in KRaft mode (one broker+controller), jars fetched from Maven Central."""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from pathlib import Path

from infra.local.errors import MissingDependencyError, PortInUseError, StackError
from infra.local.process import port_open
from infra.local.services.base import LocalService
from tweetstream.clients import kafka_admin

#: the pom.xml that lists the broker's jars (shipped as package data)
POM = Path(__file__).resolve().parents[2] / "kafka" / "pom.xml"

_LOG4J2 = """\
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Logger:
      - name: kafka
        level: WARN
      - name: org.apache.kafka
        level: WARN
      - name: kafka.server.KafkaRaftServer
        level: INFO
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
"""


def _cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url without padding (22 chars).

    Never one starting with "-": the storage tool's argument parser would take it for an
    option (1 start in 64 failed that way).
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


class KafkaService(LocalService):
    """Single-node KRaft broker; creates the project's topics."""

    name = "kafka"
    start_timeout = 60.0
    port_setting = "kafka_bootstrap"

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    def kept_by_purge(self) -> tuple[Path, ...]:
        return (self.libs,)  # the downloaded jars: a cache

    def port(self) -> int:
        return self.settings.kafka_port

    def endpoint(self) -> str:
        return self.settings.kafka_bootstrap

    def check_port_free(self) -> None:
        super().check_port_free()
        if port_open("127.0.0.1", self.settings.kafka_controller_port):
            raise PortInUseError(
                f"port {self.settings.kafka_controller_port} (Kafka controller) is in use by "
                "another process: stop it, or set TWEETSTREAM_KAFKA_CONTROLLER_PORT"
            )

    def fetch_jars(self) -> None:
        """Copy the broker's jars from Maven Central into the state directory (once)."""
        if any(self.libs.glob("kafka_2.13-*.jar")):
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise MissingDependencyError(
                "Maven (mvn) is missing: install the Debian package 'maven' (make setup does)"
            )
        argv = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={self.libs}",
        ]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            shutil.rmtree(self.libs, ignore_errors=True)
            tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
            raise StackError("fetching Kafka jars with Maven failed:\n" + "\n".join(tail))

    def _properties(self) -> str:
        s = self.settings
        ctl = f"127.0.0.1:{s.kafka_controller_port}"
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers={ctl}",
                f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://{ctl}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={self.home / 'data'}",
                f"num.partitions={s.topic_partitions}",
                # one node: internal topics and transactions (Faust exactly_once) need RF 1
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "",
            ]
        )

    def _java(self, main: str, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise MissingDependencyError(
                "Java is missing: install the Debian package 'openjdk-17-jre-headless'"
            )
        return [
            java,
            "-Xms256m",
            "-Xmx1g",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.yaml'}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def prepare(self) -> None:
        self.fetch_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "server.properties").write_text(self._properties())
        (self.home / "log4j2.yaml").write_text(_LOG4J2)
        if (self.home / "data" / "meta.properties").exists():
            return
        argv = self._java(
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={_cluster_id()}",
            "-c",
            str(self.home / "server.properties"),
            "--standalone",
        )
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed: {result.stderr.strip()[-500:]}")

    def spawn(self) -> None:
        self.process.spawn(self._java("kafka.Kafka", str(self.home / "server.properties")))

    def healthy(self) -> bool:
        if not port_open("127.0.0.1", self.port()):
            return False
        try:
            admin = kafka_admin(self.settings)
        except Exception:  # noqa: BLE001 - any client failure means "not yet"
            return False
        try:
            admin.list_topics()
            return True
        except Exception:  # noqa: BLE001
            return False
        finally:
            admin.close()

    def bootstrap(self) -> None:
        """Create the project's topics (idempotent)."""
        from kafka.admin import NewTopic

        admin = kafka_admin(self.settings)
        try:
            missing = set(self.settings.topics) - set(admin.list_topics())
            if missing:
                admin.create_topics(
                    [
                        NewTopic(
                            name=t,
                            num_partitions=self.settings.topic_partitions,
                            replication_factor=1,
                        )
                        for t in sorted(missing)
                    ]
                )
        finally:
            admin.close()
