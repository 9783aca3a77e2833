"""Static checks of the Docker setup: docker-compose.yaml, Dockerfile, monitoring config.

Docker is not run here. These tests only parse the files (PyYAML, with anchors and
merge keys resolved) and check them against each other and against the defaults of
:class:`tweetstream.settings.Settings`: services, published host ports, topics,
buckets, ``TWEETSTREAM_*`` variables, mounts, volumes, image pins, Grafana
provisioning, the API's and UI's ports, health checks and bearer tokens (from a compose
secret file, never inline) and the Dockerfile's stages, user and healthcheck.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from tweetstream.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
PYPROJECT = REPO_ROOT / "pyproject.toml"
POSTGRES_INIT_SQL = REPO_ROOT / "infra" / "docker" / "postgres-init.sql"
PROMETHEUS_CONFIG = REPO_ROOT / "monitoring" / "prometheus" / "prometheus.yml"
GRAFANA_PROVISIONING = REPO_ROOT / "monitoring" / "grafana" / "provisioning"
GRAFANA_DATASOURCE = GRAFANA_PROVISIONING / "datasources" / "postgres.yaml"
GRAFANA_DASHBOARD_PROVIDERS = GRAFANA_PROVISIONING / "dashboards" / "dashboards.yaml"

ENV_PREFIX = "TWEETSTREAM_"
INFRA_SERVICES = ("kafka", "kafka-init", "postgres", "minio", "minio-init", "mlflow")
OBSERVABILITY_SERVICES = ("prometheus", "grafana")
# Project service -> the `tweetstream` arguments it runs.
PROJECT_COMMANDS: dict[str, list[str]] = {
    "worker": ["worker"],
    "monitor": ["monitor", "--every", "60s"],
    "trainer": ["trainer"],
}
# HTTP services -> the `tweetstream` arguments they run and the Settings field of their port.
SERVING_COMMANDS: dict[str, list[str]] = {"api": ["api"], "ui": ["ui"]}
SERVING_PORTS = {"api": "api_port", "ui": "ui_port"}
REQUIRED_SERVICES = (
    *INFRA_SERVICES,
    *PROJECT_COMMANDS,
    *SERVING_COMMANDS,
    *OBSERVABILITY_SERVICES,
)
WORKER_METRICS_PORT = 8000
# The API's authentication settings (issue 14). Until the authentication change is merged
# they are not Settings fields yet; test_api_auth_names_are_settings says so.
API_TOKENS = "TWEETSTREAM_API_TOKENS"
API_TOKENS_FILE = "TWEETSTREAM_API_TOKENS_FILE"
API_AUTH_SETTINGS = {API_TOKENS, API_TOKENS_FILE, "TWEETSTREAM_API_READS_NEED_TOKEN"}
MAKEFILE = REPO_ROOT / "Makefile"
GITIGNORE = REPO_ROOT / ".gitignore"

Service = dict[str, Any]


# --- parsing helpers ------------------------------------------------------------------


def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _env(service: Service) -> dict[str, str]:
    """A service's environment as strings, from the mapping or the list syntax."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) for item in raw)
        return {key: value for key, value in pairs}
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def _as_list(value: str | list[Any] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(item) for item in value]


def _script_commands(service: Service) -> list[list[str]]:
    """The shell commands a one-shot job runs: one token list per non-empty line."""
    script = "\n".join(_as_list(service.get("entrypoint")) + _as_list(service.get("command")))
    return [shlex.split(line) for line in script.splitlines() if line.strip()]


def _option(tokens: list[str], name: str) -> str:
    """The value following ``name`` in a command line."""
    assert name in tokens, f"{name} missing from: {shlex.join(tokens)}"
    return tokens[tokens.index(name) + 1]


def _published_ports(service: Service) -> dict[int, int]:
    """Container port -> host port, from the short or the long ``ports`` syntax."""
    published: dict[int, int] = {}
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            published[int(entry["target"])] = int(entry["published"])
            continue
        mapping = str(entry).split("/", 1)[0]
        *_, host, container = mapping.rsplit(":", 2)
        published[int(container)] = int(host)
    return published


