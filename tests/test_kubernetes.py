"""deploy/kubernetes says what devstack's declaration of the services says: one Deployment per process, running
the declared command, probed on the port the process serves, with the variable names service_env() gives; and
kubeconform accepts every manifest against Kubernetes' own schemas, strictly, offline.

The declaration (deploy/paht_devstack/services.py) is the source of truth. deploy/kubernetes/generate.py writes
the manifests from it; these tests read the files, not the generator, so a hand edit or a stale file fails too.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from paht_devstack.config import Config
from paht_devstack.services import SERVICES, WORKER_KINDS, Process, Service, declared_processes, service_env

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "deploy" / "kubernetes"
KUBECONFORM = ROOT / ".infra" / "bin" / "kubeconform"
SCHEMAS = ROOT / ".infra" / "kubernetes-json-schema"
KUBERNETES_VERSION = "1.35.0"  # the Makefile's KUBERNETES_VERSION
UID = 10001  # the services' Dockerfiles: USER 10001:10001

# notify's development SMTP sink and SMS/push recorder: a province has a real mail relay and real providers.
DEVELOPMENT_ONLY_KINDS = {"sink", "gateway"}
DEVELOPMENT_ONLY_VARIABLES = {f"NOTIFY_{part}_{v}" for part in ("SINK", "GATEWAY") for v in ("HOST", "PORT", "DIR")}
# Variables devstack leaves at their development defaults, which a province must not (development secrets,
# loopback addresses, example mail addresses, plain-http S3).
PRODUCTION_ONLY = {
    "intake": {"INTAKE_MAIL_ADDRESSES", "INTAKE_TRUSTED_PROXIES"},
    "notify": {"NOTIFY_SMS_API_KEY", "NOTIFY_PUSH_SECRET", "NOTIFY_MAIL_FROM", "NOTIFY_REPLY_TO", "NOTIFY_PORTAL_URL"},
    "media": {"MEDIA_S3_SECURE"},
}
# A listener besides the APIs, probed on its socket: process -> the variable holding its port.
TCP_LISTENERS = {"intake-smtp": "INTAKE_SMTP_PORT"}
SECRET_NAME = re.compile(r"(KEY|KEYS|SECRET|PASSWORD)(_[A-Z]+)?$")
EXPANSION = re.compile(r"\$\(([A-Z0-9_]+)\)")


@pytest.fixture(scope="module")
def defaults(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """devstack's configuration with no variables set; the dev keys service_env() may generate land in tmp."""
    return Config.from_env({"PAHT_INFRA_DIR": str(tmp_path_factory.mktemp("infra"))})


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs.extend(doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc)
    return docs


def of_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


