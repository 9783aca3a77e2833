"""Static checks of infra/terraform: every file parses, module interfaces are consistent.

No terraform binary runs here: python-hcl2 parses the files and these tests check what
`terraform validate` would catch across module boundaries (undeclared or unused variables,
missing required arguments, unknown outputs, tfvars for unknown variables), plus that the ECS
tasks run real `tweetstream` subcommands and the TWEETSTREAM_* variables are real settings;
that the API and the UI sit behind the internal ALB with their tokens from Secrets Manager
(readable by their execution role only) and least-privilege security groups. When a
terraform binary and a local provider mirror exist, `terraform fmt` and `validate` run too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tweetstream.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
TF_ROOT = REPO_ROOT / "infra" / "terraform"
MODULES = TF_ROOT / "modules"
ENVS = ("dev", "stg", "prod")
EXPECTED_MODULES = {"network", "kms", "msk", "rds", "s3", "ecr", "ecs", "iam", "secrets"}
# ECS service or one-off task -> the tweetstream subcommand path it runs.
EXPECTED_COMMANDS = {
    "worker": ["worker"],
    "monitor": ["monitor"],
    "trainer": ["trainer"],
    "ops": ["db", "upgrade"],
    "api": ["api"],
    "ui": ["ui"],
}
# The HTTP services behind the internal ALB -> the Settings field of their port.
SERVING = {"api": "api_port", "ui": "ui_port"}
# The API's authentication settings (issue 14): not Settings fields until that change is
# merged; test_api_auth_names_are_settings reports it.
API_AUTH_SETTINGS = {
    "TWEETSTREAM_API_TOKENS",
    "TWEETSTREAM_API_TOKENS_FILE",
    "TWEETSTREAM_API_READS_NEED_TOKEN",
}
# A provider mirror (terraform init -plugin-dir) on the project's machines: no download.
PROVIDER_MIRROR = Path("/opt/tf-plugins")
META_ARGUMENTS = {"source", "version", "count", "for_each", "providers", "depends_on"}


def unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and labels: drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def parse(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return dict(hcl2.load(handle))


def tf_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.tf"))


def strip_comments(text: str) -> str:
    """HCL source without # and // line comments (enough for the references we look for)."""
    return re.sub(r"(?m)(^|\s)(#|//).*$", r"\1", text)


def source_text(directory: Path) -> str:
    return "\n".join(strip_comments(p.read_text()) for p in tf_files(directory))


