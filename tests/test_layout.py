"""The repository keeps its promises: layout, pinned requirements, CI wiring, Docker config."""

import os
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
APPS = ["tenancy", "decisions", "hitl", "billing", "privacy", "catalog", "modelops", "observability"]


def _read_by_app() -> set[str]:
    """Environment variables the application reads (settings, gunicorn config, entrypoint)."""
    names = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', (ROOT / "dos/settings.py").read_text()))
    for path in ("dos/gunicorn_conf.py", "dos/guards.py", "observability/metrics.py"):
        names |= set(re.findall(r'environ(?:\.get)?\(\s*"([A-Z0-9_]+)"', (ROOT / path).read_text()))
    names |= set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", (ROOT / "docker/entrypoint.sh").read_text()))
    return names


def test_it_has_the_layout_of_the_design_card():
    for path in ["manage.py", "dos/settings.py", "dos/urls.py", "dos/wsgi.py", "dos/asgi.py", "dos/cli.py",
                 "dos/api", "celery_app", "templates", "static", "tests", "requirements/base.txt",
                 "requirements/dev.txt", "docker/Dockerfile", "docker/compose.yaml", "docker/env.sample",
                 "bench", "docs/architecture.md", "README.md"]:
        assert (ROOT / path).exists(), path
    from django.conf import settings

    for app in APPS:
        assert (ROOT / app / "apps.py").exists(), app
        assert app in settings.INSTALLED_APPS


def test_it_pins_every_requirement():
    for name in ("base.txt", "dev.txt"):
        for line in (ROOT / "requirements" / name).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "-r")):
                assert re.match(r"^[A-Za-z0-9_.\[\]-]+==[\w.]+$", line), f"{name}: unpinned '{line}'"


def test_it_wires_ci_to_the_readme_test_command():
    ci = ROOT / ".ci" / "run"
    assert os.access(ci, os.X_OK)
    assert "make test" in ci.read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme


def test_compose_defines_the_production_services():
    compose = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())
    assert set(compose["services"]) == {"postgres", "redis", "migrate", "web", "worker", "beat"}
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")
    assert compose["services"]["redis"]["image"].startswith("redis:7")
    assert compose["services"]["migrate"]["command"] == ["migrate"]
    for name in ("web", "worker", "beat"):
        assert compose["services"][name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_compose_sets_only_variables_the_app_reads():
    compose = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())
    read = _read_by_app()
    for name in ("migrate", "web", "worker", "beat"):
        for var in compose["services"][name]["environment"]:
            assert var in read, f"compose sets {var} for {name} but nothing reads it"
    compose_text = (ROOT / "docker/compose.yaml").read_text()
    for line in (ROOT / "docker/env.sample").read_text().splitlines():
        if line and not line.startswith("#"):
            var = line.split("=", 1)[0]
            assert var in read or f"${{{var}}}" in compose_text, f"env.sample has {var} but nothing reads it"


def test_the_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    for var in _read_by_app():
        assert f"`{var}`" in readme, f"README configuration table misses {var}"


def test_dockerfile_runs_as_a_non_root_user_with_korean_fonts():
    dockerfile = (ROOT / "docker/Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "fonts-nanum" in dockerfile
    assert re.search(r"^USER dos$", dockerfile, re.M)
