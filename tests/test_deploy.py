"""The deployment files in deploy/ and the Dockerfile, checked offline: no container engine or
cluster runs here.

The Kubernetes manifests are rendered the way `kubectl kustomize` would for what our
kustomization uses (namespace, labels, images) and each resource is validated against the
Kubernetes API schemas (kubernetes-validate, strict: unknown fields fail) of the oldest and the
newest supported release. Then what a schema can't know: the probes reach the site's health
endpoints, one beat that is never rolled, every container has requests and limits and runs as
non-root, selectors match their pods, and every variable given to the site is one it reads.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from config import health

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "ClusterRole", "StorageClass"}
SETTINGS = "".join(
    (ROOT / "config" / name).read_text() for name in ("settings.py", "celery.py", "telemetry.py")
)
# Variables read by processes other than the Django settings.
READ_ELSEWHERE = {"WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR", "GUNICORN_BIND"}


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization() -> dict:
    return load(K8S / "kustomization.yaml")[0]


def rendered() -> list[dict]:
    """What `kubectl kustomize deploy/k8s` gives for the features our kustomization uses."""
    spec = kustomization()
    assert set(spec) <= {"apiVersion", "kind", "namespace", "labels", "resources", "images"}
    images = {image["name"]: image for image in spec.get("images", [])}
    out = []
    for name in spec["resources"]:
        for resource in load(K8S / name):
            resource = copy.deepcopy(resource)
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = spec["namespace"]
            for group in spec.get("labels", []):
                resource["metadata"].setdefault("labels", {}).update(group["pairs"])
            for container in _containers(resource):
                image = images.get(container["image"])
                if image:
                    container["image"] = f"{image['newName']}:{image['newTag']}"
            out.append(resource)
    return out


def _pod_spec(resource: dict) -> dict | None:
    if resource["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        return resource["spec"]["template"]["spec"]
    return None


def _containers(resource: dict) -> list[dict]:
    pod = _pod_spec(resource)
    return pod["containers"] if pod else []


def by_name(kind: str, name: str) -> dict:
    for resource in rendered():
        if resource["kind"] == kind and resource["metadata"]["name"] == name:
            return resource
    raise AssertionError(f"no {kind} {name}")


def test_every_manifest_is_in_the_kustomization():
    listed = set(kustomization()["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == on_disk


@pytest.mark.parametrize("version", VERSIONS)
def test_every_rendered_resource_validates_against_the_api_schema(version):
    resources = rendered() + load(K8S / "secret.example.yaml")
    kinds = {r["kind"] for r in resources}
    assert {"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "Job"} <= kinds
    assert {"PodDisruptionBudget", "ConfigMap", "Secret", "PersistentVolumeClaim"} <= kinds
    for resource in resources:
        kubernetes_validate.validate(resource, version, strict=True)


def test_the_validation_would_catch_a_mistake():
    web = by_name("Deployment", "colloquy-web")
    web["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pth"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, VERSIONS[-1], strict=True)


def test_web_probes_reach_the_health_endpoints():
    web = by_name("Deployment", "colloquy-web")
    (container,) = _containers(web)
    port = container["ports"][0]
    assert port == {"name": "http", "containerPort": 8000}
    assert container["livenessProbe"]["httpGet"] == {"path": health.LIVE, "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": health.LIVE, "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": health.READY, "port": "http"}
    assert container["command"] == ["gunicorn", "-c", "deploy/gunicorn.conf.py", "config.wsgi"]
    assert (ROOT / "deploy" / "gunicorn.conf.py").is_file()
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_worker_liveness_is_the_heartbeat_file_it_writes():
    (container,) = _containers(by_name("Deployment", "colloquy-worker"))
    env = {item["name"]: item["value"] for item in container["env"]}
    probe = container["livenessProbe"]["exec"]["command"]
    assert probe[:3] == ["python", "-m", "config.worker_alive"]
    assert probe[3] == env["CELERY_HEARTBEAT_FILE"]
    assert importlib.util.find_spec("config.worker_alive") is not None
    assert container["command"][:4] == ["celery", "-A", "config", "worker"]


def test_beat_is_one_pod_never_rolled():
    beat = by_name("Deployment", "colloquy-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    scaled = {r["spec"]["scaleTargetRef"]["name"] for r in rendered() if r["kind"].startswith("H")}
    assert scaled == {"colloquy-web"}


def test_migrations_job_runs_migrate():
    (container,) = _containers(by_name("Job", "colloquy-migrate"))
    assert container["command"] == ["python", "manage.py", "migrate", "--noinput"]


def test_every_container_has_requests_limits_and_runs_unprivileged():
    for resource in rendered():
        pod = _pod_spec(resource)
        if pod is None:
            continue
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's user
        for container in pod["containers"]:
            assert container["image"] == "registry.example.com/colloquy:latest"
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["readOnlyRootFilesystem"] is True
            assert security["capabilities"] == {"drop": ["ALL"]}
            names = {
                ref.get("configMapRef", ref.get("secretRef"))["name"]
                for ref in container["envFrom"]
            }
            assert names == {"colloquy-config", "colloquy-secrets"}
            # A read-only root: whatever writes (gunicorn, the heartbeat, beat) writes in /tmp.
            assert "/tmp" in {mount["mountPath"] for mount in container.get("volumeMounts", [])}


def test_selectors_match_their_pods():
    web_labels = by_name("Deployment", "colloquy-web")["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        resource = by_name(kind, "colloquy-web")
        selector = resource["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= web_labels.items()
    ingress = by_name("Ingress", "colloquy-web")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    service = by_name("Service", "colloquy-web")
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    for resource in rendered():
        if resource["kind"] == "Deployment":
            spec = resource["spec"]
            assert (
                spec["selector"]["matchLabels"].items()
                <= spec["template"]["metadata"]["labels"].items()
            )


def _read_by_the_site(name: str) -> bool:
    return name in READ_ELSEWHERE or (
        re.search(rf'(env\.\w+\(|environ\.get\()\s*"{name}"', SETTINGS) is not None
    )


def test_every_variable_given_is_one_the_site_reads():
    config = by_name("ConfigMap", "colloquy-config")["data"]
    secret = load(K8S / "secret.example.yaml")[0]["stringData"]
    given = set(config) | set(secret)
    for resource in rendered():
        for container in _containers(resource):
            given |= {item["name"] for item in container.get("env", [])}
    unknown = sorted(name for name in given if not _read_by_the_site(name))
    assert unknown == []
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"} <= set(secret)
    assert not {"SECRET_KEY", "DATABASE_URL", "EMAIL_HOST_PASSWORD"} & set(config)


# --- compose.yaml, nginx.conf ----------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_compose_has_two_webs_a_worker_one_beat_and_the_servers():
    services = compose()["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "migrate",
        "web1",
        "web2",
        "worker",
        "beat",
        "proxy",
    }
    for web in ("web1", "web2"):
        service = services[web]
        assert service["command"] == ["gunicorn", "-c", "deploy/gunicorn.conf.py", "config.wsgi"]
        assert health.READY in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "deploy" not in services["beat"]  # never scaled
    assert services["worker"]["healthcheck"]["test"][1:4] == ["python", "-m", "config.worker_alive"]
    # A worker that dies (tests/test_broker_guard.py: it exits with a failure) is started again.
    assert services["worker"]["restart"] == "unless-stopped"
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    env = services["web1"]["environment"]
    unknown = sorted(name for name in env if not _read_by_the_site(name))
    assert unknown == []


def test_the_proxy_balances_both_web_instances():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    upstream = re.search(r"upstream colloquy_web \{(.*?)\}", conf, re.S).group(1)
    assert re.findall(r"server (\w+):8000", upstream) == ["web1", "web2"]
    assert "proxy_pass http://colloquy_web;" in conf
    assert "X-Forwarded-Proto $scheme" in conf
    assert (
        "./nginx.conf:/etc/nginx/conf.d/default.conf:ro"
        in compose()["services"]["proxy"]["volumes"]
    )


# --- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_unprivileged_and_collects_static_files(tmp_path):
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(stages) == 2
    assert re.search(r"^COPY --from=build /venv /venv$", text, re.M)
    runtime = text[text.rindex("\nFROM ") :]
    assert re.search(r"^USER 10001:10001$", runtime, re.M)
    assert "libicu-dev" not in runtime  # build tools stay in the first stage
    cmd = re.search(r"^CMD (.+)$", runtime, re.M).group(1)
    assert cmd == '["gunicorn", "-c", "deploy/gunicorn.conf.py", "config.wsgi"]'
    # The build's collectstatic step, with the placeholders it gives: it must succeed.
    step = re.search(
        r"RUN (SECRET_KEY=\S+) (DATABASE_URL=\S+) \\\n\s+python (manage\.py [^\\\n]+?)\s*\\\n", text
    )
    assert step, "the collectstatic step"
    env = dict(
        item.split("=", 1)
        for item in (step.group(1), step.group(2), "DEBUG=false", f"STATIC_ROOT={tmp_path}/s")
    )
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/build.sqlite3"
    import os

    result = subprocess.run(
        [sys.executable, *step.group(3).split()],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "s" / "staticfiles.json").is_file()  # the manifest whitenoise serves by
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "db.sqlite3*", ".env"} <= set(ignored)