def _mounts(service: Service) -> list[tuple[str, str]]:
    """(source, target) of every volume entry, short or long syntax."""
    mounts: list[tuple[str, str]] = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            mounts.append((str(entry.get("source", "")), str(entry["target"])))
        else:
            source, target, *_ = str(entry).split(":")
            mounts.append((source, target))
    return mounts


def _is_bind(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def _build_context(service: Service) -> str | None:
    build = service.get("build")
    if isinstance(build, dict):
        return str(build.get("context", "."))
    return None if build is None else str(build)


def _kafka_listeners(value: str) -> dict[str, tuple[str, int]]:
    """``NAME://host:port,...`` -> {NAME: (host, port)}."""
    listeners: dict[str, tuple[str, int]] = {}
    for item in value.split(","):
        name, address = item.split("://", 1)
        host, port = address.rsplit(":", 1)
        listeners[name] = (host, int(port))
    return listeners


def _image_is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name_tag = image.rsplit("/", 1)[-1]
    if ":" not in name_tag:
        return False
    tag = name_tag.rsplit(":", 1)[1]
    return bool(tag) and tag != "latest"


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def _dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, starting with its FROM."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, arguments in _dockerfile_instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, arguments))
    return stages


def _exec_form(arguments: str) -> list[str]:
    parsed = yaml.safe_load(arguments)  # a JSON array is valid YAML
    assert isinstance(parsed, list), f"not in exec (JSON array) form: {arguments}"
    return [str(item) for item in parsed]


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = _load_yaml(COMPOSE_FILE)
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Service]:
    return dict(compose["services"])


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(key)


@pytest.fixture
def settings(clean_env: None) -> Settings:
    """The defaults: what a host process uses against the published ports."""
    return Settings(_env_file=None)  # type: ignore[call-arg, unused-ignore]


