"""Static checks of infra/terraform: every file parses, module interfaces are consistent.

No terraform binary runs here: python-hcl2 parses the files and these tests check what
`terraform validate` would catch across module boundaries (undeclared or unused variables,
missing required arguments, unknown outputs, tfvars for unknown variables), plus that the ECS
tasks run real `tweetstream` subcommands and the TWEETSTREAM_* variables are real settings.
"""

from __future__ import annotations

import re
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
EXPECTED_MODULES = {"network", "kms", "msk", "rds", "s3", "ecr", "ecs", "iam"}
# ECS service or one-off task -> the tweetstream subcommand path it runs.
EXPECTED_COMMANDS = {
    "worker": ["worker"],
    "monitor": ["monitor"],
    "trainer": ["trainer"],
    "ops": ["db", "upgrade"],
}
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
    for group in ("app_services", "one_off_tasks"):
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


def test_container_environment_names_are_settings() -> None:
    """Every TWEETSTREAM_* variable the Terraform sets is a field of Settings."""
    fields = {f"TWEETSTREAM_{name.upper()}" for name in Settings.model_fields}
    text = "\n".join(p.read_text() for p in all_tf_files())
    names = set(re.findall(r"\b(TWEETSTREAM_[A-Z0-9_]+)\b", text))
    assert names, "the task definitions configure the app through TWEETSTREAM_*"
    assert names - fields == set()


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
    }
    assert unquote(root_locals["worker_group"]) == settings.worker_group
    assert unquote(root_locals["archive_prefix"]) == settings.archive_prefix


def test_iam_grants_kafka_only_on_named_topics() -> None:
    text = strip_comments((MODULES / "iam" / "main.tf").read_text())
    assert "kafka-cluster:*" not in text
    assert '"kafka:*"' not in text
    # Only ecr:GetAuthorizationToken (no resource-level permissions) has Resource "*".
    assert len(re.findall(r'resources\s*=\s*\["\*"\]', text)) == 1
