from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import CommandError

from decisions.packs import available
from decisions.packs.install import pack_install
from decisions.policy.engine import compile_policy
from decisions.policy.language import parse_policy
from dos.management.base import DosCommand, add_actor_flag, add_json_flag
from tenancy.principals import command_actor
from tenancy.selectors import project_by_slug_or_id


class Command(DosCommand):
    help = "Policies: install a domain pack, lint a file, evaluate an input."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True,
                                    metavar="{init,lint,eval,simulate,submit,approve,publish,rollback}")
        for verb, text in (("submit", "submit a draft for approval"), ("approve", "approve (not the author)"),
                           ("publish", "publish an approved version"),
                           ("rollback", "republish a previously published version")):
            step = sub.add_parser(verb, help=text)
            step.add_argument("version_id", help="the version's id (as policy init and the API print it)")
            step.add_argument("--org", required=True)
            add_actor_flag(step, required=True)
            add_json_flag(step)
        init = sub.add_parser("init", help="install a domain pack into a project (four eyes to publish)")
        init.add_argument("--pack", required=True, help=f"one of {', '.join(d for d, _ in available())}")
        init.add_argument("--version", help="pack version (default: newest)")
        init.add_argument("--org", required=True)
        init.add_argument("--project", default="default", help="project slug or id (default: default)")
        init.add_argument("--author", required=True, help="e-mail of the member who authors the versions")
        init.add_argument("--approver", help="e-mail of a second member with policy.approve: publishes at once")
        add_json_flag(init)
        lint = sub.add_parser("lint", help="lint a policy YAML file (exit 1 on errors)")
        lint.add_argument("path")
        add_json_flag(lint)
        sim = sub.add_parser("simulate", help="run a policy over a pack's dataset: JSON + HTML report")
        sim.add_argument("--pack", required=True)
        sim.add_argument("--version", help="pack version (default: newest)")
        sim.add_argument("--policy", help="a policy YAML file to simulate instead of the pack's (a challenger)")
        sim.add_argument("--champion", help="a policy YAML file to compare with (default: the pack's own policy "
                                            "when --policy is given)")
        sim.add_argument("--rows", type=int, default=1000)
        sim.add_argument("--out", default=".", help="directory for simulation.json and simulation.html")
        add_json_flag(sim)
        ev = sub.add_parser("eval", help="evaluate a policy file on a JSON input (dry run, nothing stored)")
        ev.add_argument("path")
        ev.add_argument("--input", required=True, help="JSON object or @file.json")
        add_json_flag(ev)

    def handle(self, *args, **options):
        if options["verb"] in ("submit", "approve", "publish", "rollback"):
            return self.do_step(options)
        return getattr(self, f"do_{options['verb']}")(options)

    def do_step(self, options):
        from decisions import services
        from decisions.selectors import policy_version_by_id

        with self.org_scope(options) as org:
            person = command_actor(org, options["actor"])
            version = policy_version_by_id(options["version_id"])
            if version is None:
                raise CommandError(f"No policy version '{options['version_id']}' in {org.slug}.")
            step = {"submit": lambda: services.version_submit(version=version, actor=person),
                    "approve": lambda: services.version_approve(version=version, actor=person),
                    "publish": lambda: services.version_publish(version=version, actor=person),
                    "rollback": lambda: services.version_rollback(version=version, actor=person)}[options["verb"]]
            try:
                version = step()
            except services.PolicyStateError as exc:
                raise CommandError(str(exc))
            except services.PolicyLintError as exc:
                raise CommandError("; ".join(str(i) for i in exc.issues))
            except PermissionError as exc:
                raise CommandError(f"Four eyes: {exc}")
        out = {"id": str(version.id), "policy": version.policy_set.name, "semver": version.semver,
               "status": version.status}
        self.emit(options, out, lambda d: f"{d['policy']} {d['semver']}: {d['status']}")

    def do_init(self, options):
        with self.org_scope(options) as org:
            project = project_by_slug_or_id(org, options["project"])
            if project is None:
                raise CommandError(f"No project '{options['project']}' in {org.slug}.")
            author = command_actor(org, options["author"])
            approver = command_actor(org, options["approver"]) if options.get("approver") else None
            try:
                versions = pack_install(project=project, domain=options["pack"], version=options.get("version"),
                                        author=author, approver=approver)
            except LookupError as exc:
                raise CommandError(str(exc))
            except PermissionError as exc:
                raise CommandError(f"Four eyes: {exc}")
            rows = [{"policy": v.policy_set.name, "version": v.semver, "status": v.status, "id": str(v.id)}
                    for v in versions]
        self.emit(options, rows, lambda rs: "\n".join(f"{r['policy']} {r['version']}: {r['status']}" for r in rs))

    def do_simulate(self, options):
        from decisions.packs import load_pack
        from decisions.simulation import render_html, simulate

        try:
            pack = load_pack(options["pack"], options.get("version"))
        except LookupError as exc:
            raise CommandError(str(exc))
        pack_source = next(iter(pack.rules.values()))
        source = Path(options["policy"]).read_text(encoding="utf-8") if options.get("policy") else pack_source
        champion = (Path(options["champion"]).read_text(encoding="utf-8") if options.get("champion")
                    else pack_source if options.get("policy") else None)
        generator = pack.dataset_module()
        rows = [{"lead_id": r["lead_id"], **generator.as_input(r)} for r in generator.generate(options["rows"])]
        report = simulate(source=source, rows=rows, champion_source=champion)
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        (out / "simulation.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        (out / "simulation.html").write_text(render_html(report), encoding="utf-8")
        summary = {"json": str(out / "simulation.json"), "html": str(out / "simulation.html"),
                   "outcomes": report["outcomes"], "flips": report["flips"]["total"]}
        self.emit(options, summary, lambda d: f"{d['outcomes']} · {d['flips']} flips → {d['json']}, {d['html']}")

    def do_lint(self, options):
        result = parse_policy(Path(options["path"]).read_text(encoding="utf-8"))
        out = {"ok": result.ok, "issues": [i.as_dict() for i in result.issues]}
        self.emit(options, out, lambda d: "ok" if d["ok"] else "\n".join(
            f"{options['path']}:{i['line']}:{i['column']}: {i.get('rule_id', '')} {i['message']}" for i in d["issues"]))
        if not result.ok:
            raise SystemExit(1)

    def do_eval(self, options):
        raw = options["input"]
        data = json.loads(Path(raw[1:]).read_text() if raw.startswith("@") else raw)
        policy = compile_policy(Path(options["path"]).read_text(encoding="utf-8"))
        evaluation = policy.evaluate(policy.validate(data))
        out = {"outcome": evaluation.outcome, "reason_codes": evaluation.reason_codes,
               "rule_path": [s.as_dict() for s in evaluation.rule_path]}
        self.emit(options, out, lambda d: f"{d['outcome']}: {', '.join(r['code'] for r in d['reason_codes']) or '-'}")
