"""Checks on docker-compose.yml and the worker's Dockerfile.

These tests never start containers. They read the compose file and check the wiring a user
relies on for `docker compose up`. Where the Docker Compose plugin is installed, they also
ask it to validate the file (`docker compose config` needs no engine).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"

REQUIRED_SERVICES = {"postgresql", "temporal", "temporal-ui", "worker"}
SEARCH_ATTRIBUTES = {
    "AccountStatus": "Keyword",
    "Stage": "Keyword",
    "Dpd": "Int",
    "Outstanding": "Int",
    "Currency": "Keyword",
    "Policy": "Keyword",
    "PolicyVersion": "Int",
    "Segment": "Keyword",
    "Strategy": "Keyword",
    "NextAction": "Keyword",
    "NextActionAt": "Datetime",
    "DueDate": "Datetime",
}


def _compose() -> dict:
    with COMPOSE_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


def _services() -> dict:
    services = _compose().get("services")
    assert isinstance(services, dict) and services, "no services defined"
    return services


def _env(service: dict) -> dict[str, str]:
    """A service's environment as a dict, from either the list form or the map form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            key, _, value = str(item).partition("=")
            out[key] = value
        return out
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _depends_on(service: dict) -> dict[str, dict]:
    """A service's depends_on as {name: options}, from either the list form or the map form."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {} for name in deps}
    return {name: (opts or {}) for name, opts in deps.items()}


def _published(service: dict) -> set[tuple[str, str]]:
    """The (host port, container port) pairs a service publishes."""
    pairs = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            pairs.add((str(port.get("published", "")), str(port.get("target", ""))))
            continue
        spec = str(port).split("/")[0]  # drop a protocol suffix such as /tcp
        parts = spec.rsplit(":", 2)
        if len(parts) == 1:
            pairs.add(("", parts[0]))
        else:
            pairs.add((parts[-2], parts[-1]))
    return pairs


def _host_port(address: str) -> tuple[str, str]:
    host, _, port = address.rpartition(":")
    return host, port


def test_required_services_exist():
    missing = REQUIRED_SERVICES - set(_services())
    assert not missing, f"missing services: {sorted(missing)}"


def test_temporal_server_persists_to_the_postgresql_service():
    services = _services()
    env = _env(services["temporal"])
    assert env.get("DB") in {"postgres12", "postgres12_pgx"}, env.get("DB")
    assert env.get("POSTGRES_SEEDS") == "postgresql"
    assert env.get("DB_PORT", "5432") == "5432"
    pg_env = _env(services["postgresql"])
    assert env.get("POSTGRES_USER") == pg_env.get("POSTGRES_USER", "postgres")
    assert env.get("POSTGRES_PWD") == pg_env.get("POSTGRES_PASSWORD")


def test_temporal_schema_is_created_before_the_server_starts():
    # The plain server image does no schema setup. A one-shot job does it, and the server
    # waits for that job to finish.
    services = _services()
    deps = _depends_on(services["temporal"])
    setup_jobs = [name for name, opts in deps.items() if opts.get("condition") == "service_completed_successfully"]
    assert setup_jobs, "temporal should wait for a schema-setup job"
    job = services[setup_jobs[0]]
    assert job["image"].startswith("temporalio/admin-tools:")
    assert job["image"].split(":")[-1] == services["temporal"]["image"].split(":")[-1], (
        "admin-tools (schema) and server versions should match"
    )


def test_temporal_dynamic_config_file_is_mounted():
    # The server will not start if DYNAMIC_CONFIG_FILE_PATH names a missing file, and the
    # temporalio/server image ships none.
    temporal = _services()["temporal"]
    path = _env(temporal).get("DYNAMIC_CONFIG_FILE_PATH")
    assert path, "DYNAMIC_CONFIG_FILE_PATH is not set"
    if not path.startswith("/"):
        path = "/etc/temporal/" + path  # the image's working directory
    targets = {c["target"] for c in temporal.get("configs") or [] if isinstance(c, dict)}
    volume_targets = {
        str(v).split(":")[1] for v in temporal.get("volumes") or [] if isinstance(v, str) and ":" in str(v)
    }
    assert path in targets or any(path.startswith(t.rstrip("/") + "/") for t in volume_targets), (
        f"{path} is neither a mounted config nor inside a mounted volume"
    )
    declared = set(_compose().get("configs") or {})
    for c in temporal.get("configs") or []:
        source = c["source"] if isinstance(c, dict) else c
        assert source in declared, f"config {source} is not declared at the top level"


def test_ui_points_at_temporal_and_publishes_8080():
    ui = _services()["temporal-ui"]
    assert _env(ui).get("TEMPORAL_ADDRESS") == "temporal:7233"
    assert ("8080", "8080") in _published(ui), _published(ui)


def test_worker_environment_points_at_temporal_and_postgresql():
    services = _services()
    env = _env(services["worker"])
    assert env.get("TEMPORAL_ADDRESS") == "temporal:7233"

    url = urlsplit(env.get("DATABASE_URL", ""))
    assert url.scheme in {"postgresql", "postgres"}, url.scheme  # asyncpg accepts both
    assert url.hostname == "postgresql"
    assert (url.port or 5432) == 5432

    pg_env = _env(services["postgresql"])
    pg_user = pg_env.get("POSTGRES_USER", "postgres")
    assert url.username == pg_user
    assert url.password == pg_env.get("POSTGRES_PASSWORD")
    assert url.path.lstrip("/") == pg_env.get("POSTGRES_DB", pg_user), (
        "the worker's database must be the one the postgres image creates"
    )
    assert env.get("LOG_FORMAT") == "json"


def test_temporal_server_is_reachable_on_7233():
    services = _services()
    assert ("7233", "7233") in _published(services["temporal"])
    # Every container that talks to Temporal uses the service name and the frontend port.
    for name, service in services.items():
        address = _env(service).get("TEMPORAL_ADDRESS")
        if address:
            assert _host_port(address) == ("temporal", "7233"), f"{name}: {address}"


def test_every_depends_on_names_a_defined_service():
    services = _services()
    for name, service in services.items():
        for dep, opts in _depends_on(service).items():
            assert dep in services, f"{name} depends on undefined service {dep}"
            assert dep != name, f"{name} depends on itself"
            condition = opts.get("condition", "service_started")
            assert condition in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }, f"{name} -> {dep}: unknown condition {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], (
                    f"{name} waits for {dep} to be healthy but {dep} has no healthcheck"
                )


def test_worker_waits_for_its_dependencies():
    deps = _depends_on(_services()["worker"])
    assert deps.get("postgresql", {}).get("condition") == "service_healthy"
    assert deps.get("temporal", {}).get("condition") == "service_healthy"


def test_images_are_pinned():
    for name, service in _services().items():
        image = service.get("image")
        if image is None:
            assert "build" in service, f"{name} has neither image nor build"
            continue
        if "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        assert ":" in last, f"{name}: image {image} has no tag"
        tag = last.split(":", 1)[1]
        assert tag and tag != "latest", f"{name}: image {image} is not pinned"
        assert "${" not in image, f"{name}: image {image} depends on an environment variable"


def test_named_volume_for_postgres_data():
    compose = _compose()
    volumes = _services()["postgresql"].get("volumes") or []
    named = [str(v).split(":")[0] for v in volumes if ":" in str(v) and not str(v).startswith((".", "/"))]
    assert named, "postgresql data should live in a named volume"
    for volume in named:
        assert volume in (compose.get("volumes") or {}), f"volume {volume} is not declared"


def test_worker_builds_from_the_dockerfile_and_runs_worker_py():
    build = _services()["worker"].get("build")
    assert build, "worker must be built from the repo"
    if isinstance(build, str):
        context, dockerfile = build, "Dockerfile"
    else:
        context, dockerfile = build.get("context", "."), build.get("dockerfile", "Dockerfile")
    path = (ROOT / context / dockerfile).resolve()
    assert path.is_file(), f"{path} does not exist"

    text = path.read_text(encoding="utf-8")
    assert re.search(r"^FROM\s+python:3\.11-slim\b", text, re.M), "base image should be python:3.11-slim"
    assert re.search(r"^RUN\s+pip install \.", text, re.M), "the project should be installed with pip install ."
    command = _services()["worker"].get("command")
    if command is None:
        cmd_lines = re.findall(r"^CMD\s+(.+)$", text, re.M)
        assert cmd_lines, "Dockerfile has no CMD"
        command = cmd_lines[-1]
    assert "worker.py" in str(command), f"worker does not run worker.py: {command}"


def test_dockerignore_keeps_local_state_out_of_the_image():
    path = ROOT / ".dockerignore"
    assert path.is_file()
    entries = {line.strip().rstrip("/") for line in path.read_text(encoding="utf-8").splitlines()}
    for entry in (".venv", ".git", ".run", "secrets"):
        assert entry in entries, f"{entry} missing from .dockerignore"
    assert entries & {"__pycache__", "**/__pycache__"}, "__pycache__ missing from .dockerignore"


def test_setup_job_registers_the_search_attributes():
    # The worker registers these itself. The one-shot job should list the same names and types.
    content = (_compose().get("configs") or {}).get("temporal-setup-script", {}).get("content")
    if content is None:
        pytest.skip("no temporal-setup-script config")
    for name, kind in SEARCH_ATTRIBUTES.items():
        assert f"{name}={kind}" in content, f"{name}={kind} not registered"


def _compose_plugin_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def test_docker_compose_config_is_valid():
    if not _compose_plugin_available():
        pytest.skip("docker CLI with the compose plugin is not available")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_without_twilio_credentials_the_worker_texts_the_standin_service():
    services = _services()
    env = _env(services["worker"])
    standin = services["twilio-standin"]
    assert env["TWILIO_API_BASE"] == "${TWILIO_API_BASE-http://twilio-standin:8787}"
    assert standin["command"][:3] == ["python", "-m", "standins.twilio_api"] and "8787" in standin["command"]
    # The stand-in checks the same credentials the worker sends.
    assert all(_env(standin)[key] == env[key] for key in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"))


def test_without_an_smtp_relay_the_worker_mails_the_standin_service():
    services = _services()
    env, standin = _env(services["worker"]), services["smtp-standin"]
    assert env["SMTP_HOST"] == "${SMTP_HOST:-smtp-standin}" and env["SMTP_PORT"] == "${SMTP_PORT:-8025}"
    assert standin["command"][:3] == ["python", "-m", "standins.smtp_server"] and "8025" in standin["command"]


def test_letters_and_agency_files_land_on_a_named_volume_the_worker_may_write():
    worker = _services()["worker"]
    env = _env(worker)
    mounts = dict(volume.split(":", 1) for volume in worker["volumes"])
    assert mounts["handoff"] == "/var/collections" and "handoff" in _compose()["volumes"]
    assert all(env[key].startswith("/var/collections/") for key in ("LETTER_DROP_DIR", "AGENCY_DROP_DIR"))
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"chown app:app /var/collections", dockerfile)  # a fresh volume takes the image's owner


def test_the_worker_seals_with_a_mounted_key_ring_and_the_ui_opens_payloads_at_its_codec_server():
    services = _services()
    worker, ui = services["worker"], services["temporal-ui"]
    assert (_compose().get("secrets") or {})["payload-keys"]["file"] == "./secrets/payload-keys.json"
    assert "payload-keys" in worker["secrets"] and _env(worker)["PAYLOAD_KEYS_FILE"] == "/run/secrets/payload-keys"
    # The browser calls the codec server on the worker's published port, from the UI's published origin.
    assert "127.0.0.1:8088:8088" in worker["ports"] and "127.0.0.1:8080:8080" in ui["ports"]
    assert _env(ui)["TEMPORAL_CODEC_ENDPOINT"] == "http://localhost:8088/codec"
    assert _env(ui)["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    assert _env(worker)["TEMPORAL_UI_ORIGIN"] == "http://localhost:8080"
    assert "secrets/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_webhooks_kept_during_an_outage_survive_a_restart_on_a_volume_of_their_own():
    worker = _services()["worker"]
    assert _env(worker)["INBOUND_SPOOL_DIR"] == "/var/lib/collections/inbound-spool"
    assert "inbound-spool:/var/lib/collections/inbound-spool" in worker["volumes"]
    assert "inbound-spool" in (_compose().get("volumes") or {})


def test_the_worker_is_healthy_when_its_readiness_probe_answers():
    check = _services()["worker"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"] and "http://127.0.0.1:8088/readyz" in check[3]


def _config(name: str) -> dict:
    """An inline config's content, read as YAML (compose's `$$` is a literal `$`)."""
    return yaml.safe_load(_compose()["configs"][name]["content"].replace("$$", "$"))


def _mounted_configs(service: dict) -> dict[str, str]:
    return {c["target"]: c["source"] for c in service.get("configs") or []}


def test_prometheus_scrapes_the_worker_on_the_port_it_serves_metrics_on():
    services = _services()
    host, port = _host_port(_env(services["worker"])["METRICS_ADDRESS"])
    assert host == "0.0.0.0", "inside compose the worker must listen beyond loopback to be scraped"
    assert f"127.0.0.1:{port}:{port}" in services["worker"]["ports"]
    prometheus = services["prometheus"]
    mounted = _mounted_configs(prometheus)
    assert mounted["/etc/prometheus/prometheus.yml"] == "prometheus-config"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = _config("prometheus-config")
    targets = [t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert targets == [f"worker:{port}"]
    assert all(mounted.get(path) for path in config["rule_files"]), "every rule file is a mounted config"
    assert "127.0.0.1:9090:9090" in prometheus["ports"]


def test_grafana_shows_the_dashboard_over_the_prometheus_service():
    services = _services()
    grafana = services["grafana"]
    mounted = _mounted_configs(grafana)
    datasources = _config(mounted["/etc/grafana/provisioning/datasources/prometheus.yaml"])["datasources"]
    assert [(d["type"], d["url"]) for d in datasources] == [("prometheus", "http://prometheus:9090")]
    provider = _config(mounted["/etc/grafana/provisioning/dashboards/collections.yaml"])["providers"][0]
    mounts = dict(reversed(volume.rsplit(":", 2)[:2]) for volume in grafana["volumes"])
    folder = ROOT / mounts[provider["options"]["path"]]
    dashboards = list(folder.glob("*.json"))
    assert dashboards, f"no dashboard in {folder}"
    for path in dashboards:  # every panel reads the provisioned data source
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {datasources[0]["uid"]}
    assert "127.0.0.1:3000:3000" in grafana["ports"]
