"""docker/: the compose file, the Dockerfile and the gunicorn config, checked statically.

No Docker engine runs on the CI hosts, so nothing here builds an image or starts a container:
the files are parsed (YAML, Dockerfile lines, the gunicorn config as Python) and cross-checked
against the settings model and the repository's modules.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from pydantic import BaseModel

from config.settings import Settings, load_settings
from tests.conftest import REPO

DOCKER = REPO / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
DATA_DIR = "/app/var"
APP_SERVICES = ("web", "worker")          # the long-running Enclave containers
ONE_SHOT = ("migrate",)                    # runs to completion: no healthcheck
# ENCLAVE_* names in the compose file that are not settings: read by docker/gunicorn.conf.py.
GUNICORN_ENV = {"ENCLAVE_WEB_PROCESSES"}

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}, $VAR; $$ escapes.
_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
                  r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: str, dummy: str = "dummy") -> str:
    """Compose's interpolation with an empty host environment: defaults, else ``dummy``."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        if m.group("op") in (":-", "-"):
            return m.group("arg")
        return dummy

    return _VAR.sub(sub, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def command_of(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) for each volume of a service."""
    mounts = []
    for vol in service.get("volumes") or []:
        if isinstance(vol, str):
            parts = vol.split(":")
            mounts.append((parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
        else:
            mounts.append((str(vol.get("source", "")), vol["target"], bool(vol.get("read_only"))))
    return mounts


def is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith(("/", ".", "~", "$"))


# --- services, images, healthchecks --------------------------------------------------------


def test_expected_services(services: dict[str, dict[str, Any]]) -> None:
    assert {"postgres", "redis", "migrate", "web", "worker", "vllm"} <= set(services)


def test_every_long_running_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        check = svc.get("healthcheck")
        if name in ONE_SHOT:
            assert svc.get("restart", "no") == "no", f"{name} is one-shot: restart must be 'no'"
            continue
        assert check and not check.get("disable"), f"service {name} has no healthcheck"
        test = check.get("test")
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name}: healthcheck without {key}"


def test_healthchecks_probe_the_right_things(services: dict[str, dict[str, Any]]) -> None:
    web = " ".join(services["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz" in web
    vllm = " ".join(services["vllm"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/health" in vllm
    worker = services["worker"]["healthcheck"]["test"]
    assert worker[0] == "CMD-SHELL", "the worker's check needs a shell to expand $HOSTNAME"
    # A single $ would be interpolated by compose from the host's environment.
    assert "inspect ping" in worker[1] and "celery@$$HOSTNAME" in worker[1]
    assert " ".join(services["redis"]["healthcheck"]["test"]).endswith("redis-cli ping")
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_every_image_is_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        image = svc.get("image")
        assert image, f"service {name} names no image (built services need name:tag too)"
        if "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        assert ":" in last, f"{name}: image {image} has no tag"
        tag = last.split(":", 1)[1]
        assert tag and tag != "latest" and "$" not in tag, f"{name}: image {image} is not pinned"


def test_web_and_worker_share_one_image_and_the_data_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    web, worker = services["web"], services["worker"]
    assert web["build"] == worker["build"] and web["image"] == worker["image"]
    context = (COMPOSE_FILE.parent / web["build"]["context"]).resolve()
    assert context == REPO, "build context must be the repository root"
    assert (context / web["build"]["dockerfile"]).resolve() == DOCKER / "Dockerfile"
    data = set()
    for name in (*APP_SERVICES, *ONE_SHOT):
        sources = {src for src, target, _ in volume_mounts(services[name]) if target == DATA_DIR}
        assert len(sources) == 1, f"{name} must mount the data volume at {DATA_DIR}"
        data |= sources
    assert len(data) == 1, f"web, worker and migrate mount different volumes at {DATA_DIR}: {data}"
    (volume,) = data
    assert is_named_volume(volume) and volume in (compose.get("volumes") or {})
    for name in APP_SERVICES:
        assert env_of(services[name])["ENCLAVE_DATA_DIR"] == DATA_DIR


def test_app_services_agree_on_settings(services: dict[str, dict[str, Any]]) -> None:
    def enclave(name: str) -> dict[str, str]:
        return {k: v for k, v in env_of(services[name]).items()
                if k.startswith("ENCLAVE_") and k not in GUNICORN_ENV}

    assert enclave("web") == enclave("worker") == enclave("migrate")
    assert enclave("web"), "no ENCLAVE_* settings on the app services"


def test_named_volumes_are_declared(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, svc in services.items():
        for source, _, _ in volume_mounts(svc):
            if is_named_volume(source):
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert declared == used, f"declared but unused volumes: {declared - used}"
    for name, path in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        targets = {t for s, t, _ in volume_mounts(services[name]) if is_named_volume(s)}
        assert path in targets, f"{name} keeps its data outside a named volume"


def test_redis_keeps_queued_jobs(services: dict[str, dict[str, Any]]) -> None:
    cmd = command_of(services["redis"])
    assert "--appendonly" in cmd and cmd[cmd.index("--appendonly") + 1] == "yes"


def test_postgres_password_is_required_and_never_written(
    services: dict[str, dict[str, Any]]
) -> None:
    pg = env_of(services["postgres"])
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", pg["POSTGRES_PASSWORD"])
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for url in re.findall(r"postgresql\+psycopg://\S+", text):
        assert "${POSTGRES_PASSWORD:?" in url, f"database URL without the required password: {url}"


def test_ports_are_published_on_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    published = []
    for name, svc in services.items():
        for port in svc.get("ports") or []:
            host_ip = port.get("host_ip") if isinstance(port, dict) else (
                str(port).split(":")[0] if str(port).count(":") == 2 else None)
            assert host_ip == "127.0.0.1", f"{name}: port {port} is not bound to 127.0.0.1"
            published.append(name)
    assert published == ["web"], f"only web publishes a port, not {published}"


def test_only_web_has_a_route_out(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    networks = compose["networks"]
    for name, svc in services.items():
        nets = svc.get("networks") or ["default"]
        outside = [n for n in nets if not (networks.get(n) or {}).get("internal")]
        if name == "web":
            assert outside, "web needs a non-internal network to publish its port"
        else:
            assert not outside, f"{name} is on a network with a route out: {outside}"


def test_depends_on_waits_for_health_and_migration(services: dict[str, dict[str, Any]]) -> None:
    for name in APP_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    allowed = {"service_healthy", "service_completed_successfully"}
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: depends_on without conditions"
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert spec.get("condition") in allowed, f"{name} -> {dep}: {spec}"
            if spec["condition"] == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits for {dep}'s health"
            assert not services[dep].get("profiles"), \
                f"{name} depends on {dep}, which only starts under a profile"


def test_vllm_only_under_the_gpu_profile(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        assert svc.get("profiles", []) == (["gpu"] if name == "vllm" else []), name
    vllm = services["vllm"]
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)
    assert env_of(vllm)["HF_HUB_OFFLINE"] == "1"
    mounts = {target: ro for _, target, ro in volume_mounts(vllm)}
    assert mounts.get("/models") is True, "the models must be mounted read-only at /models"


def test_app_reaches_vllm_as_configured(services: dict[str, dict[str, Any]]) -> None:
    cmd = [interpolate(c) for c in command_of(services["vllm"])]
    assert cmd[cmd.index("--model") + 1].startswith("/models/")
    env = env_of(services["web"])
    url = urlparse(env["ENCLAVE_GENERATION__OPENAI_BASE_URL"])
    assert url.hostname == "vllm" and str(url.port) == cmd[cmd.index("--port") + 1]
    assert cmd[cmd.index("--served-model-name") + 1] == env["ENCLAVE_GENERATION__OPENAI_MODEL"]
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"


# --- settings and modules -------------------------------------------------------------------


def _is_field(path: list[str]) -> bool:
    model: type[BaseModel] = Settings
    for i, part in enumerate(path):
        field = model.model_fields.get(part)
        if field is None:
            return False
        ann = field.annotation
        if i < len(path) - 1:
            if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
                return False
            model = ann
    return True


@pytest.mark.parametrize("service", [*APP_SERVICES, *ONE_SHOT])
def test_every_enclave_variable_is_a_setting(
    service: str, services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: interpolate(v) for k, v in env_of(services[service]).items()}
    names = [k for k in env if k.startswith("ENCLAVE_")]
    assert names, f"{service} sets no ENCLAVE_* settings"
    for name in names:
        if name in GUNICORN_ENV:
            continue
        # Unknown top-level ENCLAVE_* variables are ignored by pydantic-settings, not refused.
        assert _is_field(name.removeprefix("ENCLAVE_").lower().split("__")), \
            f"{service}: {name} is not a setting of config/settings.py"
    for name in list(os.environ):
        if name.startswith("ENCLAVE_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()      # ENCLAVE_PROFILE from the environment: cluster
    assert settings.profile == "cluster"
    assert settings.jobs.runner == "celery" and settings.retrieval.index.mmap is True
    assert settings.data_dir == Path(DATA_DIR)
    assert settings.catalog_url.startswith("postgresql+psycopg://enclave:")
    assert urlparse(settings.jobs.broker_url).hostname == "redis"
    assert settings.database_auto_upgrade is False, "only the migrate service upgrades"
    assert settings.web.host == "0.0.0.0"
    if service == "worker":
        cmd = command_of(services["worker"])
        assert cmd[cmd.index("--queues") + 1] == settings.jobs.queue


def test_gpu_backend_switch_is_a_valid_setting(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = env_of(services["web"])["ENCLAVE_GENERATION__BACKEND"]
    assert raw.startswith("${") and ":-" in raw, "the backend is chosen from the host environment"
    for name in list(os.environ):
        if name.startswith("ENCLAVE_"):
            monkeypatch.delenv(name)
    for name, value in env_of(services["web"]).items():
        monkeypatch.setenv(name, interpolate(value))
    monkeypatch.setenv("ENCLAVE_GENERATION__BACKEND", "openai")
    settings = load_settings()
    assert settings.generation.backend == "openai"
    assert settings.generation.openai_base_url == "http://vllm:8000/v1"


def _module_file(dotted: str) -> Path:
    path = REPO.joinpath(*dotted.split("."))
    return path / "__main__.py" if path.is_dir() else path.with_suffix(".py")


def _binds(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        elif isinstance(node, ast.ImportFrom | ast.Import):
            if any((a.asname or a.name) == name for a in node.names):
                return True
        elif isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            return True
    return False


def test_migrate_runs_the_web_cli(services: dict[str, dict[str, Any]]) -> None:
    cmd = command_of(services["migrate"])
    assert cmd[:2] == ["python", "-m"] and cmd[3:] == ["upgrade"]
    assert _module_file(cmd[2]).is_file()


def test_web_command_names_a_wsgi_app_in_the_repo(services: dict[str, dict[str, Any]]) -> None:
    cmd = command_of(services["web"])
    assert cmd[0] == "gunicorn" and "--preload" not in cmd
    assert (REPO / cmd[cmd.index("--config") + 1]).resolve() == DOCKER / "gunicorn.conf.py"
    module, _, attr = cmd[-1].partition(":")
    path = _module_file(module)
    assert path.is_file(), (f"{path.relative_to(REPO)} (gunicorn's {cmd[-1]}) is missing: "
                            "issue 14's web part adds it")
    assert _binds(path, attr), f"{path.relative_to(REPO)} does not define {attr}"


def test_worker_command_names_a_celery_app_in_the_repo(services: dict[str, dict[str, Any]]) -> None:
    cmd = command_of(services["worker"])
    assert cmd[:2] == ["celery", "-A"] and cmd[3] == "worker"
    health = services["worker"]["healthcheck"]["test"][1]
    assert f"-A {cmd[2]} " in health, "the healthcheck pings another Celery app"
    path = _module_file(cmd[2])
    assert path.is_file(), (f"{path.relative_to(REPO)} (celery -A {cmd[2]}) is missing: "
                            "issue 14's ingest part adds it")
    assert _binds(path, "app"), f"{path.relative_to(REPO)} defines no Celery object named app"


# --- Dockerfile and gunicorn ------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    lines, current = [], ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        current += raw.rstrip().removesuffix("\\") + " "
        if not raw.rstrip().endswith("\\"):
            lines.append(current.strip())
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_ends_as_a_non_root_user() -> None:
    instructions = _dockerfile_instructions()
    users = [(i, arg) for i, (op, arg) in enumerate(instructions) if op == "USER"]
    assert users, "the image runs as root: no USER"
    index, user = users[-1]
    name = user.split(":")[0]
    assert name not in ("root", "0"), f"the image ends as USER {user}"
    assert not any(op == "RUN" for op, _ in instructions[index:]), "RUN after the last USER"
    run = " ".join(arg for op, arg in instructions if op == "RUN")
    assert re.search(rf"useradd .*--uid {name}\b|useradd .*\b{name}$", run), f"no user {name}"
    # /app/var must belong to that user before VOLUME, or a new volume is root-owned.
    volume_at = next(i for i, (op, arg) in enumerate(instructions) if op == "VOLUME")
    chowns = [i for i, (op, arg) in enumerate(instructions)
              if op == "RUN" and re.search(r"chown \S+ /app/var\b", arg)]
    assert chowns and chowns[-1] < volume_at, "/app/var is not chowned before VOLUME"
    assert DATA_DIR in instructions[volume_at][1]
    assert instructions[-1] == ("CMD", '["make", "run"]'), "the single-container default is make run"


def _gunicorn_config(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("ENCLAVE_WEB__HOST", "ENCLAVE_WEB__PORT", "ENCLAVE_WEB__THREADS", *GUNICORN_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = DOCKER / "gunicorn.conf.py"
    namespace: dict[str, Any] = {"__file__": str(path)}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return namespace


def test_gunicorn_config(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _gunicorn_config(monkeypatch)
    assert conf["preload_app"] is False, "models and CUDA must not initialise before the fork"
    assert conf["bind"] == "0.0.0.0:8000" and conf["workers"] == 2
    assert conf["worker_class"] == "gthread" and conf["threads"] == 8
    assert conf["timeout"] == 120 and conf["graceful_timeout"] == 30
    assert conf["accesslog"] == "-"
    conf = _gunicorn_config(monkeypatch, ENCLAVE_WEB_PROCESSES="5", ENCLAVE_WEB__PORT="9000")
    assert conf["workers"] == 5 and conf["bind"] == "0.0.0.0:9000"
    for name in GUNICORN_ENV:
        assert name in (DOCKER / "gunicorn.conf.py").read_text(encoding="utf-8")


def test_web_port_matches_gunicorn_bind(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: interpolate(v) for k, v in env_of(services["web"]).items()
           if k.startswith("ENCLAVE_WEB")}
    bind = _gunicorn_config(monkeypatch, **env)["bind"]
    container_port = str(services["web"]["ports"][0]).rsplit(":", 1)[-1]
    assert bind.rsplit(":", 1)[1] == container_port
    assert bind.startswith("0.0.0.0:"), "inside the container web must listen on all interfaces"


def test_the_build_context_leaves_out_local_state() -> None:
    """COPY . . must not carry a checkout's venv (wrong platform) or its data (private)."""
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".venv/", "var/", ".git/"):
        assert entry in ignored, entry
