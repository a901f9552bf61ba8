"""dosctl vault: the KEK keystore (status, create, add-key, promote, remove) and KEK rotations (ls, run).

Key material is never printed: only versions, the active one, the file's path and mode.
Requesting and approving a rotation are people's steps (the back office, four eyes); ``rotation run``
resumes an approved rotation's re-wrapping in the foreground after an interruption.
"""

from __future__ import annotations

import os
import stat

from django.core.management.base import CommandError

from dos.management.base import DosCommand, add_json_flag


class Command(DosCommand):
    help = "Vault keys: the KEK keystore and KEK rotations (key material is never printed)."

    def add_arguments(self, parser):
        groups = parser.add_subparsers(dest="area", required=True, metavar="{keystore,rotation}")
        keystore = groups.add_parser("keystore", help="the KEK keystore file (DOS_VAULT_KEYSTORE)")
        verbs = keystore.add_subparsers(dest="verb", required=True, metavar="{status,create,add-key,promote,remove}")
        for name, text in (("status", "path, mode, versions and the active one"),
                           ("create", "a new 0400 keystore: version 1 active, version 2 on standby"),
                           ("add-key", "append a fresh key on standby as the next version")):
            add_json_flag(verbs.add_parser(name, help=text))
        for name, text in (("promote", "make VERSION the active one (new data keys are wrapped with it)"),
                           ("remove", "drop a retired VERSION once no data key uses it any more")):
            p = verbs.add_parser(name, help=text)
            p.add_argument("version", type=int)
            add_json_flag(p)
        rotation = groups.add_parser("rotation", help="KEK rotations of an org")
        verbs = rotation.add_subparsers(dest="verb", required=True, metavar="{ls,run}")
        for name, text in (("ls", "rotations with status and progress"),
                           ("run", "resume the org's running rotation in the foreground")):
            p = verbs.add_parser(name, help=text)
            p.add_argument("--org", required=True)
            add_json_flag(p)

    def handle(self, *args, **options):
        return getattr(self, f"do_{options['area']}_{options['verb'].replace('-', '_')}")(options)

    # -- keystore ---------------------------------------------------------------------------------
    def _path(self):
        from privacy.vault.keystore import keystore_path

        path = keystore_path()
        if path is None:
            raise CommandError("No keystore is configured: set DOS_VAULT_KEYSTORE.")
        return path

    def do_keystore_status(self, options):
        from privacy.vault.keystore import KeystoreError, read_keystore

        path = self._path()
        report = {"path": str(path), "exists": path.exists()}
        if path.exists():
            report["mode"] = f"{stat.S_IMODE(os.stat(path).st_mode):04o}"
            try:
                keys, active = read_keystore(path)
                report |= {"ok": True, "versions": sorted(keys), "active": active,
                           "standby": [v for v in sorted(keys) if v > active]}
            except KeystoreError as exc:
                report |= {"ok": False, "problem": str(exc)}
        self.emit(options, report, lambda r: (
            f"{r['path']}: " + ("missing" if not r["exists"] else
                                f"mode {r['mode']}, versions {r.get('versions')}, active {r.get('active')}"
                                if r.get("ok") else f"mode {r['mode']} — {r['problem']}")))
        if not report.get("ok"):
            raise SystemExit(1)

    def do_keystore_create(self, options):
        from privacy.vault.keystore import create_keystore

        path = self._path()
        if path.exists():
            raise CommandError(f"{path} exists already; it is never overwritten.")
        create_keystore(path)
        self.emit(options, {"path": str(path), "versions": [1, 2], "active": 1},
                  f"Created {path} (mode 0400): version 1 active, version 2 on standby.")

    def do_keystore_add_key(self, options):
        from privacy.vault.keystore import add_key_version

        version = add_key_version(self._path())
        self.emit(options, {"added": version}, f"Added version {version} on standby. Rotate each org onto it "
                                               "(back office: Vault → KEK rotations), then promote it.")

    def do_keystore_promote(self, options):
        from privacy.vault.keystore import promote_key_version

        promote_key_version(self._path(), options["version"])
        self.emit(options, {"active": options["version"]}, f"Version {options['version']} is active.")

    def do_keystore_remove(self, options):
        from dos import scope
        from privacy.models import SubjectKey
        from privacy.vault.keystore import remove_key_version

        version = options["version"]
        with scope.platform_scope(reason=f"dosctl vault keystore remove {version}"):
            in_use = SubjectKey.objects.filter(kek_version=version, erased_at__isnull=True).count()
        if in_use:
            raise CommandError(f"{in_use} data key(s) are still wrapped by version {version}: complete the "
                               "rotations of their orgs first.")
        remove_key_version(self._path(), version)
        self.emit(options, {"removed": version}, f"Removed version {version}; what it wrapped is unreadable for good.")

    # -- rotations --------------------------------------------------------------------------------
    def do_rotation_ls(self, options):
        from privacy.models import KekRotation

        with self.org_scope(options) as org:
            rows = [{"id": str(r.id), "from": r.from_version, "to": r.to_version, "status": r.status,
                     "done": r.done, "total": r.total, "requested_by": r.requested_by,
                     "completed_at": r.completed_at} for r in KekRotation.objects.order_by("-created_at")]
        self.emit(options, rows, lambda rs: "\n".join(
            f"{r['id']}  v{r['from']} → v{r['to']}  {r['status']:<9}  {r['done']}/{r['total']}" for r in rs)
            or f"No KEK rotations in {org.slug}.")

    def do_rotation_run(self, options):
        from privacy.models import KekRotation, RotationStatus
        from privacy.vault.rotation import rotation_run

        with self.org_scope(options) as org:
            rotation = KekRotation.objects.filter(status=RotationStatus.RUNNING).first()
        if rotation is None:
            raise CommandError(f"No running rotation in {org.slug} (request and approve one in the back office).")
        rotation = rotation_run(org_id=org.id, rotation_id=rotation.id)
        self.emit(options, {"id": str(rotation.id), "status": rotation.status, "done": rotation.done,
                            "total": rotation.total},
                  f"Rotation {rotation.id}: {rotation.status}, {rotation.done}/{rotation.total} re-wrapped.")
        if rotation.status != RotationStatus.COMPLETED:
            raise SystemExit(1)
