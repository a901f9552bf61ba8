"""`make run`: the whole product on one machine, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

from .paths import REPO, read_secret, var_dir
from .stack import Stack, die_with_parent, venv_bin


class Runner:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or int(os.environ.get("PORT", "8000"))
        self.stack = Stack(db_role="app")
        self.children: dict[str, subprocess.Popen] = {}
        self.stopping = False

    # -- process management ------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = open(var_dir() / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        self.children[name] = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent,
        )

    def _manage(self, env: dict[str, str], *args: str, quiet: bool = False) -> None:
        out = subprocess.DEVNULL if quiet else None
        subprocess.run([sys.executable, str(REPO / "manage.py"), *args], env=env, cwd=REPO, check=True, stdout=out)

    def _on_signal(self, signum, frame) -> None:
        self.stopping = True

    def _shutdown(self) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.children.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.stack.down()

    def _start_idp(self, env: dict[str, str]) -> None:
        """The local OpenID Connect provider (devstack/idp) and the web app's client settings."""
        import secrets

        port = int(os.environ.get("DOS_IDP_PORT", "8980"))
        client_secret = read_secret(var_dir() / "idp-client-secret", lambda: secrets.token_urlsafe(24))
        issuer = f"http://127.0.0.1:{port}"
        idp_env = {**env, "DOS_IDP_PORT": str(port), "DOS_IDP_ACCOUNTS": str(var_dir() / "idp-accounts.json"),
                   "DOS_IDP_CLIENT_ID": "decisionos-dev", "DOS_IDP_CLIENT_SECRET": client_secret,
                   "DOS_IDP_REDIRECT_URIS": f"{env['DOS_BASE_URL']}/oidc/callback/"}
        self._spawn("idp", ["node", str(REPO / "devstack/idp/server.mjs")], idp_env)
        env.update(OIDC_RP_CLIENT_ID="decisionos-dev", OIDC_RP_CLIENT_SECRET=idp_env["DOS_IDP_CLIENT_SECRET"],
                   OIDC_OP_AUTHORIZATION_ENDPOINT=f"{issuer}/auth", OIDC_OP_TOKEN_ENDPOINT=f"{issuer}/token",
                   OIDC_OP_USER_ENDPOINT=f"{issuer}/me", OIDC_OP_JWKS_ENDPOINT=f"{issuer}/jwks")

    def _wait_ready(self, timeout: float = 120.0) -> dict:
        url = f"http://127.0.0.1:{self.port}/readyz"
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline and not self.stopping:
            for name, proc in self.children.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see var/{name}.log")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    return json.loads(resp.read())
            except Exception as exc:  # noqa: BLE001 - not up yet
                last = exc
                time.sleep(0.5)
        raise RuntimeError(f"/readyz did not answer 200 within {timeout:.0f}s: {last}\n{self._log_tails()}")

    def _log_tails(self, lines: int = 15) -> str:
        """The end of each child's log, so a failed start explains itself."""
        out = []
        for name in self.children:
            path = var_dir() / f"{name}.log"
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- var/{name}.log (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(out)

    # -- main --------------------------------------------------------------------------------
    def main(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        started = time.monotonic()
        try:
            env = self.stack.up()
            env.setdefault("DJANGO_ENV", "dev")
            metrics_dir = var_dir() / "prometheus"
            shutil.rmtree(metrics_dir, ignore_errors=True)
            metrics_dir.mkdir()
            env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
            env["DOS_BIND"] = f"127.0.0.1:{self.port}"
            env.setdefault("DOS_BASE_URL", f"http://127.0.0.1:{self.port}")

            print("• migrating the database …", flush=True)
            self._manage({**env, "DATABASE_URL": env["MIGRATE_DATABASE_URL"]}, "migrate", "--no-input", "-v", "0")
            self._manage({**env, "DATABASE_URL": env["MIGRATE_DATABASE_URL"]}, "collectstatic", "--no-input", "-v", "0")
            self._manage(env, "demo_seed", quiet=True)
            if not env.get("OIDC_RP_CLIENT_ID"):
                self._start_idp(env)

            self._spawn("web", [venv_bin("gunicorn"), "-c", str(REPO / "dos/gunicorn_conf.py"), "dos.wsgi"], env)
            self._spawn("worker", [venv_bin("celery"), "-A", "celery_app", "worker", "-l", "info",
                                   "--concurrency", "2", "-n", "worker@%h"], env)
            self._spawn("beat", [venv_bin("celery"), "-A", "celery_app", "beat", "-l", "info",
                                 "-S", "django_celery_beat.schedulers:DatabaseScheduler",
                                 "--pidfile", ""], env)
            ready = self._wait_ready()
            self._banner(env, ready, time.monotonic() - started)
            while not self.stopping:
                for name, proc in self.children.items():
                    if proc.poll() is not None:
                        print(f"! {name} exited with {proc.returncode}; see var/{name}.log — stopping", flush=True)
                        self.stopping = True
                        return_code = 1
                        break
                else:
                    time.sleep(0.5)
                    continue
                break
            else:
                return_code = 0
            return return_code
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"! make run failed: {exc}", file=sys.stderr, flush=True)
            return 1
        finally:
            print("• stopping …", flush=True)
            self._shutdown()
            print("• stopped.", flush=True)

    def _banner(self, env: dict[str, str], ready: dict, elapsed: float) -> None:
        base = f"http://127.0.0.1:{self.port}"
        banner_file = var_dir() / "demo.json"  # written by `manage.py demo_seed`
        try:
            demo = json.loads(banner_file.read_text())
        except (OSError, ValueError):
            demo = {}
        lines = [
            "",
            f"DecisionOS is up in {elapsed:.0f}s ({'all checks ok' if ready.get('status') == 'ok' else ready}).",
            f"  Admin         {base}/admin/",
            f"  API docs      {base}/api/docs/",
            f"  OpenAPI       {base}/api/schema/",
            f"  Probes        {base}/healthz  {base}/readyz  {base}/livez  {base}/metrics",
            f"  Logs          {var_dir()}/{{web,worker,beat,idp}}.log",
        ]
        for line in demo.get("banner", []):
            lines.append(f"  {line}")
        lines += ["", "Ctrl-C stops everything.", ""]
        print("\n".join(lines), flush=True)
