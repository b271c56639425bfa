"""The Helm chart, rendered by a real Helm (helm-python-sdk bundles Helm's Go SDK) and checked
offline: lint, Kubernetes schemas (kubernetes-validate) for the built-in kinds, promtool and field
assertions for the Prometheus Operator's CRD kinds, the exporter's own config validation for the
ConfigMap, and values.schema.json rejecting bad values.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter import __version__
from exporter.cli import DEFAULT_LISTEN_ADDRESS, build_parser, read_shard
from exporter.config import ConfigError, parse_config
from exporter.durations import parse_duration
from exporter.targets import Shard
from tests.paths import REPO
from tests.processes import run, run_exporter
from tests.tools import require_module, run_tool

CHART = REPO / "charts" / "aws-backup-restore-exporter"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
EXAMPLES = CHART / "examples"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule", "Certificate"}
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
NAMESPACE = "monitoring"
CONFIG_DIR = "/etc/aws-backup-restore-exporter"
SECRETS_DIR = "/run/secrets/aws-backup-restore-exporter"
# The web config shapes of ci/: file -> (scheme of probes and scrapes, client certificates).
WEB_CONFIG_SHAPES = {
    "web-basic-auth-values.yaml": ("http", False),
    "web-tls-existing-secret-values.yaml": ("https", False),
    "web-mtls-cert-manager-values.yaml": ("https", True),
    "web-existing-secret-values.yaml": ("https", False),
}
# The sharded and organisation shapes of ci/.
SHARDED_SHAPES = ["sharded-values.yaml", "sharded-organization-values.yaml"]
ORGANIZATION_SHAPES = ["organization-values.yaml", "sharded-organization-values.yaml"]


# ---- rendering -----------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice: Kubernetes does too."""


def _no_duplicate_keys(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    keys = [loader.construct_object(key, deep=deep) for key, _ in node.value]
    duplicates = {key for key in keys if keys.count(key) > 1}
    if duplicates:
        raise yaml.constructor.ConstructorError(
            None, None, f"duplicate keys {sorted(duplicates)}", node.start_mark
        )
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicate_keys)


@functools.cache
def _render_cached(values_json: str, release: str) -> tuple[dict[str, Any], ...]:
    helm = require_module("helm_python")
    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(json.loads(values_json), name=release, namespace=NAMESPACE)
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        for document in yaml.load_all(text, Loader=_UniqueKeyLoader):
            if document:
                objects.append(document)
    return tuple(objects)


def render(values: dict[str, Any], release: str = "restores") -> list[dict[str, Any]]:
    """Every object the chart renders for these values, as fresh dicts."""
    return copy.deepcopy(list(_render_cached(json.dumps(values, sort_keys=True), release)))


