"""docs/iam for a whole AWS Organization: the organisation reader role of the management (or
delegated administrator) account, the exporter's own role that assumes it and the member roles,
and the CloudFormation StackSet that puts a member role in every account of the chosen OUs.

The templates are linted by cfn-lint, the member template is deployed to moto's CloudFormation
(with and without an external ID), and the policies are checked against the organisation
contract's calls and against the resource types of each action (parliament's copy of the
Service Authorization Reference)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from tests.paths import REPO
from tests.processes import run
from tests.tools import missing_tool, require_module

IAM = REPO / "docs" / "iam"
MEMBER_TEMPLATE = IAM / "member-role-stackset.yaml"
DEPLOYMENT_TEMPLATE = IAM / "member-role-stackset-deployment.yaml"
TEMPLATES = [MEMBER_TEMPLATE, DEPLOYMENT_TEMPLATE]
READER_POLICY = "organization-reader-role-policy.json"
READER_TRUST = "organization-reader-trust-policy.json"
EXPORTER_POLICY = "exporter-policy-organization.json"

# What the organisation contract calls with organization.role_arn's credentials: the accounts
# (ListAccounts, or ListChildren + ListAccountsForParent under organizational_units), their
# enabled regions (regions: enabled), and optionally the organisation-wide restore job counts.
READER_CALLS = {
    "organizations:ListAccounts",
    "organizations:ListChildren",
    "organizations:ListAccountsForParent",
    "account:ListRegions",
    "backup:ListRestoreJobSummaries",
}
ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}")


def policy(name: str) -> dict[str, Any]:
    return json.loads((IAM / name).read_text())


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _actions(document: dict[str, Any]) -> set[str]:
    return {a for s in document["Statement"] for a in _as_list(s["Action"])}


def template(path: Path) -> dict[str, Any]:
    """A CloudFormation template as plain data, short-form tags (!Ref, !If) as their long form."""
    decode = require_module("cfnlint.decode")
    decoded, problems = decode.decode_str(path.read_text())
    assert not problems, problems
    return json.loads(json.dumps(decoded))


def _cfn_lint() -> str:
    """The cfn-lint command: the one installed beside this Python (the venv's), else on PATH."""
    require_module("cfnlint")
    beside = str(Path(sys.executable).parent)
    found = shutil.which("cfn-lint", path=os.pathsep.join([beside, os.environ.get("PATH", "")]))
    if found is None:
        missing_tool("cfn-lint not installed (PyPI cfn-lint, a dev dependency; scripts/test)")
    return found


def lint(path: Path) -> tuple[int, list[dict[str, Any]]]:
    result = run([_cfn_lint(), "--format", "json", "--", str(path)], timeout=120)
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout)


# ---- cfn-lint ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_cfn_lint_finds_no_error_or_warning(path):
    code, matches = lint(path)
    assert [(m["Rule"]["Id"], m["Level"], m["Message"]) for m in matches] == []
    assert code == 0


@pytest.mark.parametrize(
    ("path", "old", "new", "rule"),
    [
        (DEPLOYMENT_TEMPLATE, "PermissionModel: SERVICE_MANAGED", "PermissionModel: ORG", "E3030"),
        (MEMBER_TEMPLATE, "backup:ListRestoreJobs\n", "backup:ListRestoreJob\n", "W3037"),
    ],
    ids=["error", "warning"],
)
def test_cfn_lint_would_report_a_broken_template(path, old, new, rule, tmp_path):
    """The clean result above means something: the same run fails on an error and on a
    warning (a misspelt IAM action) in a copy of the template."""
    text = path.read_text()
    assert old in text
    broken = tmp_path / path.name
    broken.write_text(text.replace(old, new, 1))
    code, matches = lint(broken)
    assert rule in {m["Rule"]["Id"] for m in matches}
    assert code != 0


# ---- the member role and its StackSet ------------------------------------------------------


def _member_role() -> dict[str, Any]:
    return template(MEMBER_TEMPLATE)["Resources"]["MemberRole"]["Properties"]