@pytest.fixture
def network_settings(
    settings: Settings, services: dict[str, Service], monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """What the worker container gets from its TWEETSTREAM_* environment."""
    for key, value in _env(services["worker"]).items():
        if key.startswith(ENV_PREFIX):
            monkeypatch.setenv(key, value)
    return Settings(_env_file=None)  # type: ignore[call-arg, unused-ignore]


# --- compose: services, ports, endpoints ----------------------------------------------


def test_compose_has_every_required_service(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the Compose spec has no top-level `version:`"
    missing = set(REQUIRED_SERVICES) - set(compose["services"])
    assert not missing, f"services missing from docker-compose.yaml: {sorted(missing)}"


@pytest.mark.parametrize(
    ("service", "container_port", "settings_port"),
    [
        ("kafka", 9092, "kafka_port"),
        ("postgres", 5432, "pg_port"),
        ("minio", 9000, "s3_port"),
        ("mlflow", 5000, "mlflow_port"),
    ],
)
def test_host_ports_equal_settings_defaults(
    services: dict[str, Service],
    settings: Settings,
    service: str,
    container_port: int,
    settings_port: str,
) -> None:
    published = _published_ports(services[service])
    assert published.get(container_port) == getattr(settings, settings_port), (
        f"{service}: container port {container_port} must be published on host port "
        f"Settings().{settings_port}"
    )


def test_kafka_listeners_serve_host_and_network(
    services: dict[str, Service], settings: Settings, network_settings: Settings
) -> None:
    env = _env(services["kafka"])
    listeners = _kafka_listeners(env["KAFKA_LISTENERS"])
    advertised = {
        f"{host}:{port}"
        for host, port in _kafka_listeners(env["KAFKA_ADVERTISED_LISTENERS"]).values()
    }

    assert settings.kafka_bootstrap in advertised, "host clients need the default bootstrap"
    assert network_settings.kafka_bootstrap in advertised, "containers need kafka:29092"
    controller = listeners[env["KAFKA_CONTROLLER_LISTENER_NAMES"]]
    assert controller[1] == settings.kafka_controller_port
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == "1", f"{key} must be 1 on a single broker"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"


def test_kafka_init_creates_settings_topics(
    services: dict[str, Service], settings: Settings, network_settings: Settings
) -> None:
    job = services["kafka-init"]
    assert job["image"] == services["kafka"]["image"], "kafka-init uses the broker's image"
    creates = [tokens for tokens in _script_commands(job) if "--create" in tokens]
    partitions = {
        _option(tokens, "--topic"): int(_option(tokens, "--partitions")) for tokens in creates
    }

    assert len(creates) == len(partitions), "a topic is created twice"
    assert partitions == {topic: settings.topic_partitions for topic in settings.topics}
    for tokens in creates:
        assert "--if-not-exists" in tokens, shlex.join(tokens)
        assert _option(tokens, "--bootstrap-server") == network_settings.kafka_bootstrap


def test_minio_init_creates_settings_buckets(
    services: dict[str, Service], settings: Settings
) -> None:
    commands = _script_commands(services["minio-init"])
    alias_commands = [tokens for tokens in commands if tokens[:3] == ["mc", "alias", "set"]]
    assert len(alias_commands) == 1, "minio-init sets exactly one mc alias"
    alias, endpoint, access_key, secret_key = alias_commands[0][3:7]

    buckets = [tokens[-1] for tokens in commands if tokens[:2] == ["mc", "mb"]]
    assert all(bucket.startswith(f"{alias}/") for bucket in buckets), buckets
    assert sorted(bucket.split("/", 1)[1] for bucket in buckets) == sorted(settings.buckets)
    assert urlsplit(endpoint).hostname == "minio"
    minio_env = _env(services["minio"])
    assert (access_key, secret_key) == (
        minio_env["MINIO_ROOT_USER"],
        minio_env["MINIO_ROOT_PASSWORD"],
    )


def test_minio_root_credentials_equal_settings(
    services: dict[str, Service], settings: Settings
) -> None:
    env = _env(services["minio"])
    assert env["MINIO_ROOT_USER"] == settings.s3_access_key
    assert env["MINIO_ROOT_PASSWORD"] == settings.s3_secret_key


def test_postgres_matches_settings_and_creates_mlflow_database(
    services: dict[str, Service], settings: Settings
) -> None:
    env = _env(services["postgres"])
    assert env["POSTGRES_USER"] == settings.pg_user
    assert env["POSTGRES_PASSWORD"] == settings.pg_password
    assert env["POSTGRES_DB"] == settings.pg_database

    init_targets = [
        target
        for source, target in _mounts(services["postgres"])
        if Path(source).resolve() == POSTGRES_INIT_SQL.resolve()
    ]
    assert len(init_targets) == 1, "postgres-init.sql must be mounted once"
    assert init_targets[0].startswith("/docker-entrypoint-initdb.d/")

    sql = POSTGRES_INIT_SQL.read_text(encoding="utf-8")
    created = re.findall(r"CREATE\s+DATABASE\s+(\w+)\s+OWNER\s+(\w+)", sql, re.IGNORECASE)
    assert created == [(settings.mlflow_database, settings.pg_user)]


def test_mlflow_server_uses_compose_postgres_and_minio(
    services: dict[str, Service], settings: Settings, network_settings: Settings
) -> None:
    mlflow = services["mlflow"]
    arguments = _as_list(mlflow.get("entrypoint")) + _as_list(mlflow.get("command"))
    env = _env(mlflow)

    assert arguments[:2] == ["mlflow", "server"]
    backend = _option(arguments, "--backend-store-uri")
    assert backend == network_settings.postgres_url(network_settings.mlflow_database)
    assert _option(arguments, "--artifacts-destination") == f"s3://{settings.mlflow_bucket}"
    assert _option(arguments, "--host") == "0.0.0.0"
    assert int(_option(arguments, "--port")) == network_settings.mlflow_port
    allowed_hosts = _option(arguments, "--allowed-hosts").split(",")
    assert urlsplit(network_settings.mlflow_tracking_uri).netloc in allowed_hosts
    assert f"127.0.0.1:{settings.mlflow_port}" in allowed_hosts

    assert env["MLFLOW_S3_ENDPOINT_URL"] == network_settings.s3_endpoint_url
    assert env["AWS_ACCESS_KEY_ID"] == settings.s3_access_key
    assert env["AWS_SECRET_ACCESS_KEY"] == settings.s3_secret_key
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert _build_context(mlflow) == ".", "mlflow runs from the project image"


@pytest.mark.parametrize("service", sorted(PROJECT_COMMANDS))
def test_project_service_builds_repo_and_runs_subcommand(
    services: dict[str, Service], service: str
) -> None:
    definition = services[service]
    assert _build_context(definition) == "."
    assert _as_list(definition.get("entrypoint")) in ([], ["tweetstream"])
    assert _as_list(definition.get("command")) == PROJECT_COMMANDS[service]


@pytest.mark.parametrize("service", sorted(PROJECT_COMMANDS))
def test_project_env_keys_are_settings_fields(services: dict[str, Service], service: str) -> None:
    keys = [key for key in _env(services[service]) if key.startswith(ENV_PREFIX)]
    assert keys, f"{service} sets no {ENV_PREFIX}* variable"
    unknown = [
        key for key in keys if key.removeprefix(ENV_PREFIX).lower() not in Settings.model_fields
    ]
    assert not unknown, f"{service}: not fields of Settings: {unknown}"


def test_project_services_share_one_environment(services: dict[str, Service]) -> None:
    environments = [_env(services[name]) for name in PROJECT_COMMANDS]
    assert all(env == environments[0] for env in environments)


def test_project_env_points_at_compose_services(
    services: dict[str, Service], settings: Settings, network_settings: Settings
) -> None:
    kafka_host, kafka_port = network_settings.kafka_bootstrap.rsplit(":", 1)
    internal = _kafka_listeners(_env(services["kafka"])["KAFKA_LISTENERS"])
    assert kafka_host == "kafka"
    assert int(kafka_port) in {port for _, port in internal.values()}

    assert network_settings.pg_host == "postgres"
    assert network_settings.pg_port in _published_ports(services["postgres"])

    s3 = urlsplit(network_settings.s3_endpoint_url or "")
    assert s3.hostname == "minio"
    assert s3.port in _published_ports(services["minio"])

    assert urlsplit(network_settings.mlflow_tracking_uri).hostname == "mlflow"
    assert network_settings.mlflow_port in _published_ports(services["mlflow"])

    # Everything but the endpoints stays at the defaults the other services use.
    for field in (
        "pg_user",
        "pg_password",
        "pg_database",
        "mlflow_database",
        "s3_access_key",
        "s3_secret_key",
        "topic_partitions",
    ):
        assert getattr(network_settings, field) == getattr(settings, field), field
    assert network_settings.topics == settings.topics
    assert network_settings.buckets == settings.buckets


# --- compose: the HTTP API and the web UI ------------------------------------------------


def _settings_env_names() -> set[str]:
    return {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}


def _healthcheck_url(service: Service) -> str:
    """The URL a ``python -c "...urlopen('<url>'...)"`` health check fetches."""
    test = _as_list(service["healthcheck"]["test"])
    assert test[:3] == ["CMD", "python", "-c"], test
    found = re.search(r"urlopen\('([^']+)'", test[3])
    assert found, test[3]
    return found.group(1)


@pytest.mark.parametrize("service", sorted(SERVING_COMMANDS))
def test_serving_service_runs_its_subcommand(services: dict[str, Service], service: str) -> None:
    from typer.main import get_command

    from tweetstream.cli import app

    definition = services[service]
    assert _build_context(definition) == "."
    assert _as_list(definition.get("entrypoint")) in ([], ["tweetstream"])
    command = _as_list(definition.get("command"))
    assert command == SERVING_COMMANDS[service]
    assert command[0] in get_command(app).commands  # type: ignore[attr-defined]


@pytest.mark.parametrize("service", sorted(SERVING_COMMANDS))
def test_serving_service_is_published_and_health_checked(
    services: dict[str, Service],
    settings: Settings,
    service: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The container binds every interface on the settings' port, the host reaches it on
    127.0.0.1 only, and the health check fetches a path the app really answers with 200."""
    from fastapi.testclient import TestClient

    from models.serving import ModelHolder
    from serve.api import create_app

    definition = services[service]
    for key, value in _env(definition).items():
        if key.startswith(ENV_PREFIX) and key not in API_AUTH_SETTINGS:
            monkeypatch.setenv(key, value)
    container = Settings(_env_file=None)  # type: ignore[call-arg, unused-ignore]
    port = getattr(container, SERVING_PORTS[service])
    assert container.api_host == "0.0.0.0", "127.0.0.1 inside a container is unreachable"
    assert port == getattr(settings, SERVING_PORTS[service]), "the port stays the default"
    assert _published_ports(definition) == {port: port}
    assert all(str(entry).startswith("127.0.0.1:") for entry in definition["ports"])

    url = urlsplit(_healthcheck_url(definition))
    assert (url.hostname, url.port) == ("127.0.0.1", port)
    assert url.path == "/healthz", "liveness, not /readyz (which needs Kafka and PostgreSQL)"
    app = create_app(settings, ModelHolder(settings), hot_reload=False, ui=service == "ui")
    assert TestClient(app).get(url.path).status_code == 200


@pytest.mark.parametrize("service", sorted(SERVING_COMMANDS))
def test_serving_tokens_come_from_a_secret_file(
    compose: dict[str, Any], services: dict[str, Service], service: str
) -> None:
    definition = services[service]
    env = _env(definition)
    assert API_TOKENS not in env, "tokens are never inline in docker-compose.yaml"
    assert not [k for k in env if "TOKEN" in k and k not in API_AUTH_SETTINGS], env

    secrets = [s if isinstance(s, str) else s["source"] for s in definition["secrets"]]
    assert secrets == ["api_tokens"]
    target = (
        next((s.get("target") for s in definition["secrets"] if isinstance(s, dict)), None)
        or "api_tokens"
    )
    assert env[API_TOKENS_FILE] == f"/run/secrets/{target}"

    declared = compose["secrets"]["api_tokens"]
    assert set(declared) == {"file"}, "a file on the host, not an environment variable"


def test_serving_services_share_the_project_environment(services: dict[str, Service]) -> None:
    """api and ui get the worker's settings plus only the bind address and the tokens file."""
    project = _env(services["worker"])
    for service in SERVING_COMMANDS:
        env = _env(services[service])
        assert {k: v for k, v in env.items() if k in project} == project, service
        assert set(env) - set(project) == {"TWEETSTREAM_API_HOST", API_TOKENS_FILE}, service


def test_serving_env_keys_are_settings_or_auth_names(services: dict[str, Service]) -> None:
    fields = _settings_env_names()
    for service in SERVING_COMMANDS:
        keys = {key for key in _env(services[service]) if key.startswith(ENV_PREFIX)}
        assert keys - fields - API_AUTH_SETTINGS == set(), service


def test_api_auth_names_are_settings() -> None:
    """Fails once the authentication settings exist under other names than the contract's."""
    missing = API_AUTH_SETTINGS - _settings_env_names()
    if missing == API_AUTH_SETTINGS:
        pytest.skip(f"not Settings fields yet (API authentication, issue 14): {sorted(missing)}")
    assert not missing, f"only some of the API authentication settings exist: {sorted(missing)}"


def test_tokens_file_is_made_by_make_and_kept_out_of_git_and_the_image(
    compose: dict[str, Any],
) -> None:
    file = str(compose["secrets"]["api_tokens"]["file"])
    default = re.fullmatch(r"\$\{API_TOKENS_FILE:-(.+)\}", file)
    assert default, f"the host path is overridable with API_TOKENS_FILE: {file}"
    path = Path(default.group(1))
    assert not _tracked(path.parent), f"files under {path.parent} are in git"

    made = re.search(r"^COMPOSE_API_TOKENS\s*:=\s*(\S+)", MAKEFILE.read_text(), re.MULTILINE)
    assert made and Path(made.group(1)) == path, "make api-tokens writes the file compose reads"
    top = path.parts[0]
    gitignored = {line.strip().rstrip("/") for line in GITIGNORE.read_text().splitlines()}
    dockerignored = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()}
    assert top in gitignored and top in dockerignored, f"{top} must stay out of git and the image"


def _tracked(directory: Path) -> bool:
    """Does git track any file under ``directory``? (Outside a git checkout, e.g. an unpacked
    source archive, nothing is tracked.)"""
    import subprocess

    listed = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files", "--", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    return listed.returncode == 0 and bool(listed.stdout.strip())


@pytest.mark.parametrize("service", sorted(SERVING_COMMANDS))
def test_serving_metrics_are_scraped_by_prometheus(
    services: dict[str, Service], settings: Settings, service: str
) -> None:
    config = _load_yaml(PROMETHEUS_CONFIG)
    targets = {
        target: job.get("metrics_path", "/metrics")
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    port = getattr(settings, SERVING_PORTS[service])
    assert targets.get(f"{service}:{port}") == "/metrics"
    assert port in _published_ports(services[service]), "the container listens there"


def test_worker_metrics_are_scraped_by_prometheus(services: dict[str, Service]) -> None:
    exposed = {int(str(port).split("/")[0]) for port in services["worker"].get("expose", [])}
    assert WORKER_METRICS_PORT in exposed

    config = _load_yaml(PROMETHEUS_CONFIG)
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    assert f"worker:{WORKER_METRICS_PORT}" in targets

    mounted = dict(_mounts(services["prometheus"]))
    assert mounted.get("./monitoring/prometheus/prometheus.yml") == (
        "/etc/prometheus/prometheus.yml"
    )
    assert _published_ports(services["prometheus"]).get(9090) == 9090


# --- compose: dependencies, mounts, volumes, images -------------------------------------


def test_depends_on_conditions_can_be_met(services: dict[str, Service]) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        if isinstance(depends_on, list):
            depends_on = {target: {"condition": "service_started"} for target in depends_on}
        for target, spec in depends_on.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy":
                target_service = services[target]
                has_check = "healthcheck" in target_service or (
                    _build_context(target_service) == "." and _dockerfile_has_healthcheck()
                )
                assert has_check, f"{name} waits for {target} to be healthy; it has no check"
            if condition == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", (
                    f"{target} is a one-shot job; it must not restart"
                )


def test_bind_mounted_paths_exist(services: dict[str, Service]) -> None:
    for name, service in services.items():
        for source, _ in _mounts(service):
            if _is_bind(source):
                assert (REPO_ROOT / source).exists(), f"{name}: {source} is not in the repo"


def test_named_volumes_are_declared(compose: dict[str, Any], services: dict[str, Service]) -> None:
    used = {
        source
        for service in services.values()
        for source, _ in _mounts(service)
        if source and not _is_bind(source)
    }
    declared = set(compose.get("volumes") or {})
    assert used, "stateful services keep their data in named volumes"
    assert used <= declared, f"undeclared volumes: {sorted(used - declared)}"
    assert declared <= used, f"unused volumes: {sorted(declared - used)}"


def test_images_are_pinned(services: dict[str, Service]) -> None:
    for name, service in services.items():
        image = service.get("image")
        assert image or _build_context(service), f"{name} has neither image nor build"
        if image:
            assert _image_is_pinned(str(image)), f"{name}: image {image} is not pinned"


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("postgres", False),
        ("postgres:latest", False),
        ("localhost:5000/postgres", False),
        ("postgres:15", True),
        ("minio/mc:RELEASE.2025-08-13T08-35-41Z", True),
        ("postgres@sha256:" + "0" * 64, True),
    ],
)
def test_image_pin_rule(image: str, pinned: bool) -> None:
    assert _image_is_pinned(image) is pinned