def load_values(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def minimal() -> dict[str, Any]:
    return load_values(CHART / "ci" / "minimal-values.yaml")


def everything() -> dict[str, Any]:
    return load_values(CHART / "ci" / "everything-values.yaml")


def one(objects: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    found = [
        o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(name_suffix)
    ]
    assert len(found) == 1, f"expected one {kind}*{name_suffix}, got {len(found)}"
    return found[0]


def config_map(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The exporter's ConfigMap (not the dashboard's)."""
    found = [o for o in objects if o["kind"] == "ConfigMap" and "config.yaml" in o["data"]]
    assert len(found) == 1
    return found[0]


def workload(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The pods' owner: the Deployment, or the StatefulSet of shards (never both)."""
    found = [o for o in objects if o["kind"] in WORKLOAD_KINDS]
    assert len(found) == 1, f"expected one of {WORKLOAD_KINDS}, got {len(found)}"
    return found[0]


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    containers = workload(objects)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def pod_args(exporter: dict[str, Any], pod_name: str) -> list[str]:
    """The container's args as Kubernetes passes them to a pod of this name: each $(VAR) of the
    container's env replaced by its value (a literal, or the downward API's metadata.name)."""
    values = {}
    for item in exporter.get("env", []):
        if "value" in item:
            values[item["name"]] = item["value"]
        elif item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
            values[item["name"]] = pod_name
    return [
        re.sub(r"\$\((\w+)\)", lambda m: values.get(m.group(1), m.group(0)), arg)
        for arg in exporter["args"]
    ]


def kube_version_floor() -> str:
    """The lowest Kubernetes version Chart.yaml's kubeVersion admits, as "1.25"."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    match = re.fullmatch(r">=\s*v?(\d+)\.(\d+)(\.\d+)?(-0)?", chart["kubeVersion"])
    assert match, f"kubeVersion {chart['kubeVersion']!r} is not a simple '>=' floor"
    return f"{match.group(1)}.{match.group(2)}"


def _ids(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


# ---- every supported shape: render, lint, Kubernetes schemas --------------------------------


def test_ci_values_cover_the_supported_shapes():
    assert {path.name for path in CI_VALUES} >= {
        "minimal-values.yaml",
        "irsa-values.yaml",
        "multi-target-values.yaml",
        "everything-values.yaml",
        *WEB_CONFIG_SHAPES,
        *SHARDED_SHAPES,
        *ORGANIZATION_SHAPES,
    }


@pytest.mark.parametrize("values_file", CI_VALUES, ids=_ids(CI_VALUES))
def test_chart_lints_without_errors_or_warnings(values_file):
    helm = require_module("helm_python")
    result = helm.lint(
        str(CHART),
        values=load_values(values_file),
        strict=True,
        namespace=NAMESPACE,
        kube_version=f"v{kube_version_floor()}.0",
    )
    assert result["errors"] == []
    # Severity 1 is INFO ("icon is recommended"); 2 and above are warnings and errors.
    assert [m for m in result["messages"] if m["severity"] > 1] == []


@pytest.mark.parametrize("values_file", CI_VALUES, ids=_ids(CI_VALUES))
def test_rendered_objects_are_valid_kubernetes_objects(values_file):
    validator = require_module("kubernetes_validate")
    objects = render(load_values(values_file))
    assert {o["kind"] for o in objects} >= {"Service", "ServiceAccount"}
    assert workload(objects)["kind"] in WORKLOAD_KINDS
    versions = sorted({kube_version_floor(), validator.latest_version()})
    checked = 0
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            continue  # not in the Kubernetes schemas: checked by the tests below
        for version in versions:
            validator.validate(obj, version, strict=True)
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("values_file", CI_VALUES, ids=_ids(CI_VALUES))
def test_every_object_is_namespaced_named_and_labelled_for_its_release(values_file):
    objects = render(load_values(values_file), release="restores-x")
    for obj in objects:
        metadata = obj["metadata"]
        assert metadata["namespace"], obj["kind"]
        assert len(metadata["name"]) <= 63
        assert metadata["labels"]["app.kubernetes.io/instance"] == "restores-x"
        assert metadata["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def test_optional_resources_are_off_by_default():
    kinds = sorted(o["kind"] for o in render(minimal()))
    assert kinds == ["ConfigMap", "Deployment", "Service", "ServiceAccount"]


def test_everything_enabled_renders_every_optional_resource():
    kinds = sorted(o["kind"] for o in render(everything()))
    assert kinds == [
        "ConfigMap",
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PrometheusRule",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    ]


# ---- pod: security, probes, image, arguments -----------------------------------------------


@pytest.mark.parametrize("values_file", CI_VALUES, ids=_ids(CI_VALUES))
def test_pod_and_container_are_hardened(values_file):
    objects = render(load_values(values_file))
    pod = workload(objects)["spec"]["template"]["spec"]
    pod_context = pod["securityContext"]
    assert pod_context["runAsNonRoot"] is True
    assert pod_context["runAsUser"] != 0
    assert pod_context["runAsGroup"] != 0
    assert pod_context["fsGroup"] == pod_context["runAsGroup"]  # the IRSA token is readable
    assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container(objects)["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["runAsNonRoot"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context.get("privileged", False) is False
    assert pod["automountServiceAccountToken"] is False
    assert pod.get("hostNetwork", False) is False


def test_pod_runs_as_the_image_user():
    dockerfile = (REPO / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\d+):(\d+)\s*$", dockerfile, flags=re.MULTILINE)
    assert len(users) == 1
    pod_context = one(render(minimal()), "Deployment")["spec"]["template"]["spec"][
        "securityContext"
    ]
    assert (str(pod_context["runAsUser"]), str(pod_context["runAsGroup"])) == users[0]


@pytest.mark.parametrize("values_file", CI_VALUES, ids=_ids(CI_VALUES))
def test_liveness_and_readiness_probe_healthz_on_the_listening_port(values_file):
    """/healthz over HTTP; HTTPS under TLS (the kubelet does not verify certificates); a TCP
    connect when client certificates are required (the kubelet has none to send)."""
    exporter = container(render(load_values(values_file)))
    ports = {port["name"]: port["containerPort"] for port in exporter["ports"]}
    default_port = int(DEFAULT_LISTEN_ADDRESS.rsplit(":", 1)[1])
    assert ports == {"http": default_port}
    assert f"--web.listen-address=:{default_port}" in exporter["args"]
    scheme, client_certificates = WEB_CONFIG_SHAPES.get(values_file.name, ("http", False))
    for probe in ("livenessProbe", "readinessProbe"):
        if client_certificates:
            assert exporter[probe]["tcpSocket"] == {"port": "http"}
            assert "httpGet" not in exporter[probe]
        elif scheme == "https":
            assert exporter[probe]["httpGet"] == {
                "path": "/healthz",
                "port": "http",
                "scheme": "HTTPS",
            }
        else:
            assert exporter[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert exporter[probe]["timeoutSeconds"] >= 1


def test_default_resources_request_what_ten_thousand_jobs_measured_and_set_no_limit():
    """values.yaml's comment gives the figures (bench/scale.py): 120 MB peak RSS at 10,000
    jobs; no limit, so that a large estate is not OOM-killed by a default."""
    resources = container(render(minimal()))["resources"]
    assert set(resources) == {"requests"}
    memory = resources["requests"]["memory"]
    assert re.fullmatch(r"\d+Mi", memory)
    assert int(memory[:-2]) * 2**20 >= 120 * 10**6
    assert resources["requests"]["cpu"] == "50m"
    comment = (CHART / "values.yaml").read_text()
    assert "python bench/scale.py" in comment
    assert "120 MB at 10,000" in comment


def test_probe_timings_come_from_values():
    values = minimal()
    values["livenessProbe"] = {"periodSeconds": 42, "failureThreshold": 7}
    exporter = container(render(values))
    assert exporter["livenessProbe"]["periodSeconds"] == 42
    assert exporter["livenessProbe"]["failureThreshold"] == 7
    assert exporter["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_image_tag_defaults_to_app_version_which_is_the_package_version():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    # One version (CHANGELOG.md's policy): the chart is released with the exporter.
    assert chart["appVersion"] == __version__
    assert chart["version"] == __version__
    values = load_values(CHART / "values.yaml")
    image = container(render(minimal()))["image"]
    assert image == f"{values['image']['repository']}:{__version__}"


def test_image_digest_replaces_the_tag():
    values = everything()
    image = container(render(values))["image"]
    assert image == f"{values['image']['repository']}@{values['image']['digest']}"


@pytest.mark.parametrize("values_file", CI_VALUES, ids=_ids(CI_VALUES))
def test_container_arguments_are_accepted_by_the_exporter_cli(values_file):
    objects = render(load_values(values_file))
    exporter = container(objects)
    assert "command" not in exporter  # the image's ENTRYPOINT is the exporter
    parser = build_parser()
    args = parser.parse_args(pod_args(exporter, f"{workload(objects)['metadata']['name']}-0"))
    read_shard(args, parser)  # a usage error (SystemExit) if the shard flags were wrong
    assert args.config_file == f"{CONFIG_DIR}/config.yaml"
    mounts = {m["name"]: m for m in exporter["volumeMounts"]}
    assert mounts["config"]["mountPath"] == CONFIG_DIR
    assert mounts["config"]["readOnly"] is True


def test_log_settings_extra_args_and_environment_reach_the_container():
    values = everything()
    exporter = container(render(values))
    args = build_parser().parse_args(exporter["args"])
    assert (args.log_level, args.log_format) == ("debug", "json")
    assert args.process_metrics is True  # extraArgs: --collector.process
    env = {item["name"]: item for item in exporter["env"]}
    assert env["AWS_STS_REGIONAL_ENDPOINTS"]["value"] == "regional"
    assert env["AWS_MAX_ATTEMPTS"]["value"] == "4"  # a number in values, a string for Kubernetes
    assert env["AWS_CA_BUNDLE"] == values["extraEnv"][0]
    assert exporter["envFrom"] == values["envFrom"]
    assert exporter["resources"] == values["resources"]


# ---- ServiceAccount and IRSA ----------------------------------------------------------------


def test_irsa_role_annotation_is_on_the_service_account_the_pod_runs_as():
    values = load_values(CHART / "ci" / "irsa-values.yaml")
    objects = render(values)
    account = one(objects, "ServiceAccount")
    role_arn = values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role_arn
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_existing_service_account_is_used_when_none_is_created():
    values = minimal()
    values["serviceAccount"] = {"create": False, "name": "shared-reader"}
    objects = render(values)
    assert [o for o in objects if o["kind"] == "ServiceAccount"] == []
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "shared-reader"


# ---- the exporter's configuration -----------------------------------------------------------


@pytest.mark.parametrize("values_file", CI_VALUES, ids=_ids(CI_VALUES))
def test_configmap_holds_the_values_config_and_the_exporter_accepts_it(values_file, tmp_path):
    values = load_values(values_file)
    objects = render(values)
    text = config_map(objects)["data"]["config.yaml"]
    data = yaml.safe_load(text)
    # The values' config, less the sections left empty: nothing lost or changed on the way
    # (account IDs stay strings, numbers stay numbers).
    assert data == {key: value for key, value in values["config"].items() if value}
    config = parse_config(data)
    assert [t.region for t in config.targets] == [t["region"] for t in data.get("targets", [])]
    if "organization" in data:
        assert config.organization is not None
        assert config.organization.member_role_arn == data["organization"]["member_role_arn"]
        # Hundreds of discovered targets cannot sync within a scrape: background sync.
        assert config.sync.interval_seconds is not None
    else:
        assert config.organization is None
    # The same file through the exporter's command line, as a user would check it.
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = run_exporter("--config.check", "--config.file", str(path))
    assert result.returncode == 0, result.stderr
    assert f"configuration OK: {len(config.targets)} target(s)" in result.stdout


def test_deployment_mounts_the_configmap_it_renders():
    objects = render(minimal())
    volumes = one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    config_volume = next(v for v in volumes if v["name"] == "config")
    assert config_volume["configMap"]["name"] == config_map(objects)["metadata"]["name"]


def _checksum(values: dict[str, Any]) -> str:
    template = one(render(values), "Deployment")["spec"]["template"]
    return template["metadata"]["annotations"]["checksum/config"]


def test_config_change_changes_the_pod_checksum_so_pods_restart():
    before = minimal()
    after = minimal()
    after["config"]["targets"].append({"name": "more", "region": "us-west-2"})
    assert re.fullmatch(r"[0-9a-f]{64}", _checksum(before))
    assert _checksum(before) != _checksum(after)


def test_unrelated_change_keeps_the_pod_checksum():
    changed = minimal()
    changed["replicaCount"] = 2
    changed["podAnnotations"] = {"example.com/x": "y"}
    assert _checksum(changed) == _checksum(minimal())


def test_existing_configmap_is_mounted_instead_of_a_rendered_one():
    values = {"existingConfigMap": "my-exporter-config"}
    objects = render(values)
    assert [o for o in objects if o["kind"] == "ConfigMap"] == []
    template = one(objects, "Deployment")["spec"]["template"]
    config_volume = next(v for v in template["spec"]["volumes"] if v["name"] == "config")
    assert config_volume["configMap"]["name"] == "my-exporter-config"
    assert "checksum/config" not in (template["metadata"].get("annotations") or {})


def test_schema_accepts_every_key_of_the_full_config_fixture():
    helm = require_module("helm_python")
    full = yaml.safe_load((REPO / "tests" / "fixtures" / "config" / "valid-full.yaml").read_text())
    parse_config(full)  # the fixture is valid for the exporter
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema({"config": full})


MEMBER_ROLE = {"member_role_arn": "arn:aws:iam::{account_id}:role/aws-backup-restore-exporter"}

# Bad values, and whether the exporter's own validation rejects the same config. The schema
# catches them at `helm install` time, before a pod crash-loops on them.
BAD_VALUES: list[tuple[str, dict[str, Any], bool]] = [
    ("target-without-region", {"config": {"targets": [{"name": "a"}]}}, True),
    ("region-not-a-string", {"config": {"targets": [{"region": 1}]}}, True),
    ("region-misspelt", {"config": {"targets": [{"region": "us-east"}]}}, True),
    ("unknown-target-key", {"config": {"targets": [{"region": "eu-west-1", "regoin": "x"}]}}, True),
    (
        "unknown-config-section",
        {"config": {"targets": [{"region": "eu-west-1"}], "sink": {}}},
        True,
    ),
    (
        "bad-role-arn",
        {"config": {"targets": [{"region": "eu-west-1", "role_arn": "arn:aws:iam::1:user/x"}]}},
        True,
    ),
    (
        "account-id-not-quoted",
        {"config": {"targets": [{"region": "eu-west-1", "discovery": {"account_id": 1234}}]}},
        True,
    ),
    (
        "unknown-status",
        {"config": {"targets": [{"region": "eu-west-1", "discovery": {"statuses": ["DONE"]}}]}},
        True,
    ),
    (
        "bad-duration",
        {"config": {"targets": [{"region": "eu-west-1"}], "sync": {"deadline": "a while"}}},
        True,
    ),
    (
        "bad-retry-mode",
        {"config": {"targets": [{"region": "eu-west-1"}], "aws": {"retry_mode": "fast"}}},
        True,
    ),
    (
        "max-attempts-not-integer",
        {"config": {"targets": [{"region": "eu-west-1"}], "aws": {"max_attempts": 2.5}}},
        True,
    ),
    (
        "sync-interval-not-a-duration",
        {"config": {"targets": [{"region": "eu-west-1"}], "sync": {"interval": "often"}}},
        True,
    ),
    (
        "organization-without-member-role",
        {"config": {"organization": {"regions": ["us-east-1"]}}},
        True,
    ),
    (
        "member-role-without-account-id",
        {
            "config": {
                "organization": {
                    "member_role_arn": "arn:aws:iam::111122223333:role/Reader",
                    "regions": ["us-east-1"],
                }
            }
        },
        True,
    ),
    ("organization-without-regions", {"config": {"organization": {**MEMBER_ROLE}}}, True),
    (
        "organization-regions-neither-list-nor-enabled",
        {"config": {"organization": {**MEMBER_ROLE, "regions": "all"}}},
        True,
    ),
    (
        "organization-account-id-not-quoted",
        {
            "config": {
                "organization": {
                    **MEMBER_ROLE,
                    "regions": ["us-east-1"],
                    "include_accounts": [111122223333],
                }
            }
        },
        True,
    ),
    (
        "organization-refresh-not-a-duration",
        {
            "config": {
                "organization": {
                    **MEMBER_ROLE,
                    "regions": ["us-east-1"],
                    "refresh_interval": "daily",
                }
            }
        },
        True,
    ),
    ("organization-not-a-mapping", {"config": {"organization": ["ou-ab12-11111111"]}}, True),
    ("shards-zero", {"sharding": {"enabled": True, "shards": 0}}, False),
    ("sharding-enabled-not-boolean", {"sharding": {"enabled": "yes"}}, False),
    ("sharding-unknown-key", {"sharding": {"replicas": 3}}, False),
    ("misspelt-top-level-key", {"serviceMonitor": {"enable": True}}, False),
    ("unknown-top-level-key", {"replicas": 2}, False),
    ("replica-count-not-a-number", {"replicaCount": "2"}, False),
    ("bad-log-level", {"logLevel": "verbose"}, False),
    ("bad-log-format", {"logFormat": "text"}, False),
    ("bad-image-digest", {"image": {"digest": "latest"}}, False),
    ("service-port-out-of-range", {"service": {"port": 70000}}, False),
    ("probe-with-its-own-path", {"livenessProbe": {"httpGet": {"path": "/"}}}, False),
    ("rule-without-expr", {"prometheusRule": {"additionalRules": [{"alert": "X"}]}}, False),
    ("annotation-not-a-string", {"serviceAccount": {"annotations": {"a": 1}}}, False),
]


def _merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "config":
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@pytest.mark.parametrize(
    ("change", "config_invalid"),
    [(change, invalid) for _, change, invalid in BAD_VALUES],
    ids=[name for name, _, _ in BAD_VALUES],
)
def test_schema_rejects_bad_values(change, config_invalid):
    helm = require_module("helm_python")
    values = _merged(minimal(), change)
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(minimal())  # the base is fine: the change is what is rejected
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(values)
        with pytest.raises(helm.HelmValuesError):
            chart.render(values, name="restores", namespace=NAMESPACE)
    if config_invalid:
        with pytest.raises(ConfigError):
            parse_config(values["config"])


@pytest.mark.parametrize(
    "values",
    [{}, {"config": {"targets": []}}, {"config": {"targets": [], "organization": {}}}],
    ids=["no-values", "empty-targets", "empty-organization"],
)
def test_no_targets_fails_saying_what_to_set(values):
    helm = require_module("helm_python")
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)  # the schema lets it through, to the message below
        with pytest.raises(helm.HelmRenderError) as error:
            chart.render(values, name="restores", namespace=NAMESPACE)
    message = str(error.value)
    assert "Nothing to export: set config.targets" in message
    assert "or config.organization to discover every account of an AWS Organization" in message
    assert "existingConfigMap" in message
    assert "/config/targets" not in message


# ---- Service, ServiceMonitor ---------------------------------------------------------------


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


@pytest.mark.parametrize(
    "values_file",
    [CHART / "ci" / "multi-target-values.yaml", CHART / "ci" / "everything-values.yaml"],
    ids=["multi-target", "everything"],
)
def test_service_monitor_scrapes_the_release_service_metrics_port(values_file):
    values = load_values(values_file)
    objects = render(values)
    monitor = one(objects, "ServiceMonitor")
    service = one(objects, "Service")
    deployment = one(objects, "Deployment")
    wanted = values["serviceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == (wanted.get("namespace") or NAMESPACE)
    for key, value in wanted.get("labels", {}).items():
        assert monitor["metadata"]["labels"][key] == value
    spec = monitor["spec"]
    assert set(spec) == {"namespaceSelector", "selector", "endpoints"}
    assert spec["namespaceSelector"] == {"matchNames": [service["metadata"]["namespace"]]}
    assert _selects(spec["selector"]["matchLabels"], service["metadata"]["labels"])
    assert spec["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    [endpoint] = spec["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["scheme"] == "http"
    assert endpoint["interval"] == wanted.get("interval", "1m")
    duration = re.compile(r"^(\d+(ms|s|m|h))+$")
    assert duration.match(endpoint["interval"])
    assert endpoint.get("relabelings", []) == wanted.get("relabelings", [])
    assert endpoint.get("metricRelabelings", []) == wanted.get("metricRelabelings", [])
    if "scrapeTimeout" in wanted:
        assert duration.match(endpoint["scrapeTimeout"])
        assert endpoint["scrapeTimeout"] == wanted["scrapeTimeout"]
    # The exporter answers within sync.deadline; the scrape must not time out before that.
    timeout = parse_duration(endpoint.get("scrapeTimeout", "10s"))
    deadline = parse_config(yaml.safe_load(config_map(objects)["data"]["config.yaml"]))
    assert deadline.sync.deadline_seconds < timeout
    assert timeout <= parse_duration(endpoint["interval"])


# ---- sharded mode: a StatefulSet of shards, each pod scraped on its own ---------------------

SCRAPED_SHAPES = [
    path for path in CI_VALUES if load_values(path).get("serviceMonitor", {}).get("enabled")
]


def _services(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == "Service"]


@pytest.mark.parametrize("name", SHARDED_SHAPES)
def test_sharded_mode_runs_one_statefulset_pod_per_shard(name, tmp_path):
    values = load_values(CHART / "ci" / name)
    objects = render(values)
    assert [o for o in objects if o["kind"] == "Deployment"] == []
    statefulset = one(objects, "StatefulSet")
    spec = statefulset["spec"]
    shards = values["sharding"]["shards"]
    assert spec["replicas"] == shards
    assert spec["podManagementPolicy"] == "Parallel"  # independent pods start together
    assert "volumeClaimTemplates" not in spec  # the exporter keeps nothing on disk
    assert _selects(spec["selector"]["matchLabels"], spec["template"]["metadata"]["labels"])
    # The governing Service exists, is headless and selects exactly these pods.
    [governing] = [s for s in _services(objects) if s["metadata"]["name"] == spec["serviceName"]]
    assert governing["spec"]["clusterIP"] == "None"
    assert governing["spec"]["selector"] == spec["selector"]["matchLabels"]
    exporter = container(objects)
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in (
        exporter["env"]
    )
    assert "--shard=$(POD_NAME)" in exporter["args"]
    assert f"--total-shards={shards}" in exporter["args"]
    # Kubernetes names the pods <statefulset>-0 .. -<shards-1>: the exporter's own command line
    # takes each pod's ordinal as its shard, so every shard has exactly one pod...
    parser = build_parser()
    pod_shards = []
    for ordinal in range(shards):
        pod_name = f"{statefulset['metadata']['name']}-{ordinal}"
        pod_shards.append(read_shard(parser.parse_args(pod_args(exporter, pod_name)), parser))
    assert pod_shards == [Shard(ordinal, shards) for ordinal in range(shards)]
    # ... and each static target of the config is read by exactly one pod.
    config = parse_config(yaml.safe_load(config_map(objects)["data"]["config.yaml"]))
    assert config.targets
    for target in config.targets:
        assert len([shard for shard in pod_shards if shard.owns(target)]) == 1, target.name
    # The exporter's command line, as a process, accepts the last pod's flags.
    last = pod_args(exporter, f"{statefulset['metadata']['name']}-{shards - 1}")
    shard_flags = [arg for arg in last if arg.startswith(("--shard=", "--total-shards="))]
    assert shard_flags == [
        f"--shard={statefulset['metadata']['name']}-{shards - 1}",
        f"--total-shards={shards}",
    ]
    path = tmp_path / "config.yaml"
    path.write_text(config_map(objects)["data"]["config.yaml"])
    result = run_exporter("--config.check", "--config.file", str(path), *shard_flags)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "name", ["everything-values.yaml", "irsa-values.yaml", "web-mtls-cert-manager-values.yaml"]
)
def test_sharded_pods_are_the_deployment_pods_plus_their_shard(name):
    """One pod template for both modes: probes, web config, IRSA, resources and security
    contexts are the Deployment's; only the shard flags and POD_NAME are added."""
    values = load_values(CHART / "ci" / name)
    deployment_pod = one(render(values), "Deployment")["spec"]["template"]
    sharded = render({**values, "sharding": {"enabled": True, "shards": 3}})
    pod = one(sharded, "StatefulSet")["spec"]["template"]
    exporter = pod["spec"]["containers"][0]
    added = [arg for arg in exporter["args"] if arg.startswith(("--shard=", "--total-shards="))]
    assert added == ["--shard=$(POD_NAME)", "--total-shards=3"]
    exporter["args"] = [arg for arg in exporter["args"] if arg not in added]
    exporter["env"] = [item for item in exporter["env"] if item["name"] != "POD_NAME"]
    if not exporter["env"]:
        del exporter["env"]
    assert pod == deployment_pod


@pytest.mark.parametrize("values_file", SCRAPED_SHAPES, ids=_ids(SCRAPED_SHAPES))
def test_service_monitor_scrapes_every_pod_once(values_file):
    """The Prometheus Operator scrapes each endpoint (pod) of each Service the ServiceMonitor
    selects: exactly one Service must select every pod of the release, on the metrics port, and
    a NetworkPolicy must admit the scrape to each of them."""
    objects = render(load_values(values_file))
    monitor = one(objects, "ServiceMonitor")["spec"]
    owner = workload(objects)
    pod_labels = owner["spec"]["template"]["metadata"]["labels"]
    selected = [
        service
        for service in _services(objects)
        if service["metadata"]["namespace"] in monitor["namespaceSelector"]["matchNames"]
        and _selects(monitor["selector"]["matchLabels"], service["metadata"]["labels"])
    ]
    assert len(selected) == 1, [s["metadata"]["name"] for s in selected]
    [service] = selected
    assert _selects(service["spec"]["selector"], pod_labels)  # every pod is an endpoint
    [endpoint] = monitor["endpoints"]
    [port] = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    assert port["targetPort"] in {p["name"] for p in container(objects)["ports"]}
    if owner["kind"] == "StatefulSet":
        # Pod by pod, through the shards' own headless Service.
        assert service["metadata"]["name"] == owner["spec"]["serviceName"]
        assert service["spec"]["clusterIP"] == "None"
    for policy in [o for o in objects if o["kind"] == "NetworkPolicy"]:
        assert _selects(policy["spec"]["podSelector"]["matchLabels"], pod_labels)
        assert {"port": port["targetPort"], "protocol": "TCP"} in policy["spec"]["ingress"][0][
            "ports"
        ]


def test_sharded_mode_keeps_the_release_service_for_people_and_adds_the_headless_one():
    objects = render(load_values(CHART / "ci" / "sharded-values.yaml"))
    services = {s["metadata"]["name"]: s for s in _services(objects)}
    assert sorted(services) == ["restores-sharded", "restores-sharded-headless"]
    assert "clusterIP" not in services["restores-sharded"]["spec"]
    for service in services.values():
        assert service["spec"]["selector"] == workload(objects)["spec"]["selector"]["matchLabels"]
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == [
        "ConfigMap",
        "NetworkPolicy",
        "Service",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        "StatefulSet",
    ]


def test_sharded_cert_manager_certificate_also_names_each_shard():
    values = load_values(CHART / "ci" / "web-mtls-cert-manager-values.yaml")
    values["sharding"] = {"enabled": True, "shards": 2}
    objects = render(values)
    names = one(objects, "Certificate")["spec"]["dnsNames"]
    service = one(objects, "Service", "-headless")["metadata"]
    assert f"*.{service['name']}.{NAMESPACE}.svc" in names
    # The ServiceMonitor's default serverName is still one of the certificate's names.
    del values["serviceMonitor"]["tlsConfig"]
    [endpoint] = one(render(values), "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["tlsConfig"]["serverName"] in names


@pytest.mark.parametrize("replicas", [0, 2])
def test_sharding_with_a_replica_count_fails_saying_why(replicas):
    helm = require_module("helm_python")
    values = {**load_values(CHART / "ci" / "sharded-values.yaml"), "replicaCount": replicas}
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)  # the schema lets it through, to the message below
        with pytest.raises(helm.HelmRenderError) as error:
            chart.render(values, name="restores", namespace=NAMESPACE)
    message = str(error.value)
    assert "sharding.enabled runs one pod per shard (sharding.shards: 3)" in message
    assert f"leave replicaCount at 1 (it is {replicas})" in message


def test_organization_blocks_are_left_to_the_exporter_which_names_the_key(tmp_path):
    """The schema types organization's own keys; its per-target blocks are checked by the
    exporter (one set of rules), which names the misspelt key."""
    helm = require_module("helm_python")
    values = load_values(CHART / "ci" / "organization-values.yaml")
    values["config"]["organization"]["discovery"] = {"lookbak": "7d"}
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)
    path = tmp_path / "config.yaml"
    path.write_text(config_map(render(values))["data"]["config.yaml"])
    result = run_exporter("--config.check", "--config.file", str(path))
    assert result.returncode != 0
    assert "organization.discovery.lookbak" in result.stderr


# ---- PrometheusRule: the project's rules ----------------------------------------------------


def _source_groups() -> list[dict[str, Any]]:
    return yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())["groups"]


