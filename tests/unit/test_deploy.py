"""deploy/: systemd units, the compose file and the Kubernetes manifests, checked offline.

No systemd manager, Docker engine or cluster runs here: units go through `systemd-analyze
verify` (where installed) and a parse, the compose file through the Compose Specification's
JSON schema, manifests through the Kubernetes OpenAPI schemas (kubernetes-validate, strict)
and KEDA's ScaledObject through models generated from KEDA's CRD. Each check also ties the
files to the code: commands parse with `jobgate`'s own CLI, queue names come from Celery's.
"""

import configparser
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from app.cli import build_parser
from app.core.contract import queue_name
from app.core.endpoints import Registry
from app.core.redisurl import parse_sentinel
from app.core.settings import Settings
from app.store.broker import lane_lists as broker_lists

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
K8S_VERSIONS = ["1.30", kubernetes_validate.utils.latest_version()]


# -- systemd -----------------------------------------------------------------------------------


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path)
    return parser


def exec_argv(exec_start: str, instance: str = "0") -> list[str]:
    """ExecStart as the command it runs, with systemd's specifiers and the shell's sum done."""
    line = exec_start.replace("%i", instance).replace("%H", socket.gethostname()).replace("$$", "$")
    argv = shlex.split(line)
    if argv[:2] == ["/bin/sh", "-c"]:
        argv = shlex.split(re.sub(r"\$\(\((\d+) \+ (\d+)\)\)", lambda m: str(int(m[1]) + int(m[2])), argv[2]))
        assert argv[0] == "exec"
        argv = argv[1:]
    return argv


def test_the_units_are_a_gateway_a_worker_per_gpu_and_flower():
    assert [u.name for u in UNITS] == ["jobgate-flower.service", "jobgate-gateway.service", "jobgate-worker@.service"]


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_each_unit_runs_hardened_as_its_own_user_and_restarts(path):
    service = unit(path)["Service"]
    assert service["User"] == "jobgate" and service["Group"] == "jobgate"
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["ProtectHome"] == "yes" and service["CapabilityBoundingSet"] == ""
    assert service["Restart"] == "on-failure"
    assert unit(path)["Install"]["WantedBy"] == "multi-user.target"


def test_the_worker_unit_pins_its_instances_gpu_and_keeps_the_gpu_device_visible():
    service = unit(DEPLOY / "systemd" / "jobgate-worker@.service")["Service"]
    argv = exec_argv(service["ExecStart"], "2")
    assert argv[0] == "/opt/jobgate/.venv/bin/jobgate"
    args = build_parser().parse_args(argv[1:])
    assert (args.command, args.gpus, args.metrics_port) == ("worker", "2", 9302)
    assert args.name == f"jobgate-gpu2@{socket.gethostname()}"
    assert "PrivateDevices" not in service  # it would hide /dev/nvidia*


def test_the_flower_unit_keeps_its_history_in_its_state_directory():
    service = unit(DEPLOY / "systemd" / "jobgate-flower.service")["Service"]
    args = build_parser().parse_args(exec_argv(service["ExecStart"])[1:])
    assert args.command == "flower"
    assert service["Environment"] == f"FLOWER_DB=/var/lib/{service['StateDirectory']}/flower.db"


def test_the_gateway_unit_runs_gunicorn_with_the_shipped_config():
    argv = exec_argv(unit(DEPLOY / "systemd" / "jobgate-gateway.service")["Service"]["ExecStart"])
    assert argv[0].endswith("/gunicorn") and argv[argv.index("-c") + 1] == "deploy/gunicorn.conf.py"
    assert argv[-1] == "app:create_app()"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_units_without_a_warning(tmp_path):
    # verify wants the binaries to exist: point /opt/jobgate at this checkout.
    names = []
    for path in UNITS:
        text = path.read_text().replace("/opt/jobgate/.venv/bin/", f"{Path(sys.executable).parent}/")
        text = text.replace("/opt/jobgate", str(ROOT))
        name = path.name.replace("@.", "@0.")  # a template is verified through an instance
        (tmp_path / name).write_text(text)
        names.append(str(tmp_path / name))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", *names], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r.stdout + r.stderr


# -- compose ------------------------------------------------------------------------------------