# --- Grafana provisioning ---------------------------------------------------------------


def test_grafana_mounts_provisioning_and_dashboards(services: dict[str, Service]) -> None:
    grafana = services["grafana"]
    mounted = dict(_mounts(grafana))
    assert mounted["./monitoring/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounted["./monitoring/grafana/dashboards"] == "/var/lib/grafana/dashboards"
    assert str(grafana["image"]).split(":", 1)[1].split(".")[0] in {"11", "12"}
    env = _env(grafana)
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


def test_grafana_datasource_points_at_compose_postgres(
    services: dict[str, Service], settings: Settings
) -> None:
    config = _load_yaml(GRAFANA_DATASOURCE)
    assert config["apiVersion"] == 1
    (datasource,) = [ds for ds in config["datasources"] if ds["name"] == "tweetstream-postgres"]
    postgres_env = _env(services["postgres"])
    (container_port,) = _published_ports(services["postgres"])

    assert datasource["uid"] == "tweetstream-pg"
    assert datasource["type"] in {"postgres", "grafana-postgresql-datasource"}
    assert datasource["url"] == f"postgres:{container_port}"
    assert datasource["user"] == postgres_env["POSTGRES_USER"] == settings.pg_user
    assert datasource["jsonData"]["database"] == postgres_env["POSTGRES_DB"]
    assert datasource["jsonData"]["sslmode"] == "disable"
    assert "password" not in datasource and "password" not in datasource["jsonData"]
    assert datasource["secureJsonData"]["password"] == postgres_env["POSTGRES_PASSWORD"]


def test_grafana_dashboard_provider_reads_mounted_directory(
    services: dict[str, Service],
) -> None:
    config = _load_yaml(GRAFANA_DASHBOARD_PROVIDERS)
    assert config["apiVersion"] == 1
    paths = {
        provider["options"]["path"]
        for provider in config["providers"]
        if provider["type"] == "file"
    }
    mounted_targets = {target for _, target in _mounts(services["grafana"])}
    assert paths and paths <= mounted_targets


# --- Dockerfile -------------------------------------------------------------------------


def _dockerfile_has_healthcheck() -> bool:
    final_stage = _dockerfile_stages()[-1]
    return any(
        keyword == "HEALTHCHECK" and not arguments.upper().startswith("NONE")
        for keyword, arguments in final_stage
    )


def test_dockerfile_is_multi_stage_with_pinned_bases() -> None:
    stages = _dockerfile_stages()
    assert len(stages) >= 2, "a builder stage and a runtime stage"
    aliases: set[str] = set()
    for stage in stages:
        words = [w for w in stage[0][1].split() if not w.startswith("--")]
        image = words[0]
        if image not in aliases:
            assert _image_is_pinned(image), f"FROM {image} is not pinned"
        if len(words) == 3 and words[1].upper() == "AS":
            aliases.add(words[2])


def test_dockerfile_runtime_python_satisfies_requires_python() -> None:
    runtime_image = _dockerfile_stages()[-1][0][1].split()[0]
    name, tag = runtime_image.split(":", 1)
    assert name in {"python", "docker.io/library/python"}
    version = re.match(r"\d+\.\d+", tag)
    assert version, f"no Python version in tag {tag}"
    requires = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["requires-python"]
    assert version.group() + ".0" in SpecifierSet(requires)


def test_dockerfile_runs_as_non_root_with_healthcheck() -> None:
    final_stage = _dockerfile_stages()[-1]
    users = [arguments for keyword, arguments in final_stage if keyword == "USER"]
    assert users, "the runtime stage must set USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert _dockerfile_has_healthcheck()


def test_dockerfile_entrypoint_is_the_cli() -> None:
    final_stage = dict(_dockerfile_stages()[-1])
    assert _exec_form(final_stage["ENTRYPOINT"]) == ["tweetstream"]
    assert _exec_form(final_stage["CMD"]) == ["--help"]


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    patterns = {
        line.strip().rstrip("/") for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    }
    for required in (".venv", ".tweetstream", "data", ".git", ".env"):
        assert required in patterns, f".dockerignore must exclude {required}"