@pytest.fixture(scope="module")
def deployments(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return of_kind(documents, "Deployment")


def expected_processes() -> list[Process]:
    return [p for p in declared_processes() if p.kind not in DEVELOPMENT_ONLY_KINDS]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return dict(containers[0])


def env_entries(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in c.get("env", [])}


def expected_names(defaults: Config, service: Service) -> set[str]:
    return set(service_env(defaults, service)) - DEVELOPMENT_ONLY_VARIABLES | PRODUCTION_ONLY.get(service.name, set())


def port_named(c: dict[str, Any], name: str | int) -> int:
    if isinstance(name, int):
        return name
    (port,) = [p["containerPort"] for p in c["ports"] if p["name"] == name]
    return int(port)


def test_every_declared_process_has_a_deployment_running_it(deployments: dict[str, dict[str, Any]]) -> None:
    """Each declared process (but notify's development sink and gateway) is a Deployment `<service>-<kind>` of
    its service's image running `python -m <service> <kind>`, and there is no other."""
    processes = expected_processes()
    assert set(deployments) == {p.name for p in processes}
    for process in processes:
        c = container(deployments[process.name])
        assert c["command"] == ["python", *process.python_args], process.name
        assert c["image"].partition(":")[0] == f"paht-{process.service.name}", process.name


def test_development_only_kinds_are_still_declared() -> None:
    """The kinds left out are declared (else this exception list is stale) and are never an api or a worker."""
    declared = {p.kind for p in declared_processes()}
    assert declared >= DEVELOPMENT_ONLY_KINDS
    assert not DEVELOPMENT_ONLY_KINDS & {"api", *WORKER_KINDS}


def test_probes_ask_the_port_the_process_serves(defaults: Config, deployments: dict[str, dict[str, Any]]) -> None:
    """An api is probed on its HTTP port, a relay/consumer/worker on its <PREFIX>_WORKER_HTTP_PORT: liveness on
    /healthz, readiness on /readyz; the SMTP listener on its socket."""
    for process in expected_processes():
        c = container(deployments[process.name])
        env = env_entries(c)
        prefix = process.service.prefix
        if process.kind == "api":
            port = process.service.http_port(defaults)
            assert env[f"{prefix}_HTTP_PORT"]["value"] == str(port), process.name
        elif process.kind in WORKER_KINDS:
            port = int(env[f"{prefix}_WORKER_HTTP_PORT"]["value"])
            assert port > 0, process.name
        else:
            port = int(env[TCP_LISTENERS[process.name]]["value"])
            for probe in ("livenessProbe", "readinessProbe"):
                assert port_named(c, c[probe]["tcpSocket"]["port"]) == port, process.name
            continue
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
            get = c[probe]["httpGet"]
            assert (get["path"], port_named(c, get["port"])) == (path, port), f"{process.name} {probe}"


def test_containers_get_exactly_the_declared_variable_names(
    defaults: Config, deployments: dict[str, dict[str, Any]]
) -> None:
    """The service's variables are the names service_env() gives it (less the development sink's and gateway's,
    plus the production-only ones); anything else is a PAHT_* part that one of them is composed of."""
    for process in expected_processes():
        env = env_entries(container(deployments[process.name]))
        prefix = process.service.prefix + "_"
        actual = {name for name in env if name.startswith(prefix)}
        want = expected_names(defaults, process.service)
        assert actual == want, f"{process.name}: missing {want - actual}, extra {actual - want}"
        helpers = set(env) - actual
        assert all(name.startswith("PAHT_") for name in helpers), process.name
        used = {ref for entry in env.values() for ref in EXPANSION.findall(str(entry.get("value", "")))}
        assert helpers == used, f"{process.name}: unused {helpers - used}, undefined {used - helpers}"


def test_expanded_variables_are_defined_before_use(deployments: dict[str, dict[str, Any]]) -> None:
    """Kubernetes expands $(VAR) only from variables listed earlier in the container."""
    for name, deployment in deployments.items():
        seen: set[str] = set()
        for entry in container(deployment)["env"]:
            missing = set(EXPANSION.findall(str(entry.get("value", "")))) - seen
            assert not missing, f"{name}: {entry['name']} uses {missing} before it is defined"
            seen.add(entry["name"])


def test_each_service_logs_into_postgres_as_its_own_role(deployments: dict[str, dict[str, Any]]) -> None:
    """DATABASE_URL is the service's own role, its password from the service's Secret, never a literal."""
    for process in expected_processes():
        env = env_entries(container(deployments[process.name]))
        url = env[f"{process.service.prefix}_DATABASE_URL"]["value"]
        dsn = urlsplit(url)
        assert dsn.scheme == "postgresql", process.name
        assert dsn.username == process.service.name, process.name
        (password,) = EXPANSION.findall(dsn.password or "")
        assert env[password]["valueFrom"]["secretKeyRef"] == {
            "name": f"paht-{process.service.name}",
            "key": "database-password",
        }, process.name


def test_secrets_come_from_secrets_and_no_secret_is_written(documents: list[dict[str, Any]]) -> None:
    """Keys, secrets and passwords (not public keys) are secretKeyRef; the manifests hold no Secret object."""
    assert not of_kind(documents, "Secret")
    checked = 0
    for c in all_containers(documents):
        for name, entry in env_entries(c).items():
            if SECRET_NAME.search(name) and not name.endswith("PUBLIC_KEY"):
                assert "secretKeyRef" in entry.get("valueFrom", {}), f"{c['name']}: {name}"
                checked += 1
    assert checked


def all_containers(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = []
    for doc in documents:
        if doc["kind"] in ("Deployment", "Job"):
            pod = doc["spec"]["template"]["spec"]
            result.extend([*pod.get("initContainers", []), *pod["containers"]])
    return result


def test_every_referenced_config_key_and_secret_exists(documents: list[dict[str, Any]]) -> None:
    """configMapKeyRef names a key of paht-config; each secretKeyRef is a key the README's commands create."""
    config = of_kind(documents, "ConfigMap")["paht-config"]["data"]
    readme = (MANIFESTS / "README.md").read_text(encoding="utf-8")
    created = {
        (name, key)
        for name, args in re.findall(r"create secret generic (paht-[a-z]+)((?:[^\n]*\\\n)*[^\n]*)", readme)
        for key in re.findall(r"--from-literal=([a-z0-9-]+)=", args)
    }
    for c in all_containers(documents):
        for entry in c.get("env", []):
            ref = entry.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                assert ref["configMapKeyRef"]["name"] == "paht-config", entry["name"]
                assert ref["configMapKeyRef"]["key"] in config, entry["name"]
            if "secretKeyRef" in ref:
                key = (ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"])
                assert key in created, f"{entry['name']}: README.md creates no {key}"


def test_pods_run_as_the_images_unprivileged_user(documents: list[dict[str, Any]]) -> None:
    """uid 10001 as in the Dockerfiles, non-root, no privilege escalation, no capabilities, read-only root."""
    for doc in documents:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        pod = doc["spec"]["template"]["spec"]
        security = pod["securityContext"]
        assert (security["runAsNonRoot"], security["runAsUser"], security["runAsGroup"]) == (True, UID, UID)
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, c["name"]
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, c["name"]
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], c["name"]
    for service in SERVICES:
        dockerfile = (ROOT / "services" / service.name / "Dockerfile").read_text(encoding="utf-8")
        assert f"USER {UID}:{UID}" in dockerfile.splitlines(), service.name


def test_every_container_has_memory_requests_and_limits(documents: list[dict[str, Any]]) -> None:
    for c in all_containers(documents):
        resources = c["resources"]
        for bound in ("requests", "limits"):
            assert re.fullmatch(r"[1-9][0-9]*Mi", resources[bound]["memory"]), f"{c['name']} {bound}"
            assert resources[bound]["cpu"], f"{c['name']} {bound}"
        assert int(resources["requests"]["memory"][:-2]) <= int(resources["limits"]["memory"][:-2]), c["name"]


def test_apis_and_consumers_autoscale_within_the_partitions(
    defaults: Config, documents: list[dict[str, Any]], deployments: dict[str, dict[str, Any]]
) -> None:
    """APIs and consumers have an autoscaler (consumers at most one pod per partition), leaving replicas to it;
    relays and single listeners have none; every api has a disruption budget."""
    autoscalers = of_kind(documents, "HorizontalPodAutoscaler")
    budgets = of_kind(documents, "PodDisruptionBudget")
    scaled = {p.name: p for p in expected_processes() if p.kind in ("api", "consume", "worker")}
    assert set(autoscalers) == set(scaled)
    for name, process in scaled.items():
        spec = autoscalers[name]["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 2 <= spec["minReplicas"] <= spec["maxReplicas"], name
        if process.kind != "api":
            assert spec["maxReplicas"] <= defaults.kafka_partitions, name
        assert "replicas" not in deployments[name]["spec"], f"{name}: apply would undo the autoscaler"
    apis = {p.name for p in expected_processes() if p.kind == "api"}
    assert set(budgets) == apis
    for name in apis:
        assert budgets[name]["spec"]["selector"] == deployments[name]["spec"]["selector"], name


def test_services_expose_the_apis_and_the_smtp_listener(
    defaults: Config, documents: list[dict[str, Any]], deployments: dict[str, dict[str, Any]]
) -> None:
    """A Service per api on its declared port (the name the other services' URLs use), and intake's SMTP on 2525."""
    services = of_kind(documents, "Service")
    wanted = {p.name: p.service.http_port(defaults) for p in expected_processes() if p.kind == "api"}
    wanted["intake-smtp"] = 2525
    assert {name: [p["port"] for p in s["spec"]["ports"]] for name, s in services.items()} == {
        name: [port] for name, port in wanted.items()
    }
    for name, service in services.items():
        assert service["spec"]["selector"] == deployments[name]["spec"]["selector"]["matchLabels"], name
        c = container(deployments[name])
        assert port_named(c, service["spec"]["ports"][0]["targetPort"]) == wanted[name], name


def test_the_migrate_job_migrates_every_service_before_its_setup(
    defaults: Config, documents: list[dict[str, Any]]
) -> None:
    """One Job: `python -m <service> migrate` for each service with that service's variables, and each one-shot
    set-up command (routing's reference data) after its service's migrations."""
    (job,) = of_kind(documents, "Job").values()
    pod = job["spec"]["template"]["spec"]
    steps = [*pod.get("initContainers", []), *pod["containers"]]
    commands = [tuple(step["command"][2:]) for step in steps]
    for service in SERVICES:
        assert (service.name, "migrate") in commands, service.name
        for command in service.setup:
            assert commands.index((service.name, command)) > commands.index((service.name, "migrate"))
    for step in steps:
        service = next(s for s in SERVICES if s.name == step["command"][2])
        names = {name for name in env_entries(step) if name.startswith(service.prefix + "_")}
        assert names == expected_names(defaults, service), step["name"]


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text(encoding="utf-8"))
    files = {path.name for path in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)


def test_manifests_are_what_the_generator_writes() -> None:
    """A change of the declaration (or a hand edit here) without `python deploy/kubernetes/generate.py` fails."""
    result = subprocess.run(
        [sys.executable, str(MANIFESTS / "generate.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def kubeconform(*paths: Path) -> subprocess.CompletedProcess[str]:
    if not KUBECONFORM.is_file() or not (SCHEMAS / f"v{KUBERNETES_VERSION}-standalone-strict").is_dir():
        pytest.fail("kubeconform or its schemas are missing: `make kubeconform` installs them")
    location = str(SCHEMAS) + "/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/"
    return subprocess.run(
        [
            str(KUBECONFORM),
            "-strict",
            "-summary",
            "-kubernetes-version",
            KUBERNETES_VERSION,
            "-schema-location",
            location + "{{ .ResourceKind }}{{ .KindSuffix }}.json",
            "-ignore-filename-pattern",
            r"(kustomization\.yaml|\.py|\.md)$",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_kubeconform_accepts_every_manifest(documents: list[dict[str, Any]]) -> None:
    """Every resource validates against Kubernetes' schemas, strictly (no field the API does not know)."""
    result = kubeconform(MANIFESTS)
    n = len(documents)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{n} resources found" in result.stdout, result.stdout
    assert f"Valid: {n}, Invalid: 0, Errors: 0, Skipped: 0" in result.stdout, result.stdout


def test_kubeconform_refuses_a_field_kubernetes_does_not_know(
    deployments: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """The offline schemas are strict and deep: a misspelt probe in a container is an error."""
    broken = yaml.safe_load(yaml.safe_dump(deployments["intake-api"]))
    c = broken["spec"]["template"]["spec"]["containers"][0]
    c["readinesProbe"] = c.pop("readinessProbe")
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = kubeconform(tmp_path / "broken.yaml")
    assert result.returncode == 1, result.stdout
    assert "additional properties 'readinesProbe' not allowed" in result.stdout, result.stdout