COMPOSE = DEPLOY / "compose" / "compose.yaml"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_compose_file_follows_the_compose_specification():
    r = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_compose_redis_keeps_an_append_only_file_on_a_volume():
    redis = compose()["services"]["redis"]
    conf = next(v for v in redis["volumes"] if v.endswith(":/usr/local/etc/redis/redis.conf:ro"))
    assert (COMPOSE.parent / conf.split(":")[0]).resolve() == DEPLOY / "redis" / "redis.conf"
    assert "appendonly yes" in (DEPLOY / "redis" / "redis.conf").read_text()
    assert "redis-data:/data" in redis["volumes"] and "redis-data" in compose()["volumes"]


def test_compose_worker_reserves_the_gpus_and_pins_one_process_to_each():
    worker = compose()["services"]["worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    args = build_parser().parse_args(worker["command"][1:])
    assert (args.command, args.gpus) == ("worker", "all")


def test_compose_flower_has_basic_auth_and_its_history_on_a_volume():
    flower = compose()["services"]["flower"]
    env = flower["environment"]
    assert env["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    assert env["FLOWER_DB"].startswith("/var/lib/jobgate/") and "flower-data:/var/lib/jobgate" in flower["volumes"]
    assert build_parser().parse_args(flower["command"][1:]).command == "flower"


def test_compose_and_dockerfile_name_only_files_that_exist():
    doc = compose()
    build = doc["services"]["gateway"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    for service in doc["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), volume
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), line


# -- Kubernetes ---------------------------------------------------------------------------------


def manifests() -> list[tuple[str, dict]]:
    return [
        (path.name, doc)
        for path in sorted((DEPLOY / "k8s").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def of_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in manifests() if doc["kind"] == kind}


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_kubernetes_manifest_validates_against_the_kubernetes_schemas(version):
    checked = 0
    for _name, doc in manifests():
        if doc["apiVersion"].startswith("keda.sh/"):
            continue
        kubernetes_validate.validate(doc, version, strict=True)  # raises naming the field
        checked += 1
    assert checked >= 10


def test_every_scaled_object_validates_against_kedas_crd():
    from cloudcoil.models.keda.v1alpha1 import ScaledObject

    objects = of_kind("ScaledObject")
    assert objects
    for doc in objects.values():
        model = ScaledObject.model_validate(doc)
        # The models ignore unknown fields; what does not round-trip is a field KEDA does not know.
        assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == doc


def worker_endpoint(deployment: dict) -> str:
    args = build_parser().parse_args(deployment["spec"]["template"]["spec"]["containers"][0]["command"][1:])
    assert args.command == "worker" and len(args.endpoint) == 1
    return args.endpoint[0]


def test_each_endpoints_workers_scale_from_zero_on_both_lanes_of_its_queue():
    deployments = of_kind("Deployment")
    workers = {n: d for n, d in deployments.items() if n.startswith("jobgate-worker-")}
    assert workers
    scaled = {so["spec"]["scaleTargetRef"]["name"]: so for so in of_kind("ScaledObject").values()}
    for name, deployment in workers.items():
        so = scaled[name]
        assert so["spec"]["minReplicaCount"] == 0
        lists = [t["metadata"]["listName"] for t in so["spec"]["triggers"] if t["type"] == "redis"]
        assert lists == broker_lists(queue_name(worker_endpoint(deployment)))
        redis_host = of_kind("ConfigMap")["jobgate"]["data"]["REDIS_URL"].split("//")[1].split("/")[0]
        assert all(t["metadata"]["address"] == redis_host for t in so["spec"]["triggers"])


def test_each_worker_pod_requests_one_gpu_and_pins_it():
    for name, deployment in of_kind("Deployment").items():
        if name.startswith("jobgate-worker-"):
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
            assert build_parser().parse_args(container["command"][1:]).gpus == "all"


def test_workers_serve_endpoints_the_shipped_endpoints_file_declares(tmp_path):
    (tmp_path / "endpoints.toml").write_text(of_kind("ConfigMap")["jobgate-endpoints"]["data"]["endpoints.toml"])
    registry = Registry.load(tmp_path / "endpoints.toml")
    for name, deployment in of_kind("Deployment").items():
        if name.startswith("jobgate-worker-"):
            assert worker_endpoint(deployment) in registry


def test_kubernetes_redis_is_persistent_and_uses_the_shipped_redis_conf():
    redis = of_kind("StatefulSet")["jobgate-redis"]
    assert redis["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    assert of_kind("ConfigMap")["jobgate-redis"]["data"]["redis.conf"] == (DEPLOY / "redis" / "redis.conf").read_text()


def test_kubernetes_flower_has_basic_auth_and_a_volume_for_its_history():
    pod = of_kind("Deployment")["jobgate-flower"]["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["FLOWER_BASIC_AUTH"]["valueFrom"]["secretKeyRef"]["name"] in of_kind("Secret")
    claim = next(v for v in pod["volumes"] if "persistentVolumeClaim" in v)["persistentVolumeClaim"]["claimName"]
    assert claim in of_kind("PersistentVolumeClaim")


# -- the Sentinel variants ----------------------------------------------------------------------

COMPOSE_SENTINEL = DEPLOY / "compose" / "compose.sentinel.yaml"
K8S_SENTINEL = DEPLOY / "k8s" / "sentinel"


def sentinel_manifests() -> list[dict]:
    return [doc for path in sorted(K8S_SENTINEL.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_the_sentinel_compose_file_follows_the_compose_specification():
    r = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE_SENTINEL)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_sentinel_compose_runs_a_master_a_replica_and_three_sentinels_that_jobgate_finds_it_through():
    doc = yaml.safe_load(COMPOSE_SENTINEL.read_text())
    services = doc["services"]
    assert {"redis-a", "redis-b", "sentinel-1", "sentinel-2", "sentinel-3"} <= set(services)
    assert "--replicaof redis-a 6379" in services["redis-b"]["command"][-1]
    for name in ("gateway", "worker", "flower"):
        url = services[name]["environment"]["REDIS_URL"].replace("${REDIS_PASSWORD:?set REDIS_PASSWORD}", "pw")
        target = parse_sentinel(url)
        assert [h for h, _ in target.sentinels] == ["sentinel-1", "sentinel-2", "sentinel-3"]
        assert target.master == "jobgate" and f"monitor {target.master} redis-a" in str(services["sentinel-1"])
        assert Settings.from_env(services[name]["environment"] | {"REDIS_URL": url}).redis_min_replicas == 1


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_sentinel_manifest_validates_against_the_kubernetes_schemas(version):
    docs = [d for d in sentinel_manifests() if not d["apiVersion"].startswith("keda.sh/")]
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    assert {d["kind"] for d in docs} >= {"StatefulSet", "Service", "ConfigMap"}


def test_the_sentinel_scaled_object_validates_and_watches_both_lanes_through_the_sentinels():
    from cloudcoil.models.keda.v1alpha1 import ScaledObject

    (so,) = [d for d in sentinel_manifests() if d["kind"] == "ScaledObject"]
    assert ScaledObject.model_validate(so).model_dump(by_alias=True, exclude_unset=True, mode="json") == so
    url = next(d for d in sentinel_manifests() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "jobgate")
    target = parse_sentinel(url["data"]["REDIS_URL"])
    triggers = so["spec"]["triggers"]
    assert [t["metadata"]["listName"] for t in triggers] == broker_lists(queue_name("echo"))
    for trigger in triggers:
        assert trigger["type"] == "redis-sentinel" and trigger["metadata"]["sentinelMaster"] == target.master
        assert trigger["metadata"]["addresses"] == ",".join(f"{h}:{p}" for h, p in target.sentinels)


def test_sentinel_redis_pods_use_the_shipped_redis_conf_and_sit_on_different_nodes():
    (redis,) = [
        d for d in sentinel_manifests() if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "jobgate-redis-ha"
    ]
    spec = redis["spec"]["template"]["spec"]
    assert redis["spec"]["replicas"] == 2
    assert spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert {"name": "config", "configMap": {"name": "jobgate-redis"}} in spec["volumes"]
    (sentinels,) = [
        d for d in sentinel_manifests() if d["metadata"]["name"] == "jobgate-sentinel" and d["kind"] == "StatefulSet"
    ]
    assert sentinels["spec"]["replicas"] == 3
