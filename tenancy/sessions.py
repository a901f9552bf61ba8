"""Concurrent browser sessions: at most SESSION_LIMIT per person (oldest signed out first), a list
of one's own sessions, and revoke."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.backends.base import SessionBase
from django.dispatch import receiver
from django.utils.module_loading import import_string

from tenancy.models import UserSession


def _store(session_key: str) -> SessionBase:
    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)


def session_end(record: UserSession) -> None:
    _store(record.session_key).delete()
    record.delete()


@receiver(user_logged_in)
def _on_login(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    if not request.session.session_key:
        request.session.save()
    UserSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={"user": user, "ip": request.META.get("REMOTE_ADDR") or "",
                  "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300]},
    )
    extra = UserSession.objects.filter(user=user).order_by("-created_at")[settings.SESSION_LIMIT:]
    for record in list(extra):
        session_end(record)


@receiver(user_logged_out)
def _on_logout(sender, request, user, **kwargs):
    if request is not None and getattr(request, "session", None) is not None and request.session.session_key:
        UserSession.objects.filter(session_key=request.session.session_key).delete()