def _stackset() -> dict[str, Any]:
    return template(DEPLOYMENT_TEMPLATE)["Resources"]["MemberRoleStackSet"]["Properties"]


def test_member_role_has_exactly_the_member_account_policy():
    [inline] = _member_role()["Policies"]
    assert inline["PolicyDocument"] == policy("member-account-role-policy.json")


def test_stackset_deploys_the_member_template_byte_for_byte():
    assert _stackset()["TemplateBody"] == MEMBER_TEMPLATE.read_text()


def test_stackset_follows_the_organisation_to_new_and_leaving_accounts():
    stackset = _stackset()
    assert stackset["PermissionModel"] == "SERVICE_MANAGED"
    assert stackset["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    [group] = stackset["StackInstancesGroup"]
    assert group["DeploymentTargets"] == {"OrganizationalUnitIds": {"Ref": "OrganizationalUnitIds"}}
    assert group["Regions"] == [{"Ref": "AWS::Region"}]  # IAM is global: one Region only
    assert stackset["Capabilities"] == ["CAPABILITY_NAMED_IAM"]  # the role has a name
    parameters = template(DEPLOYMENT_TEMPLATE)["Parameters"]
    assert parameters["OrganizationalUnitIds"]["Type"] == "CommaDelimitedList"
    assert parameters["CallAs"]["AllowedValues"] == ["SELF", "DELEGATED_ADMIN"]
    assert stackset["CallAs"] == {"Ref": "CallAs"}


def test_stackset_passes_every_parameter_the_member_template_needs():
    member = template(MEMBER_TEMPLATE)["Parameters"]
    deployment = template(DEPLOYMENT_TEMPLATE)["Parameters"]
    always, conditional = {}, {}
    for entry in _stackset()["Parameters"]:
        if "Fn::If" in entry:
            condition, value, otherwise = entry["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
            conditional[value["ParameterKey"]] = (condition, value["ParameterValue"])
        else:
            always[entry["ParameterKey"]] = entry["ParameterValue"]
    assert set(always) | set(conditional) <= set(member)
    assert {name for name, spec in member.items() if "Default" not in spec} <= set(always)
    assert always["RoleName"] == {"Ref": "MemberRoleName"}
    assert always["ExporterRoleArn"] == {"Ref": "ExporterRoleArn"}
    # An empty ExternalId is not passed at all: the member template's default (none) applies.
    assert conditional == {"ExternalId": ("HasExternalId", {"Ref": "ExternalId"})}
    assert deployment["MemberRoleName"]["Default"] == member["RoleName"]["Default"]
    for name in ("ExporterRoleArn", "ExternalId"):
        assert deployment[name]["AllowedPattern"] == member[name]["AllowedPattern"], name


@pytest.mark.parametrize("external_id", [None, "aws-backup-restore-exporter"])
def test_member_template_deploys_a_role_that_trusts_only_the_exporter(moto, external_id):
    """Deployed to moto's CloudFormation: the role is named as member_role_arn expects, and its
    trust policy asks for the external ID only when one is given."""
    exporter_role = "arn:aws:iam::111122223333:role/aws-backup-restore-exporter-central"
    parameters = [{"ParameterKey": "ExporterRoleArn", "ParameterValue": exporter_role}]
    if external_id is not None:
        parameters.append({"ParameterKey": "ExternalId", "ParameterValue": external_id})
    clients = {"endpoint_url": moto, "region_name": "us-east-1"}
    cloudformation = boto3.client("cloudformation", **clients)
    cloudformation.create_stack(
        StackName="member-role",
        TemplateBody=MEMBER_TEMPLATE.read_text(),
        Parameters=parameters,
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    [stack] = cloudformation.describe_stacks(StackName="member-role")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    [output] = stack["Outputs"]
    account = output["OutputValue"].split(":")[4]
    member_role_arn = "arn:aws:iam::{account_id}:role/aws-backup-restore-exporter"
    assert output["OutputValue"] == member_role_arn.format(account_id=account)

    role = boto3.client("iam", **clients).get_role(RoleName="aws-backup-restore-exporter")
    [statement] = role["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"AWS": exporter_role}
    assert statement["Action"] == "sts:AssumeRole"
    if external_id is None:
        assert "Condition" not in statement
    else:
        assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": external_id}}


# ---- the organisation reader role and the exporter's own role ------------------------------


def _resource_types() -> dict[str, list[str]]:
    """Each action's resource ARN formats ([] when it has no resource-level permissions), from
    the Service Authorization Reference as parliament ships it."""
    parliament = require_module("parliament")
    definition = json.loads((Path(parliament.__file__).parent / "iam_definition.json").read_text())
    formats: dict[str, list[str]] = {}
    for service in definition:
        arns = {r["resource"]: r["arn"] for r in service["resources"]}
        for privilege in service["privileges"]:
            kinds = [t["resource_type"].rstrip("*") for t in privilege["resource_types"]]
            action = f"{service['prefix']}:{privilege['privilege']}"
            formats[action] = [arns[kind] for kind in kinds if kind]
    return formats


def _matches(resource: str, arn_format: str) -> bool:
    """Whether a policy's resource (wildcards allowed in each variable part) has the format."""
    pattern = "".join(
        "[^:/]+" if part.startswith("${") else re.escape(part)
        for part in re.split(r"(\$\{\w+\})", arn_format.replace("${Partition}", "aws"))
    )
    return re.fullmatch(pattern, resource) is not None


def test_reader_policy_allows_exactly_the_calls_of_the_organisation_contract():
    assert _actions(policy(READER_POLICY)) == READER_CALLS


def _organisation_calls_of_the_exporter() -> set[str]:
    """The Organizations and Account Management operations the exporter's modules name."""
    source = "".join(path.read_text() for path in sorted((REPO / "exporter").glob("*.py")))
    names = set(re.findall(r"\b(\w+)\(", source)) | set(re.findall(r"\"(\w+)\"", source))
    calls = set()
    for service in ("organizations", "account"):
        client = boto3.session.Session().client(service, region_name="us-east-1")
        operations = client.meta.method_to_api_mapping
        calls |= {f"{service}:{operations[n]}" for n in names & set(operations)}
    return calls


def test_reader_policy_covers_every_organisation_call_the_exporter_makes():
    assert _organisation_calls_of_the_exporter() <= _actions(policy(READER_POLICY))


def test_reader_policy_names_the_narrowest_resources_each_action_has():
    formats = _resource_types()
    for statement in policy(READER_POLICY)["Statement"]:
        for action in _as_list(statement["Action"]):
            resources = _as_list(statement["Resource"])
            if not formats[action]:
                assert resources == ["*"], action  # no resource-level permissions
                continue
            for resource in resources:
                assert any(_matches(resource, f) for f in formats[action]), (action, resource)
    assert formats["account:ListRegions"]  # the check above ran against real formats


def test_reader_policy_and_exporter_policy_name_the_same_organisation():
    reader = policy(READER_POLICY)
    arns = [r for s in reader["Statement"] for r in _as_list(s["Resource"]) if r != "*"]
    organisations = {m for arn in arns for m in ORGANIZATION_ID.findall(arn)}
    management = {arn.split(":")[4] for arn in arns}
    [organisation] = organisations
    [member] = [s for s in policy(EXPORTER_POLICY)["Statement"] if "Condition" in s]
    assert member["Condition"] == {"StringEquals": {"aws:ResourceOrgID": organisation}}
    # The reader role lives in the management account its ARNs name.
    [reader_role] = [s for s in policy(EXPORTER_POLICY)["Statement"] if "Condition" not in s]
    assert {reader_role["Resource"].split(":")[4]} == management


def test_exporter_assumes_the_reader_role_and_member_roles_inside_the_organisation_only():
    exporter = policy(EXPORTER_POLICY)
    assert _actions(exporter) == {"sts:AssumeRole"}
    member_role_name = template(MEMBER_TEMPLATE)["Parameters"]["RoleName"]["Default"]
    by_resource = {s["Resource"]: s for s in exporter["Statement"]}
    member = by_resource.pop(f"arn:aws:iam::*:role/{member_role_name}")
    assert set(member["Condition"]["StringEquals"]) == {"aws:ResourceOrgID"}
    [reader_role] = by_resource
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+", reader_role)
    assert "Condition" not in by_resource[reader_role]  # one role of one account


def test_reader_role_trusts_only_the_exporter_role_which_is_not_named_like_a_member_role():
    [statement] = policy(READER_TRUST)["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    exporter_role = statement["Principal"]["AWS"]
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+", exporter_role)
    # The StackSet creates the member role in the exporter's account too, if it is in the OUs:
    # the exporter's own role needs another name.
    member_role_name = template(MEMBER_TEMPLATE)["Parameters"]["RoleName"]["Default"]
    assert exporter_role.rsplit("/", 1)[1] != member_role_name


@pytest.mark.parametrize("name", [READER_POLICY, EXPORTER_POLICY])
def test_organisation_permissions_policies_pass_parliament(name):
    parliament = require_module("parliament")
    analysed = parliament.analyze_policy_string(
        (IAM / name).read_text(), include_community_auditors=True
    )
    # sts:AssumeRole returns credentials: inherent to reading other accounts.
    expected = ["CREDENTIALS_EXPOSURE"] if "sts:AssumeRole" in _actions(policy(name)) else []
    assert [finding.issue for finding in analysed.findings] == expected


def test_readme_lists_every_file_of_docs_iam():
    readme = (IAM / "README.md").read_text()
    for path in sorted(IAM.iterdir()):
        if path.name != "README.md":
            assert f"[`{path.name}`]({path.name})" in readme, path.name


# ---- the README's commands and config ------------------------------------------------------


def _organisation_section() -> str:
    readme = (IAM / "README.md").read_text()
    return readme.split("\n## A whole AWS Organization\n", 1)[1].split("\n## ", 1)[0]


def _deploy_commands() -> list[tuple[Path, dict[str, str]]]:
    """Each ``aws cloudformation deploy`` of the section: its template and parameter values."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", _organisation_section(), re.DOTALL):
        words = shlex.split(block.replace("\\\n", " "))
        if words[:3] != ["aws", "cloudformation", "deploy"]:
            continue
        path = REPO / words[words.index("--template-file") + 1]
        start = words.index("--parameter-overrides") + 1
        end = next((i for i in range(start, len(words)) if words[i].startswith("--")), len(words))
        commands.append((path, dict(word.split("=", 1) for word in words[start:end])))
    return commands


def _config_example() -> dict[str, Any]:
    [block] = re.findall(r"```yaml\n(organization:.*?)```", _organisation_section(), re.DOTALL)
    return yaml.safe_load(block)


def test_readme_deploys_both_templates_with_parameters_they_have():
    commands = _deploy_commands()
    assert sorted(path.name for path, _ in commands) == sorted(p.name for p in TEMPLATES)
    exporter_role = policy(READER_TRUST)["Statement"][0]["Principal"]["AWS"]
    for path, values in commands:
        parameters = template(path)["Parameters"]
        assert set(values) <= set(parameters), path.name
        required = {name for name, spec in parameters.items() if "Default" not in spec}
        assert required <= set(values), path.name
        for name, value in values.items():
            for item in (
                value.split(",") if parameters[name]["Type"] == "CommaDelimitedList" else [value]
            ):
                pattern = parameters[name].get("AllowedPattern", ".*")
                assert re.fullmatch(pattern, item), (path.name, name, item)
        assert values["ExporterRoleArn"] == exporter_role  # the role OrgReader trusts too


def test_readme_config_is_valid_and_names_the_roles_and_ous_of_the_policies_and_stackset():
    from exporter.config import parse_config

    organization = parse_config(_config_example()).organization
    assert organization is not None
    reader_role, member_role = (s["Resource"] for s in policy(EXPORTER_POLICY)["Statement"])
    assert organization.role_arn == reader_role
    assert organization.member_role("*") == member_role
    stackset = dict(_deploy_commands())[DEPLOYMENT_TEMPLATE]
    assert organization.external_id == stackset["ExternalId"]
    assert list(organization.organizational_units) == stackset["OrganizationalUnitIds"].split(",")