def _rule_groups(values: dict[str, Any]) -> list[dict[str, Any]]:
    rule = one(render(values), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(rule["spec"]) == {"groups"}
    return rule["spec"]["groups"]


def test_prometheus_rule_embeds_the_project_rules_unchanged():
    values = minimal()
    values["prometheusRule"] = {"enabled": True}
    assert _rule_groups(values) == _source_groups()


def test_prometheus_rule_adds_labels_to_alerts_and_appends_extra_rules():
    values = everything()
    objects = render(values)
    rule = one(objects, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["metadata"]["namespace"] == values["prometheusRule"]["namespace"]
    groups = rule["spec"]["groups"]
    source = _source_groups()
    extra = values["prometheusRule"]["additionalRuleLabels"]
    assert len(groups) == len(source) + 1
    for rendered, original in zip(groups, source, strict=False):
        assert rendered["name"] == original["name"]
        for new, old in zip(rendered["rules"], original["rules"], strict=True):
            if "alert" in old:
                # Added labels never replace a rule's own.
                assert new["labels"] == {**extra, **old.get("labels", {})}
                assert {k: v for k, v in new.items() if k != "labels"} == {
                    k: v for k, v in old.items() if k != "labels"
                }
            else:
                assert new == old  # recording rules keep their output labels
    assert groups[-1]["rules"] == values["prometheusRule"]["additionalRules"]
    assert groups[-1]["name"] not in {group["name"] for group in source}


def test_alert_rule_labels_win_over_additional_rule_labels():
    values = minimal()
    values["prometheusRule"] = {"enabled": True, "additionalRuleLabels": {"severity": "none"}}
    alerts = [r for g in _rule_groups(values) for r in g["rules"] if "alert" in r]
    assert alerts
    source = {r["alert"]: r for g in _source_groups() for r in g["rules"] if "alert" in r}
    for alert in alerts:
        own = source[alert["alert"]].get("labels", {})
        assert alert["labels"]["severity"] == own.get("severity", "none")


def test_prometheus_rule_groups_pass_promtool(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": _rule_groups(everything())}))
    result = run_tool("promtool", "check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


# ---- Grafana dashboard, NetworkPolicy -------------------------------------------------------


def test_dashboard_configmap_carries_the_sidecar_label_and_the_dashboard():
    values = everything()
    dashboard = one(render(values), "ConfigMap", "-dashboard")
    metadata = dashboard["metadata"]
    assert metadata["labels"]["grafana_dashboard"] == "1"
    assert metadata["namespace"] == values["dashboard"]["namespace"]
    assert metadata["annotations"] == values["dashboard"]["annotations"]
    [(key, text)] = dashboard["data"].items()
    assert key.endswith(".json")
    source = json.loads((CHART / "files" / "aws-backup-restores.json").read_text())
    assert json.loads(text) == source


def test_dashboard_sidecar_label_is_on_by_default_when_enabled():
    values = minimal()
    values["dashboard"] = {"enabled": True}
    dashboard = one(render(values), "ConfigMap", "-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["namespace"] == NAMESPACE


def test_network_policy_admits_only_the_metrics_port_from_the_given_peers():
    values = everything()
    objects = render(values)
    policy = one(objects, "NetworkPolicy")["spec"]
    deployment = one(objects, "Deployment")
    assert policy["podSelector"] == deployment["spec"]["selector"]
    assert policy["policyTypes"] == ["Ingress"]
    [rule] = policy["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert "http" in {port["name"] for port in container(objects)["ports"]}
    assert rule["from"] == values["networkPolicy"]["ingress"]["from"]


def test_network_policy_without_peers_admits_any_source_to_the_metrics_port():
    values = minimal()
    values["networkPolicy"] = {"enabled": True}
    [rule] = one(render(values), "NetworkPolicy")["spec"]["ingress"]
    assert "from" not in rule
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]


# ---- scaling out: several releases, each with its own targets -------------------------------

RELEASES = {
    "restores-prod": EXAMPLES / "restores-prod-values.yaml",
    "restores-dev": EXAMPLES / "restores-dev-values.yaml",
}


def test_releases_that_split_targets_share_a_namespace_without_colliding():
    rendered = {release: render(load_values(path), release) for release, path in RELEASES.items()}
    identities = {
        release: {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in objects}
        for release, objects in rendered.items()
    }
    assert not identities["restores-prod"] & identities["restores-dev"]

    services = {release: one(objects, "Service") for release, objects in rendered.items()}
    for release, objects in rendered.items():
        pods = {
            other: one(other_objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
            for other, other_objects in rendered.items()
        }
        selector = one(objects, "Deployment")["spec"]["selector"]["matchLabels"]
        assert [other for other, labels in pods.items() if _selects(selector, labels)] == [release]
        monitor = one(objects, "ServiceMonitor")["spec"]["selector"]["matchLabels"]
        selected = [
            other
            for other, service in services.items()
            if _selects(monitor, service["metadata"]["labels"])
        ]
        assert selected == [release]  # each release is scraped on its own

    targets = {
        release: {
            t.name
            for t in parse_config(yaml.safe_load(config_map(o)["data"]["config.yaml"])).targets
        }
        for release, o in rendered.items()
    }
    assert all(targets.values())
    assert not targets["restores-prod"] & targets["restores-dev"]


def test_only_one_release_carries_the_rules_and_the_dashboard():
    # Both cover every release's series: two copies would evaluate each recording rule twice
    # into the same series, and give Grafana two dashboards with one uid.
    for kind, suffix in (("PrometheusRule", ""), ("ConfigMap", "-dashboard")):
        carriers = []
        for release, path in RELEASES.items():
            objects = render(load_values(path), release)
            if [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(suffix)]:
                carriers.append(release)
        assert carriers == ["restores-prod"], kind


def test_releases_tell_their_series_apart_with_a_target_label():
    groups = set()
    for release, path in RELEASES.items():
        endpoint = one(render(load_values(path), release), "ServiceMonitor")["spec"]["endpoints"][0]
        labels = {r["targetLabel"]: r["replacement"] for r in endpoint["relabelings"]}
        groups.add(labels["account_group"])
    assert len(groups) == len(RELEASES)


# ---- the chart's files and documentation ----------------------------------------------------

COPIES = [
    ("deploy/prometheus/alerts.yaml", "alerts.yaml"),
    ("deploy/grafana/aws-backup-restores.json", "aws-backup-restores.json"),
]


@pytest.mark.parametrize(("source", "copy_name"), COPIES, ids=[c for _, c in COPIES])
def test_chart_copy_is_byte_identical_to_its_deploy_source(source, copy_name):
    source_path = REPO / source
    copy_path = CHART / "files" / copy_name
    assert copy_path.read_bytes() == source_path.read_bytes(), (
        f"{copy_path.relative_to(REPO)} differs from {source}: run scripts/sync-chart-files"
    )


def test_sync_script_copies_changed_sources_and_check_mode_reports_them(tmp_path):
    tree = tmp_path / "repo"
    (tree / "scripts").mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "sync-chart-files", tree / "scripts" / "sync-chart-files")
    for source, copy_name in COPIES:
        (tree / source).parent.mkdir(parents=True, exist_ok=True)
        (tree / source).write_text(f"new {copy_name}\n")
        target = tree / "charts" / "aws-backup-restore-exporter" / "files" / copy_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("old\n")

    def sync(*args: str) -> subprocess.CompletedProcess[str]:
        return run(["bash", str(tree / "scripts" / "sync-chart-files"), *args], timeout=30)

    assert sync("--check").returncode == 1
    assert sync().returncode == 0
    assert sync("--check").returncode == 0
    for source, copy_name in COPIES:
        target = tree / "charts" / "aws-backup-restore-exporter" / "files" / copy_name
        assert target.read_bytes() == (tree / source).read_bytes()


def test_every_values_key_has_a_doc_comment():
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for number, line in enumerate(lines):
        match = re.match(r"^\s*([A-Za-z0-9_.\"/-]+):", line)
        if not match:
            continue
        comments = []
        above = number - 1
        while above >= 0 and lines[above].lstrip().startswith("#"):
            comments.insert(0, lines[above].strip())
            above -= 1
        if not comments or not comments[0].startswith("# --"):
            undocumented.append(f"line {number + 1}: {match.group(1)}")
    assert undocumented == []


def test_values_file_covers_the_whole_schema():
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = load_values(CHART / "values.yaml")
    assert set(schema["properties"]) - {"global"} == set(values)


# ---- web config: TLS, client certificates, basic auth ----------------------------------------


def _web_shape(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    values = load_values(CHART / "ci" / name)
    return values, render(values)


def _volumes_and_mounts(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    pod = workload(objects)["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["name"]: mount for mount in pod["containers"][0]["volumeMounts"]}
    return volumes, mounts


@pytest.mark.parametrize("name", sorted(WEB_CONFIG_SHAPES))
def test_web_config_is_mounted_read_only_from_a_secret_and_passed_to_the_exporter(name):
    values, objects = _web_shape(name)
    args = build_parser().parse_args(container(objects)["args"])
    volumes, mounts = _volumes_and_mounts(objects)
    assert mounts["web-config"]["mountPath"] == f"{SECRETS_DIR}/web"
    assert mounts["web-config"]["readOnly"] is True
    secret_name = volumes["web-config"]["secret"]["secretName"]
    web = values["webConfig"]
    if web.get("existingSecret"):
        assert secret_name == web["existingSecret"]
        assert args.web_config_file == f"{SECRETS_DIR}/web/{web['existingSecretKey']}"
        assert [o for o in objects if o["kind"] == "Secret"] == []
    else:
        assert args.web_config_file == f"{SECRETS_DIR}/web/web.yml"
        assert one(objects, "Secret")["metadata"]["name"] == secret_name
    certificate = web.get("certificate", {})
    if certificate:
        assert mounts["tls"] == {
            "name": "tls",
            "mountPath": f"{SECRETS_DIR}/tls",
            "readOnly": True,
        }
        expected = (
            certificate.get("existingSecret") or one(objects, "Certificate")["spec"]["secretName"]
        )
        assert volumes["tls"]["secret"]["secretName"] == expected
    else:
        assert "tls" not in mounts


def _web_yml(objects: list[dict[str, Any]]) -> str:
    return one(objects, "Secret")["stringData"]["web.yml"]


@pytest.mark.parametrize(
    "name", [n for n in sorted(WEB_CONFIG_SHAPES) if n != "web-existing-secret-values.yaml"]
)
def test_rendered_web_config_passes_the_exporter_check(name, tmp_path):
    """The Secret's web.yml through `--config.check --web.config.file`, with the mounted
    certificate's paths pointed at test certificates of the same role."""
    from tests.tls_certs import write_cert_files

    _, objects = _web_shape(name)
    text = _web_yml(objects)
    files = write_cert_files(tmp_path / "tls")
    for mounted, local in [
        ("tls.crt", "server.crt"),
        ("tls.key", "server.key"),
        ("ca.crt", "ca.crt"),
    ]:
        text = text.replace(f"{SECRETS_DIR}/tls/{mounted}", str(files.path(local)))
    assert SECRETS_DIR not in text
    (tmp_path / "web.yml").write_text(text)
    (tmp_path / "config.yaml").write_text(config_map(objects)["data"]["config.yaml"])
    result = run_exporter(
        "--config.check",
        "--config.file",
        str(tmp_path / "config.yaml"),
        "--web.config.file",
        str(tmp_path / "web.yml"),
    )
    assert result.returncode == 0, result.stderr


def test_a_mounted_certificate_fills_in_the_web_config_paths_unless_set():
    _, objects = _web_shape("web-tls-existing-secret-values.yaml")
    tls = yaml.safe_load(_web_yml(objects))["tls_server_config"]
    assert tls == {
        "cert_file": f"{SECRETS_DIR}/tls/tls.crt",
        "key_file": f"{SECRETS_DIR}/tls/tls.key",
        "min_version": "TLS12",
    }
    values = load_values(CHART / "ci" / "web-tls-existing-secret-values.yaml")
    values["webConfig"]["inline"]["tls_server_config"]["cert_file"] = "/elsewhere/server.crt"
    tls = yaml.safe_load(_web_yml(render(values)))["tls_server_config"]
    assert tls["cert_file"] == "/elsewhere/server.crt"


def test_a_certificate_alone_turns_tls_on():
    values = {**minimal(), "webConfig": {"certificate": {"existingSecret": "exporter-tls"}}}
    objects = render(values)
    assert yaml.safe_load(_web_yml(objects)) == {
        "tls_server_config": {
            "cert_file": f"{SECRETS_DIR}/tls/tls.crt",
            "key_file": f"{SECRETS_DIR}/tls/tls.key",
        }
    }
    exporter = container(objects)
    assert build_parser().parse_args(exporter["args"]).web_config_file == (
        f"{SECRETS_DIR}/web/web.yml"
    )
    assert exporter["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"


@pytest.mark.parametrize("name", sorted(WEB_CONFIG_SHAPES))
def test_service_monitor_scheme_tls_config_and_basic_auth_match_the_web_config(name):
    values, objects = _web_shape(name)
    [endpoint] = one(objects, "ServiceMonitor")["spec"]["endpoints"]
    scheme, _ = WEB_CONFIG_SHAPES[name]
    assert endpoint["scheme"] == scheme
    wanted = values["serviceMonitor"]
    if scheme == "https":
        assert endpoint["tlsConfig"] == wanted["tlsConfig"]
    else:
        assert "tlsConfig" not in endpoint
    assert endpoint.get("basicAuth") == wanted.get("basicAuth")
    inline = values["webConfig"].get("inline", {})
    if "basic_auth_users" in inline:
        assert "basicAuth" in endpoint


def test_cert_manager_certificate_names_the_service_and_feeds_the_mounted_secret():
    values, objects = _web_shape("web-mtls-cert-manager-values.yaml")
    certificate = one(objects, "Certificate")
    assert certificate["apiVersion"] == "cert-manager.io/v1"
    spec = certificate["spec"]
    manager = values["webConfig"]["certificate"]["certManager"]
    assert spec["issuerRef"] == {**manager["issuerRef"], "group": "cert-manager.io"}
    service = one(objects, "Service")["metadata"]
    name, namespace = service["name"], service["namespace"]
    assert spec["dnsNames"] == [
        name,
        f"{name}.{namespace}",
        f"{name}.{namespace}.svc",
        f"{name}.{namespace}.svc.cluster.local",
        *manager["extraDnsNames"],
    ]
    assert parse_duration(spec["renewBefore"]) < parse_duration(spec["duration"])
    volumes, _ = _volumes_and_mounts(objects)
    assert volumes["tls"]["secret"]["secretName"] == spec["secretName"]


def test_cert_manager_without_tls_config_trusts_its_ca_and_checks_the_service_name():
    values = load_values(CHART / "ci" / "web-mtls-cert-manager-values.yaml")
    del values["serviceMonitor"]["tlsConfig"]
    objects = render(values)
    [endpoint] = one(objects, "ServiceMonitor")["spec"]["endpoints"]
    service = one(objects, "Service")["metadata"]
    assert endpoint["tlsConfig"] == {
        "ca": {
            "secret": {"name": one(objects, "Certificate")["spec"]["secretName"], "key": "ca.crt"}
        },
        "serverName": f"{service['name']}.{service['namespace']}.svc",
    }


def test_inline_web_config_change_rolls_the_pods():
    def checksum(values: dict[str, Any]) -> str:
        annotations = one(render(values), "Deployment")["spec"]["template"]["metadata"]
        return annotations["annotations"]["checksum/web-config"]

    before = load_values(CHART / "ci" / "web-basic-auth-values.yaml")
    after = copy.deepcopy(before)
    after["webConfig"]["inline"]["basic_auth_users"]["grafana"] = before["webConfig"]["inline"][
        "basic_auth_users"
    ]["prometheus"]
    assert checksum(before) != checksum(after)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"certificate": {"certManager": {"enabled": True}}},
            "needs webConfig.certificate.certManager.issuerRef.name",
        ),
        (
            {
                "certificate": {
                    "existingSecret": "x",
                    "certManager": {"enabled": True, "issuerRef": {"name": "ca"}},
                }
            },
            "set existingSecret or certManager.enabled, not both",
        ),
    ],
    ids=["cert-manager-without-issuer", "two-certificate-sources"],
)
def test_inconsistent_web_config_fails_saying_why(change, message):
    helm = require_module("helm_python")
    values = minimal()
    values["webConfig"] = {"inline": {"tls_server_config": {}}, **change}
    with helm.Chart.load(str(CHART)) as chart, pytest.raises(helm.HelmRenderError) as error:
        chart.render(values, name="restores", namespace=NAMESPACE)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "web_config",
    [
        {"inline": {"basic_auth_users": {"prometheus": "plain-text-password"}}},
        {"inline": {"tls_sever_config": {}}},
        {"existingSecret": "x", "tls": "yes"},
        {"certificate": {"certManager": {"duration": "90 days"}}},
    ],
    ids=["plain-password", "misspelt-key", "tls-not-boolean", "bad-duration"],
)
def test_schema_rejects_bad_web_config_values(web_config):
    helm = require_module("helm_python")
    values = {**minimal(), "webConfig": web_config}
    with helm.Chart.load(str(CHART)) as chart, pytest.raises(helm.HelmValuesError):
        chart.validate_schema(values)


# ---- IAM (docs/iam): what the chart's ServiceAccount is bound to ----------------------------

IAM = REPO / "docs" / "iam"
IDENTITY_POLICIES = ["exporter-policy.json", "member-account-role-policy.json"]


def iam(name: str) -> dict[str, Any]:
    return json.loads((IAM / name).read_text())


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _actions(policy: dict[str, Any], prefix: str) -> set[str]:
    return {
        action
        for statement in policy["Statement"]
        for action in _as_list(statement["Action"])
        if action.startswith(prefix)
    }


def _aws_backup_calls_of_the_exporter() -> set[str]:
    """The AWS Backup operations the exporter's modules call, by their IAM action names."""
    boto3 = require_module("boto3")
    source = "".join(path.read_text() for path in sorted((REPO / "exporter").glob("*.py")))
    client = boto3.session.Session().client(
        "backup", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    operations = client.meta.method_to_api_mapping
    # Direct calls (client.describe_restore_job(...)), and operation names handed to
    # get_paginator or to a helper that pages them ("list_restore_testing_plans"). The client's
    # own methods that are no operation (closing its connections) are left out.
    methods = set(re.findall(r"\bclient\.(\w+)\(", source)) - {"get_paginator", "close"}
    methods |= set(re.findall(r"\"(\w+)\"", source)) & set(operations)
    return {f"backup:{operations[method]}" for method in methods}


def test_iam_documents_are_policies_that_only_allow():
    names = sorted(path.name for path in IAM.glob("*.json"))
    assert len(names) >= 4
    for name in names:
        policy = iam(name)
        assert policy["Version"] == "2012-10-17", name
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow", name
            assert "*" not in "".join(_as_list(statement["Action"])), f"{name}: no wildcards"


@pytest.mark.parametrize("name", IDENTITY_POLICIES)
def test_permissions_are_exactly_the_aws_backup_calls_the_exporter_makes(name):
    policy = iam(name)
    assert _actions(policy, "backup:") == _aws_backup_calls_of_the_exporter()
    assert _actions(policy, "") - _actions(policy, "backup:") <= {"sts:AssumeRole"}
    for statement in policy["Statement"]:
        actions = _as_list(statement["Action"])
        if actions == ["backup:ListRestoreTestingSelections"]:
            # The only call with resource-level permissions: any plan of the account.
            assert re.fullmatch(
                r"arn:aws:backup:\*:(\d{12}|\*):restore-testing-plan:\*", statement["Resource"]
            ), statement
        elif any(a.startswith("backup:") for a in actions):
            # The others have no resource-level permissions.
            assert statement["Resource"] == "*"


@pytest.mark.parametrize("name", IDENTITY_POLICIES)
def test_permissions_policies_pass_parliament(name):
    parliament = require_module("parliament")
    policy = parliament.analyze_policy_string(
        (IAM / name).read_text(), include_community_auditors=True
    )
    findings = [finding.issue for finding in policy.findings]
    # sts:AssumeRole returns credentials: inherent to cross-account targets, and limited to the
    # member accounts' reader roles.
    expected = ["CREDENTIALS_EXPOSURE"] if _actions(iam(name), "sts:") else []
    assert findings == expected


def test_exporter_assumes_only_the_reader_roles_the_member_accounts_define():
    statement = next(
        s for s in iam("exporter-policy.json")["Statement"] if s["Action"] == "sts:AssumeRole"
    )
    resources = _as_list(statement["Resource"])
    assert resources
    for arn in resources:
        assert re.fullmatch(r"arn:aws:iam::\d{12}:role/BackupRestoreReader", arn), arn
    # The chart's cross-account example assumes the same reader role.
    irsa = load_values(CHART / "ci" / "irsa-values.yaml")
    member = next(t for t in irsa["config"]["targets"] if "role_arn" in t)
    assert member["role_arn"].endswith(":role/BackupRestoreReader")


def test_member_account_role_trusts_only_the_exporter_role_with_the_external_id():
    [statement] = iam("member-account-trust-policy.json")["Statement"]
    irsa = load_values(CHART / "ci" / "irsa-values.yaml")
    exporter_role = irsa["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert statement["Principal"] == {"AWS": exporter_role}
    assert statement["Action"] == "sts:AssumeRole"
    member = next(t for t in irsa["config"]["targets"] if "role_arn" in t)
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": member["external_id"]}}


def test_irsa_trust_policy_admits_the_service_account_the_chart_creates():
    [statement] = iam("exporter-trust-policy-irsa.json")["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    provider = statement["Principal"]["Federated"]
    issuer = provider.split(":oidc-provider/", 1)[1]
    conditions = statement["Condition"]["StringEquals"]
    assert conditions[f"{issuer}:aud"] == "sts.amazonaws.com"
    namespace, name = conditions[f"{issuer}:sub"].split(":")[2:]
    values = minimal()
    values["serviceAccount"] = {"name": name}  # as docs/kubernetes.md suggests
    with_release = render(values, release="restores")
    account = one(with_release, "ServiceAccount")["metadata"]
    assert (account["namespace"], account["name"]) == (namespace, name)
    pod = one(with_release, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == name


def test_pod_identity_trust_policy_admits_the_eks_agent_with_session_tags():
    [statement] = iam("exporter-trust-policy-pod-identity.json")["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(_as_list(statement["Action"])) == ["sts:AssumeRole", "sts:TagSession"]
    assert "aws:SourceAccount" in statement["Condition"]["StringEquals"]


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("minimal-values.yaml", "curl -s localhost:9798/metrics"),
        ("web-basic-auth-values.yaml", "curl -s -u USER localhost:9798/metrics"),
        ("web-mtls-cert-manager-values.yaml", "curl -sk https://localhost:9798/metrics"),
        ("sharded-values.yaml", "port-forward pod/restores-sharded-0 9798"),
        (
            "sharded-organization-values.yaml",
            "Sharded: 4 pods (r-aws-backup-restore-exporter-0 to -3)",
        ),
    ],
)
def test_notes_show_a_curl_that_matches_the_web_config(name, command):
    helm = require_module("helm_python")
    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(load_values(CHART / "ci" / name), name="r", namespace=NAMESPACE)
    [notes] = [text for path, text in manifests.items() if path.endswith("NOTES.txt")]
    assert command in notes
