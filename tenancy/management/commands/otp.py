"""``manage.py otp``: an administrator's TOTP reset, and re-sending a first-enrolment token.

Run by the operator at the shell (named ``system:dosctl`` on the audit chain, as dosctl does);
see docs/runbooks/totp-enrolment.md for when to use which.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dos.canonical import sha256_hex
from tenancy import otp
from tenancy.audit_auth import audit_auth_event


class Command(BaseCommand):
    help = "Reset a person's two-step verification, or e-mail them a new enrolment token."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True, metavar="{reset,send-token,unlink-sso}")
        reset = sub.add_parser("reset", help="remove their authenticators and backup codes; e-mail a set-up code")
        reset.add_argument("--email", required=True)
        reset.add_argument("--reason", required=True, help="why (ticket number): recorded on the audit chain")
        send = sub.add_parser("send-token", help="e-mail a new set-up code to someone who has not enrolled yet")
        send.add_argument("--email", required=True)
        unlink = sub.add_parser("unlink-sso", help="forget the IdP subject the account is linked to (its next SSO "
                                                   "sign-in links the new one)")
        unlink.add_argument("--email", required=True)
        unlink.add_argument("--reason", required=True, help="why (ticket number): recorded on the audit chain")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(email__iexact=options["email"].strip()).first()
        if user is None:
            raise CommandError(f"No account with e-mail {options['email']}.")
        if options["verb"] == "reset":
            otp.totp_reset(user=user, actor=f"system:dosctl ({options['reason'][:100]})")
            self.stdout.write(f"Two-step verification of {user.email} was reset; a set-up code was e-mailed.")
            return
        if options["verb"] == "unlink-sso":
            previous = user.oidc_subject
            user.oidc_subject = ""
            user.save(update_fields=["oidc_subject"])
            audit_auth_event(user=user, action="auth.oidc_unlinked", data={
                "by": f"system:dosctl ({options['reason'][:100]})",
                "previous_sub_sha256": sha256_hex(previous)[:16]})
            self.stdout.write(f"{user.email} is no longer linked to an SSO subject.")
            return
        if otp.confirmed_totp(user) is not None:
            raise CommandError(f"{user.email} has an authenticator already; use 'otp reset' to start over.")
        otp.enrolment_token_issue(user=user, issued_by="system:dosctl")
        self.stdout.write(f"A set-up code was e-mailed to {user.email}.")
