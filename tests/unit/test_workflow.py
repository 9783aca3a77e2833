"""Structure of .github/workflows/ci.yml (GitHub Actions cannot run here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"
DEPLOYS = {"deploy-dev": "dev", "deploy-stg": "stg", "deploy-prod": "prod"}
# Branch -> the one deploy job that must run for a push to it.
BRANCHES = {
    "refs/heads/feature/add-thing": "deploy-dev",
    "refs/heads/feature/a/b": "deploy-dev",
    "refs/heads/staging": "deploy-stg",
    "refs/heads/main": "deploy-prod",
    "refs/heads/other": None,
    "refs/heads/mainline": None,
}


def load() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def jobs() -> dict[str, dict[str, Any]]:
    return dict(load()["jobs"])


def run_lines(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def evaluate(condition: str, ref: str, event: str = "push") -> bool:
    """The small subset of the GitHub expression language the conditions use."""
    expression = " ".join(condition.split())
    expression = re.sub(
        r"startsWith\(github\.ref, '([^']*)'\)",
        lambda m: str(ref.startswith(m.group(1))),
        expression,
    )
    expression = expression.replace("github.event_name", repr(event)).replace(
        "github.ref", repr(ref)
    )
    expression = expression.replace("&&", " and ").replace("||", " or ")
    assert re.fullmatch(r"[\w\s'/\-().=!*]+", expression), expression
    return bool(eval(expression, {"__builtins__": {}}, {}))  # grammar checked above


def test_parses_with_triggers_and_least_permissions() -> None:
    data = load()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as True
    assert set(triggers["push"]["branches"]) == {"main", "staging", "feature/**"}
    assert "pull_request" in triggers
    assert data["permissions"] == {"contents": "read"}


def test_test_job_runs_make_test() -> None:
    job = jobs()["test"]
    assert job["runs-on"].startswith("ubuntu")
    runs = run_lines(job)
    assert "make test" in runs
    assert any("apt-get install" in r and "postgresql" in r for r in runs)
    with_ = {s["uses"].split("@")[0]: s.get("with", {}) for s in job["steps"] if "uses" in s}
    assert str(with_["actions/setup-python"]["python-version"]) == "3.11"
    assert str(with_["actions/setup-java"]["java-version"]) == "17"


def test_checkov_job_runs_the_make_target() -> None:
    assert "make infra-check" in run_lines(jobs()["checkov"])
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^infra-check:", makefile, re.MULTILINE)
    assert "checkov -d infra/terraform" in makefile


def test_image_job() -> None:
    job = jobs()["image"]
    assert set(job["needs"]) == {"test", "checkov"}
    assert job["permissions"]["id-token"] == "write"
    uses = [s["uses"] for s in job["steps"] if "uses" in s]
    assert any(u.startswith("aws-actions/configure-aws-credentials@") for u in uses)
    script = "\n".join(run_lines(job))
    assert "docker build" in script and "docker push" in script
    for ref, deploy in BRANCHES.items():
        assert evaluate(job["if"], ref) is (deploy is not None), ref
    assert not evaluate(job["if"], "refs/heads/main", event="pull_request")
    # The branch -> environment mapping of the image matches the deploy jobs.
    assert "main) env=prod" in script
    assert "staging) env=stg" in script
    assert "feature/*) env=dev" in script


@pytest.mark.parametrize(("ref", "expected"), list(BRANCHES.items()))
def test_deploy_branch_gating(ref: str, expected: str | None) -> None:
    running = {name for name in DEPLOYS if evaluate(jobs()[name]["if"], ref)}
    assert running == ({expected} if expected else set())
    for name in DEPLOYS:
        assert not evaluate(jobs()[name]["if"], ref, event="pull_request")


@pytest.mark.parametrize(("name", "env"), list(DEPLOYS.items()))
def test_deploy_job_runs_terraform_for_its_environment(name: str, env: str) -> None:
    job = jobs()[name]
    assert job["environment"] == env, "GitHub environment: secrets and (prod) protection"
    assert job["needs"] == "image"
    assert job["permissions"]["id-token"] == "write"
    assert job["defaults"]["run"]["working-directory"] == "infra/terraform"
    runs = run_lines(job)
    assert runs[0] == f"terraform init -input=false -backend-config=envs/{env}.backend.hcl"
    assert runs[1].startswith(f"terraform plan -input=false -var-file=envs/{env}.tfvars ")
    assert "image_tag=${{ needs.image.outputs.image_tag }}" in runs[1]
    assert runs[2] == "terraform apply -input=false tfplan"
    for path in (f"envs/{env}.backend.hcl", f"envs/{env}.tfvars"):
        assert (REPO_ROOT / "infra" / "terraform" / path).is_file()
    uses = {s["uses"].split("@")[0]: s.get("with", {}) for s in job["steps"] if "uses" in s}
    role = uses["aws-actions/configure-aws-credentials"]["role-to-assume"]
    assert role == "${{ secrets.AWS_DEPLOY_ROLE_ARN }}"


def test_every_action_is_pinned() -> None:
    for name, job in jobs().items():
        for step in job["steps"]:
            if "uses" not in step:
                continue
            action, _, ref = step["uses"].partition("@")
            assert ref, f"{name}: {action} is not pinned"
            assert re.fullmatch(r"v\d+\.\d+\.\d+|[0-9a-f]{40}", ref), f"{name}: {step['uses']}"


def test_no_plain_secrets_in_the_file() -> None:
    text = WORKFLOW.read_text()
    assert not re.search(r"AKIA[0-9A-Z]{16}", text)
    assert "aws-secret-access-key" not in text, "OIDC roles only"