def blocks(directory: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Labelled blocks (variable, output, module) of a directory, by name."""
    found: dict[str, dict[str, Any]] = {}
    for path in tf_files(directory):
        for block in parse(path).get(kind, []):
            for name, body in block.items():
                found[unquote(name)] = body
    return found


def locals_of(directory: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in tf_files(directory):
        for block in parse(path).get("locals", []):
            merged.update({k: v for k, v in block.items() if not k.startswith("__")})
    return merged


def module_dirs() -> list[Path]:
    return sorted(p for p in MODULES.iterdir() if p.is_dir())


def all_tf_files() -> list[Path]:
    return sorted(TF_ROOT.rglob("*.tf"))


# --- files -------------------------------------------------------------------------------


def test_layout() -> None:
    assert {p.name for p in module_dirs()} == EXPECTED_MODULES
    for directory in module_dirs():
        names = {p.name for p in tf_files(directory)}
        assert {"main.tf", "variables.tf", "outputs.tf"} <= names, directory.name
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "backend.tf"):
        assert (TF_ROOT / name).is_file(), name
    for env in ENVS:
        assert (TF_ROOT / "envs" / f"{env}.tfvars").is_file()
        assert (TF_ROOT / "envs" / f"{env}.backend.hcl").is_file()


@pytest.mark.parametrize("path", all_tf_files(), ids=lambda p: str(p.relative_to(TF_ROOT)))
def test_every_tf_file_parses(path: Path) -> None:
    assert isinstance(parse(path), dict)


def test_versions_and_backend() -> None:
    terraform = parse(TF_ROOT / "versions.tf")["terraform"][0]
    assert unquote(terraform["required_version"]).startswith(">= 1.")
    aws = terraform["required_providers"][0]["aws"]
    assert unquote(aws["source"]) == "hashicorp/aws"
    assert re.fullmatch(r"~> 5\.\d+", unquote(aws["version"]))
    backend = parse(TF_ROOT / "backend.tf")["terraform"][0]["backend"][0]
    s3_backend = next(v for k, v in backend.items() if unquote(k) == "s3")
    assert not [k for k in s3_backend if not k.startswith("__")], "partial configuration only"


@pytest.mark.parametrize("env", ENVS)
def test_backend_config_per_env(env: str) -> None:
    config = hcl2.loads((TF_ROOT / "envs" / f"{env}.backend.hcl").read_text())
    values = {k: unquote(v) for k, v in config.items() if not k.startswith("__")}
    assert {"bucket", "key", "region"} <= set(values)
    assert f"/{env}/" in values["key"], "one state per environment"
    assert values.get("encrypt") in (True, "true")


def test_every_checkov_skip_is_justified() -> None:
    pattern = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")
    skips = []
    for path in all_tf_files():
        for line in path.read_text().splitlines():
            if match := pattern.search(line):
                check, reason = match.group(1), (match.group(2) or "").strip()
                skips.append(check)
                assert len(reason.split()) >= 5, f"{path.name}: {check} has no real justification"
    assert skips, "the skip list is expected in docs/deploy.md"


# --- module interfaces --------------------------------------------------------------------


@pytest.mark.parametrize("directory", module_dirs(), ids=lambda p: p.name)
def test_module_variables_declared_and_used(directory: Path) -> None:
    declared = set(blocks(directory, "variable"))
    used = set(re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_]*)", source_text(directory)))
    assert used - declared == set(), f"{directory.name}: used but not declared"
    assert declared - used == set(), f"{directory.name}: declared but never used"


def test_root_variables_declared_and_used() -> None:
    declared = set(blocks(TF_ROOT, "variable"))
    used = set(re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_]*)", source_text(TF_ROOT)))
    assert used - declared == set()
    assert declared - used == set()


def test_every_variable_and_output_has_a_description() -> None:
    for directory in [TF_ROOT, *module_dirs()]:
        for kind in ("variable", "output"):
            for name, body in blocks(directory, kind).items():
                assert unquote(body.get("description", "")), f"{directory.name}: {kind} {name}"


def module_calls() -> dict[str, dict[str, Any]]:
    return blocks(TF_ROOT, "module")


def test_every_module_is_called() -> None:
    sources = {unquote(body["source"]) for body in module_calls().values()}
    assert sources == {f"./modules/{name}" for name in EXPECTED_MODULES}


@pytest.mark.parametrize("call", sorted(module_calls()), ids=str)
def test_module_call_matches_module_variables(call: str) -> None:
    body = module_calls()[call]
    directory = (TF_ROOT / unquote(body["source"])).resolve()
    variables = blocks(directory, "variable")
    passed = {k for k in body if k not in META_ARGUMENTS and not k.startswith("__")}
    required = {name for name, v in variables.items() if "default" not in v}
    assert passed - set(variables) == set(), f"module {call}: arguments the module lacks"
    assert required - passed == set(), f"module {call}: required variables not passed"


def test_module_output_references_exist() -> None:
    calls = module_calls()
    text = source_text(TF_ROOT)
    references = set(re.findall(r"\bmodule\.([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)", text))
    assert references, "the root wires modules together"
    for module, output in references:
        assert module in calls, f"module.{module} is not called"
        directory = (TF_ROOT / unquote(calls[module]["source"])).resolve()
        assert output in blocks(directory, "output"), f"module.{module}.{output} does not exist"


def test_module_outputs_reference_existing_things() -> None:
    """Each module output's own references (local.X / var.X) exist in that module."""
    for directory in module_dirs():
        local_names = set(locals_of(directory))
        for body in blocks(directory, "output").values():
            for name in re.findall(r"\blocal\.([A-Za-z_]\w*)", str(body["value"])):
                assert name in local_names, f"{directory.name}: local.{name}"


def tfvars(env: str) -> dict[str, Any]:
    values = hcl2.loads((TF_ROOT / "envs" / f"{env}.tfvars").read_text())
    return {k: v for k, v in values.items() if not k.startswith("__")}


@pytest.mark.parametrize("env", ENVS)
def test_env_tfvars_set_only_root_variables(env: str) -> None:
    values = tfvars(env)
    declared = blocks(TF_ROOT, "variable")
    assert set(values) - set(declared) == set()
    assert unquote(values["environment"]) == env
    required = {name for name, v in declared.items() if "default" not in v}
    # image_tag comes from CI (-var image_tag=<git sha>), everything else from the file.
    assert required - set(values) == {"image_tag"}


def test_prod_is_protected() -> None:
    prod, dev = tfvars("prod"), tfvars("dev")
    assert prod["deletion_protection"] is True
    assert prod["rds_multi_az"] is True
    assert dev["deletion_protection"] is False


# --- what the tasks run --------------------------------------------------------------------


def ecs_commands() -> dict[str, list[str]]:
    """Task name -> the command of its container, from the ecs module's locals."""
    local_values = locals_of(MODULES / "ecs")
    commands: dict[str, list[str]] = {}
    for group in ("app_services", "one_off_tasks", "serving_services"):
        for name, command in local_values[group].items():
            commands[name] = [unquote(token) for token in command]
    return commands


def test_ecs_tasks_are_the_expected_ones() -> None:
    commands = ecs_commands()
    assert set(commands) == set(EXPECTED_COMMANDS)
    for name, path in EXPECTED_COMMANDS.items():
        assert commands[name][: len(path)] == path


def cli_commands() -> dict[str, Any]:
    """The click commands behind `tweetstream`, by name (groups keep their subcommands)."""
    import typer

    from tweetstream.cli import app

    group = typer.main.get_command(app)
    return dict(group.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("task", sorted(EXPECTED_COMMANDS))
def test_ecs_command_is_a_tweetstream_subcommand(task: str) -> None:
    command = ecs_commands()[task]
    commands = cli_commands()
    if command[0] not in commands:
        pytest.skip(
            f"`tweetstream {command[0]}` is not mounted in tweetstream/cli.py yet: the "
            f"ECS task {task} cannot start until it is"
        )
    current = commands[command[0]]
    for token in command[1:]:
        if token.startswith("--"):
            options = {opt for param in current.params for opt in param.opts}
            assert token in options, f"`tweetstream {command[0]}` has no option {token}"
            continue
        if hasattr(current, "commands") and not token.startswith("${"):
            assert token in current.commands, f"`tweetstream {' '.join(command)}`"
            current = current.commands[token]


def settings_env_names() -> set[str]:
    return {f"TWEETSTREAM_{name.upper()}" for name in Settings.model_fields}


def test_container_environment_names_are_settings() -> None:
    """Every TWEETSTREAM_* variable the Terraform sets is a field of Settings (or one of the
    API's authentication settings, see test_api_auth_names_are_settings)."""
    text = "\n".join(p.read_text() for p in all_tf_files())
    names = set(re.findall(r"\b(TWEETSTREAM_[A-Z0-9_]+)\b", text))
    assert names, "the task definitions configure the app through TWEETSTREAM_*"
    assert names - settings_env_names() - API_AUTH_SETTINGS == set()


def test_api_auth_names_are_settings() -> None:
    """Fails once the authentication settings exist under other names than the contract's."""
    missing = API_AUTH_SETTINGS - settings_env_names()
    if missing == API_AUTH_SETTINGS:
        pytest.skip(f"not Settings fields yet (API authentication, issue 14): {sorted(missing)}")
    assert not missing, f"only some of the API authentication settings exist: {sorted(missing)}"


def test_msk_security_settings_in_the_tasks() -> None:
    env = locals_of(TF_ROOT)["app_environment"]
    assert unquote(env["TWEETSTREAM_KAFKA_SECURITY_PROTOCOL"]) == "SASL_SSL"
    assert unquote(env["TWEETSTREAM_KAFKA_SASL_MECHANISM"]) == "AWS_MSK_IAM"
    assert "module.msk.bootstrap_brokers_iam" in env["TWEETSTREAM_KAFKA_BOOTSTRAP"]
    assert "module.rds.address" in env["TWEETSTREAM_PG_HOST"]
    assert unquote(env["TWEETSTREAM_S3_ENDPOINT_URL"]) == "", "AWS S3 itself"


def test_topic_and_group_names_match_settings() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    root_locals = locals_of(TF_ROOT)
    topics = {k: unquote(v) for k, v in root_locals["topics"].items()}
    assert topics == {
        "raw": settings.raw_topic,
        "classified": settings.classified_topic,
        "dlq": settings.dlq_topic,
        "retrain": settings.retrain_topic,
        "labels": settings.labels_topic,
        "alerts": settings.alerts_topic,
    }
    assert unquote(root_locals["worker_group"]) == settings.worker_group
    assert unquote(root_locals["archive_prefix"]) == settings.archive_prefix


def test_iam_grants_kafka_only_on_named_topics() -> None:
    text = strip_comments((MODULES / "iam" / "main.tf").read_text())
    assert "kafka-cluster:*" not in text
    assert '"kafka:*"' not in text
    # Only ecr:GetAuthorizationToken (no resource-level permissions) has Resource "*".
    assert len(re.findall(r'resources\s*=\s*\["\*"\]', text)) == 1


# --- the API and the UI -------------------------------------------------------------------


def resources(directory: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Resources (or data sources with kind "data:<type>") of one type in a directory."""
    section, _, kind = kind.rpartition(":")
    found: dict[str, dict[str, Any]] = {}
    for path in tf_files(directory):
        for block in parse(path).get(section or "resource", []):
            for rtype, named in block.items():
                if unquote(rtype) == kind:
                    found.update({unquote(n): body for n, body in named.items()})
    return found


def test_api_and_ui_are_services_behind_the_internal_alb() -> None:
    ecs = MODULES / "ecs"
    alb = resources(ecs, "aws_lb")["mlflow"]
    assert alb["internal"] is True, "the load balancer stays internal"
    services = resources(ecs, "aws_ecs_service")["serving"]
    assert services["for_each"] == "${local.serving_services}"
    (lb,) = services["load_balancer"]
    assert lb["target_group_arn"] == "${aws_lb_target_group.serving[each.key].arn}"
    assert services["network_configuration"][0]["assign_public_ip"] is False
    assert services["network_configuration"][0]["security_groups"] == [
        "${var.security_group_ids[each.key]}"
    ]

    listeners = resources(ecs, "aws_lb_listener")["serving"]
    assert listeners["load_balancer_arn"] == "${aws_lb.mlflow.arn}", "the existing ALB"
    assert listeners["for_each"] == "${local.serving_ports}"
    action = listeners["default_action"][0]
    assert unquote(action["type"]) == "forward"
    assert action["target_group_arn"] == "${aws_lb_target_group.serving[each.key].arn}"

    ports = locals_of(ecs)["serving_ports"]
    assert set(ports) == set(SERVING) == set(locals_of(ecs)["serving_services"])


@pytest.mark.parametrize("module", ["ecs", "network"])
def test_serving_ports_equal_settings_defaults(module: str) -> None:
    variables = blocks(MODULES / module, "variable")
    for service, field in SERVING.items():  # the defaults, whatever this shell's TWEETSTREAM_*
        assert variables[f"{service}_port"]["default"] == Settings.model_fields[field].default
        assert locals_of(MODULES / module)["serving_ports"][service] == f"${{var.{field}}}"


def test_serving_health_checks_probe_a_route_that_answers() -> None:
    from fastapi.testclient import TestClient

    from models.serving import ModelHolder
    from serve.api import create_app

    target_group = resources(MODULES / "ecs", "aws_lb_target_group")["serving"]
    (check,) = target_group["health_check"]
    path = unquote(check["path"])
    assert path == "/healthz", "liveness: /readyz fails with Kafka or PostgreSQL"
    assert unquote(check["matcher"]) == "200"
    code = locals_of(MODULES / "ecs")["serving_health_code"]
    assert "http://127.0.0.1:${port}/healthz" in code, "the container check probes it too"
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    for ui in (False, True):
        app = create_app(settings, ModelHolder(settings), hot_reload=False, ui=ui)
        assert TestClient(app).get(path).status_code == 200


def test_serving_tasks_get_tokens_from_secrets_manager() -> None:
    ecs = MODULES / "ecs"
    values = locals_of(ecs)
    secrets = values["serving_secrets"]
    assert "local.db_secrets" in secrets
    tokens = re.findall(r"\{name = \"([A-Z_]+)\", valueFrom = ([^}]+)\}", secrets)
    assert tokens == [("TWEETSTREAM_API_TOKENS", "var.api_tokens_secret_arn")], secrets
    environment = values["serving_environment"]
    code = [
        line
        for path in all_tf_files()
        for line in strip_comments(path.read_text()).splitlines()
        if "TWEETSTREAM_API_TOKENS" in line and "description" not in line
    ]
    assert len(code) == 1 and "valueFrom" in code[0], (
        f"the tokens are set once, from the secret, never as plain environment: {code}"
    )
    assert 'TWEETSTREAM_API_HOST = "0.0.0.0"' in environment, "reachable from the ALB"
    assert "var.api_reads_need_token" in environment

    task = resources(ecs, "aws_ecs_task_definition")["serving"]
    assert task["execution_role_arn"] == "${var.serving_execution_role_arn}"
    assert "secrets = local.serving_secrets" in task["container_definitions"]
    # The other task definitions never see the tokens.
    for name in ("app", "mlflow"):
        other = resources(ecs, "aws_ecs_task_definition")[name]
        assert "serving" not in str(other) and "api_tokens" not in str(other), name

    root = module_calls()
    assert root["ecs"]["api_tokens_secret_arn"] == "${module.secrets.api_tokens_secret_arn}"
    assert root["iam"]["api_tokens_secret_arn"] == "${module.secrets.api_tokens_secret_arn}"
    assert root["ecs"]["serving_execution_role_arn"] == ("${module.iam.serving_execution_role_arn}")


def test_tokens_secret_is_kms_encrypted_and_its_value_not_in_terraform() -> None:
    secret = resources(MODULES / "secrets", "aws_secretsmanager_secret")["api_tokens"]
    assert secret["kms_key_id"] == "${var.kms_key_arn}"
    assert module_calls()["secrets"]["kms_key_arn"] == "${module.kms.key_arn}"
    text = "\n".join(strip_comments(p.read_text()) for p in all_tf_files())
    assert "aws_secretsmanager_secret_version" not in text, "the tokens stay out of the state"
    assert "secret_string" not in text


def test_only_the_serving_execution_role_reads_the_tokens() -> None:
    iam = MODULES / "iam"
    documents = resources(iam, "data:aws_iam_policy_document")
    serving = documents["serving_execution"]
    assert serving["source_policy_documents"] == ["${data.aws_iam_policy_document.execution.json}"]
    (statement,) = serving["statement"]
    assert [unquote(a) for a in statement["actions"]] == ["secretsmanager:GetSecretValue"]
    assert statement["resources"] == ["${var.api_tokens_secret_arn}"], "that secret only"
    for name, document in documents.items():
        if name != "serving_execution":
            assert "api_tokens" not in str(document), f"policy {name} mentions the tokens"
    roles = resources(iam, "aws_iam_role_policy")
    assert roles["serving_execution"]["policy"] == (
        "${data.aws_iam_policy_document.serving_execution.json}"
    )
    assert roles["serving_execution"]["role"] == "${aws_iam_role.serving_execution.id}"


def test_serving_task_roles_write_only_the_raw_topic() -> None:
    iam = MODULES / "iam"
    policies = locals_of(iam)["task_policies"]
    for service in SERVING:
        assert policies[service] == "${data.aws_iam_policy_document.serving.json}"
    document = resources(iam, "data:aws_iam_policy_document")["serving"]
    resources_used = {r for st in document["statement"] for r in st["resources"]}
    assert resources_used == {"${var.msk_cluster_arn}", '${local.topic_arn["raw"]}'}
    actions = {unquote(a) for st in document["statement"] for a in st["actions"]}
    assert not {a for a in actions if a.startswith("s3:") or "ReadData" in a or "Group" in a}


def test_serving_security_groups_are_least_privilege() -> None:
    network = MODULES / "network"
    values = locals_of(network)
    for group in ("app_services", "kafka_clients", "db_clients", "mlflow_clients"):
        members = {unquote(m) for m in values[group]}
        assert set(SERVING) <= members, f"{group} lacks api or ui"

    ingress = resources(network, "aws_vpc_security_group_ingress_rule")
    # Only the ALB reaches the api and ui tasks, on their own ports.
    serving = ingress["serving"]
    assert serving["for_each"] == "${local.serving_ports}"
    assert serving["security_group_id"] == "${aws_security_group.service[each.key].id}"
    assert serving["referenced_security_group_id"] == '${aws_security_group.service["alb"].id}'
    assert serving["from_port"] == serving["to_port"] == "${each.value}"
    for name, rule in ingress.items():
        target = rule["security_group_id"]
        if name != "serving":
            assert "each.key" not in target, f"ingress rule {name} opens a service's group"
        cidr = str(rule.get("cidr_ipv4", ""))
        assert "0.0.0.0/0" not in cidr and "::/0" not in str(rule), name

    # Clients reach the ALB's API and UI listeners from the VPC and the declared networks.
    clients = ingress["alb_serving"]
    assert clients["security_group_id"] == '${aws_security_group.service["alb"].id}'
    assert clients["cidr_ipv4"] == "${each.value.cidr}"
    assert values["serving_client_cidrs"] == (
        "${distinct(concat([var.cidr_block], var.api_client_cidrs))}"
    )
    validation = blocks(network, "variable")["api_client_cidrs"]["validation"][0]
    assert '"/0"' in validation["condition"], "a /0 client range is refused"
    egress = resources(network, "aws_vpc_security_group_egress_rule")["alb_to_serving"]
    assert egress["referenced_security_group_id"] == "${aws_security_group.service[each.key].id}"


def test_serving_logs_and_sizes_like_the_other_services() -> None:
    ecs = MODULES / "ecs"
    assert "keys(local.serving_services)" in locals_of(ecs)["all_tasks"]
    log_group = resources(ecs, "aws_cloudwatch_log_group")["task"]
    assert log_group["retention_in_days"] == "${var.log_retention_days}"
    assert module_calls()["ecs"]["log_retention_days"] == "${var.log_retention_days}"
    root_sizes = blocks(TF_ROOT, "variable")["service_sizes"]["default"]
    assert set(SERVING) <= set(root_sizes)
    assert set(SERVING) <= set(blocks(ecs, "variable")["service_sizes"]["default"])
    for env in ENVS:
        sizes = tfvars(env).get("service_sizes")
        assert sizes is None or set(SERVING) <= set(sizes), f"{env}.tfvars lacks api or ui"


def test_serving_urls_are_outputs() -> None:
    ecs_outputs = blocks(MODULES / "ecs", "output")
    root_outputs = blocks(TF_ROOT, "output")
    for service in SERVING:
        assert ecs_outputs[f"{service}_url"]["value"] == f'${{local.serving_urls["{service}"]}}'
        assert root_outputs[f"{service}_url"]["value"] == f"${{module.ecs.{service}_url}}"
    urls = locals_of(MODULES / "ecs")["serving_urls"]
    assert "aws_lb.mlflow.dns_name" in urls
    assert "api_tokens_secret_name" in root_outputs


# --- the terraform binary, when there is one ------------------------------------------------

TERRAFORM = shutil.which("terraform")


def run_terraform(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert TERRAFORM
    return subprocess.run(
        [TERRAFORM, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on PATH")
def test_terraform_fmt() -> None:
    result = run_terraform("fmt", "-check", "-recursive", "-no-color", ".", cwd=TF_ROOT)
    assert result.returncode == 0, f"terraform fmt would change: {result.stdout}"


@pytest.mark.skipif(
    TERRAFORM is None or not PROVIDER_MIRROR.is_dir(),
    reason=f"no terraform binary or no provider mirror at {PROVIDER_MIRROR} (init would download)",
)
def test_terraform_validate(tmp_path: Path) -> None:
    """`terraform validate` on a copy (no backend, no credentials, providers from the mirror)."""
    copy = tmp_path / "terraform"
    shutil.copytree(TF_ROOT, copy, ignore=shutil.ignore_patterns(".terraform*"))
    init = run_terraform(
        "init",
        "-backend=false",
        "-input=false",
        "-no-color",
        f"-plugin-dir={PROVIDER_MIRROR}",
        cwd=copy,
    )
    assert init.returncode == 0, init.stderr
    validate = run_terraform("validate", "-no-color", cwd=copy)
    assert validate.returncode == 0, validate.stderr
