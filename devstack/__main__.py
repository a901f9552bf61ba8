"""`python -m devstack run` (make run) and `python -m devstack exec -- CMD` (make test)."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys

from .stack import Stack


def _exec(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("usage: python -m devstack exec [--db-role owner] -- COMMAND ...", file=sys.stderr)
        return 2
    stack = Stack(db_role=args.db_role, redis_db=args.redis_db)
    try:
        env = stack.up()
        proc = subprocess.Popen(command, env=env)
        # Ctrl-C reaches the child through the terminal; we only wait for it to finish.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return proc.wait()
    finally:
        stack.down()


def _totp() -> int:
    import time

    from django_otp.oath import totp  # pure function; needs no Django settings

    from .paths import var_dir

    key_file = var_dir() / "demo-totp-key"
    if not key_file.exists():
        print("No demo TOTP key yet: run `make run` once.", file=sys.stderr)
        return 1
    print(f"{totp(bytes.fromhex(key_file.read_text().strip())):06d}  (valid for {30 - int(time.time()) % 30} more seconds)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack")
    sub = parser.add_subparsers(dest="verb", required=True)
    run = sub.add_parser("run", help="the whole product: embedded services, web, worker, beat, IdP")
    run.add_argument("--port", type=int, default=None, help="web port (default $PORT or 8000)")
    sub.add_parser("totp", help="print the current TOTP code of the demo accounts (development only)")
    ex = sub.add_parser("exec", help="run a command with the embedded services up")
    ex.add_argument("--db-role", choices=("app", "owner"), default="app")
    ex.add_argument("--redis-db", type=int, default=0)
    ex.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.verb == "exec":
        return _exec(args)
    if args.verb == "totp":
        return _totp()
    from .run import Runner

    return Runner(port=args.port).main()


if __name__ == "__main__":
    sys.exit(main())
