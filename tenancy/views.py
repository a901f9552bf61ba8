"""Account pages: the TOTP step every staff user passes after signing in (SPEC §6)."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods

from tenancy import otp


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or reverse("admin:index")
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else reverse("admin:index")


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


@login_required
@require_http_methods(["GET", "POST"])
def otp_step(request):
    user = request.user
    if user.is_verified():
        return redirect(_next(request))
    device = otp.confirmed_totp(user)
    enrolling = device is None
    if enrolling and not otp.enrolment_unlocked(request):
        return _enrolment_token_step(request)
    if enrolling:
        device = otp.pending_totp(user)
    error = ""
    if request.method == "POST":
        token = request.POST.get("token", "").strip().replace(" ", "")
        verified = otp.verify_and_login(request, token=token, enrolling=enrolling)
        if verified.ok:
            if verified.backup_codes:
                return render(request, "account/backup_codes.html",
                              {"codes": verified.backup_codes, "next": _next(request)})
            return redirect(_next(request))
        error = "That code is not valid. Check your authenticator's clock and try the current code."
    context = {"enrolling": enrolling, "error": error, "next": _next(request)}
    if enrolling:
        context["qr_svg"] = _qr_svg(device.config_url)
        context["secret"] = base64.b32encode(device.bin_key).decode().rstrip("=")
    return render(request, "account/otp.html", context, status=400 if error else 200)


def _masked_address(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}…@{domain}"


def _enrolment_token_step(request):
    """Before a first enrolment: the one-time token e-mailed to the person (tenancy.otp)."""
    user, error, status = request.user, "", 200
    try:
        if request.method == "POST" and request.POST.get("resend"):
            otp.enrolment_token_issue(user=user, request=request)
        elif request.method == "POST":
            if otp.enrolment_token_redeem(request, token=request.POST.get("enrolment_token", "")):
                return redirect(f"{reverse('account-otp')}?{urlencode({'next': _next(request)})}")
            error, status = "That set-up code is not valid (it works once, and expires). Send a new one below.", 400
        elif not otp.enrolment_token_outstanding(user):
            otp.enrolment_token_issue(user=user, request=request)
    except otp.EnrolmentTokenNotSent as exc:
        error, status = str(exc), exc.status
    context = {"enrolling": True, "token_step": True, "error": error, "next": _next(request),
               "sent_to": _masked_address(user.email)}
    return render(request, "account/otp.html", context, status=status)


@require_http_methods(["POST"])
def sign_out(request):
    logout(request)
    return redirect(reverse("admin:login"))


@login_required
@require_http_methods(["GET", "POST"])
def sessions(request):
    """The person's signed-in sessions; revoke any but the current one."""
    from tenancy.models import UserSession
    from tenancy.sessions import session_end

    if not request.user.is_verified():
        return redirect(f"{reverse('account-otp')}?next={reverse('account-sessions')}")
    if request.method == "POST":
        record = UserSession.objects.filter(user=request.user, pk=request.POST.get("session")).first()
        if record and record.session_key != request.session.session_key:
            session_end(record)
        return redirect(reverse("account-sessions"))
    rows = UserSession.objects.filter(user=request.user)
    return render(request, "account/sessions.html",
                  {"sessions": rows, "current": request.session.session_key})
