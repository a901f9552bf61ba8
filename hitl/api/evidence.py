"""Evidence on a case through the tenant API: notes, attachments (upload and download), and the
appeal of a decided case. Mixed into ``CaseViewSet`` so that the case is looked up once, in scope."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from dos.api.errors import Problem
from hitl.api import serializers as s
from hitl.appeals import appeal_submit
from hitl.attachments import attachment_from_upload
from hitl.downloads import attachment_response
from hitl.models import Attachment
from hitl.notes import note_add


class CaseEvidenceMixin:
    permission_map = {"notes": "hitl.review", "attachments": "hitl.review", "attachment": "hitl.review",
                      "appeal": "decisions.run"}

    @extend_schema(methods=["GET"], responses={200: s.NoteOut(many=True)}, summary="A case's notes")
    @extend_schema(methods=["POST"], request=s.NoteIn, responses={201: s.NoteOut},
                   summary="Add a Markdown note (personal data is redacted; the original is sealed)")
    @action(detail=True, methods=["get", "post"])
    def notes(self, request, pk=None):
        case = self.get_object()
        if request.method == "GET":
            return Response(s.NoteOut(case.notes.all(), many=True).data)
        body = s.NoteIn(data=request.data)
        body.is_valid(raise_exception=True)
        note = note_add(case=case, actor=request.auth, body_md=body.validated_data["body_md"],
                        redact_terms=body.validated_data["redact_terms"])
        return Response(s.NoteOut(note).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses={200: s.AttachmentOut(many=True)}, summary="A case's attachments")
    @extend_schema(methods=["POST"], request={"multipart/form-data": s.AttachmentIn},
                   responses={201: s.AttachmentOut, 413: OpenApiResponse(description="too large"),
                              415: OpenApiResponse(description="type not allowed or not what it claims")},
                   summary="Upload a file (type sniffed from the content; scanned before it is ever served)")
    @action(detail=True, methods=["get", "post"], parser_classes=[MultiPartParser])
    def attachments(self, request, pk=None):
        case = self.get_object()
        if request.method == "GET":
            return Response(s.AttachmentOut(case.attachments.defer("content"), many=True).data)
        body = s.AttachmentIn(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        attachment = attachment_from_upload(case=case, upload=upload, actor=request.auth)
        return Response(s.AttachmentOut(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY,
                              409: OpenApiResponse(description="flagged by the scan, or not scanned yet")},
                   summary="Download an attachment (only files the scan passed)")
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>[0-9a-f-]{36})")
    def attachment(self, request, pk=None, attachment_id=None):
        case = self.get_object()
        found = Attachment.objects.filter(case=case, pk=attachment_id).first()
        if found is None:
            raise Problem(404, "not_found", "No such attachment on this case.")
        return attachment_response(found)  # AttachmentUnavailable → 409 attachment_<scan state>

    @extend_schema(request=s.AppealIn, responses={201: s.AppealOut},
                   summary="Appeal a decided case (level 1, then at most level 2)")
    @action(detail=True, methods=["post"])
    def appeal(self, request, pk=None):
        case = self.get_object()
        body = s.AppealIn(data=request.data)
        body.is_valid(raise_exception=True)
        appeal = appeal_submit(case=case, reason=body.validated_data["reason"], actor=request.auth)
        return Response(s.AppealOut(appeal).data, status=status.HTTP_201_CREATED)
