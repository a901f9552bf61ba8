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
    for path in ("dos/gunicorn_conf.py", "dos/db_role.py", "observability/metrics.py"):
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
    workers = {name for name in compose["services"] if name.startswith("worker-")}
    assert set(compose["services"]) - workers == {"postgres", "redis", "migrate", "web", "beat"}
    assert workers, "no Celery worker service"
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")
    assert compose["services"]["redis"]["image"].startswith("redis:7")
    assert compose["services"]["migrate"]["command"] == ["migrate"]
    for name in ("web", "beat", *workers):
        assert compose["services"][name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_compose_sets_only_variables_the_app_reads():
    compose = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())
    read = _read_by_app()
    for name in [n for n in compose["services"] if n not in ("postgres", "redis")]:
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


# -- layers (STYLE §5) --------------------------------------------------------------------------------
# An app imports only from apps below it — at module level and inside functions alike. Apps on one
# floor do not import each other. celery_app is the Celery application: wiring that stands on dos.
LAYERS = {"dos": 0, "celery_app": 1, "tenancy": 1, "billing": 2, "decisions": 3, "hitl": 4,
          "privacy": 5, "catalog": 5, "modelops": 5, "observability": 5}
# Cycles inside one app, each with the reason it is there; any other cycle fails.
ALLOWED_CYCLES = {
    # A service enqueues its own Celery task after commit; the task calls the service back.
    frozenset({"decisions.simulation_jobs", "decisions.tasks"}),
    frozenset({"hitl.attachments", "hitl.tasks"}),
    frozenset({"dos.outbox", "dos.tasks"}),
    # The effective plan reads overrides; overrides validate Cedar text; Cedar reads the effective plan.
    frozenset({"tenancy.cedar", "tenancy.overrides", "tenancy.plans"}),
}


def _modules() -> dict[str, Path]:
    found = {}
    for app in LAYERS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every imported module name (``from a import b`` also as ``a.b``), wherever the import stands."""
    import ast

    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def test_no_app_imports_from_an_app_above_it_or_beside_it():
    wrong = []
    for name, path in _modules().items():
        app = name.split(".")[0]
        if ".devstack" in name:  # development tooling, not the product (it may start anything)
            continue
        for line, imported in _imports(path):
            other = imported.split(".")[0]
            if other in LAYERS and other != app and LAYERS[other] >= LAYERS[app]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} {app} → {imported}")
    assert not wrong, "imports that run up or sideways:\n" + "\n".join(sorted(set(wrong)))


def test_each_app_names_what_it_stands_on_and_stands_on_nothing_else():
    used: dict[str, set[str]] = {app: set() for app in LAYERS}
    for name, path in _modules().items():
        app = name.split(".")[0]
        used[app] |= {i.split(".")[0] for _, i in _imports(path)} & set(LAYERS) - {app}
    for app in LAYERS:
        if app == "celery_app":
            continue
        doc = (ROOT / app / "apps.py").read_text()
        match = re.search(r"Stands on: ([^\n.(]*)", doc)
        assert match, f"{app}/apps.py does not say what it stands on"
        declared = {a.strip() for a in match.group(1).split(",")} & set(LAYERS)
        extra = {"celery_app"} if "celery_app" in doc else set()
        assert used[app] <= declared | extra, f"{app} imports {sorted(used[app] - declared)} it does not declare"
        assert all(LAYERS[a] < LAYERS[app] for a in declared), f"{app} declares an app that is not below it"


def test_no_import_cycles_but_the_explained_ones():
    modules = _modules()
    graph = {name: {i for _, i in _imports(path) if i in modules and i != name} for name, path in modules.items()}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(frozenset(component))

    for v in graph:
        if v not in index:
            visit(v)
    between_apps = [c for c in cycles if len({m.split(".")[0] for m in c}) > 1]
    assert not between_apps, f"cycles between apps: {between_apps}"
    assert set(cycles) <= ALLOWED_CYCLES, f"unexplained cycles: {[sorted(c) for c in set(cycles) - ALLOWED_CYCLES]}"
