"""The customer explanation PDF and the evidence bundle."""

import hashlib
import io
import json
import subprocess
import zipfile

import pytest

from tests.conftest import api_client
from tests.decisions.test_decide_api import decide
from tests.factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def decided(acme, lending):
    api = api_client(make_key(acme, scopes=["decisions.run", "decisions.read"]))
    return api, decide(api, subject="홍길동 010-1234-5678", dsr=48.5, documents_missing=["id_copy"]).json()["decision_id"]


def test_the_explanation_pdf_is_korean_and_english_with_fonts_embedded(decided, tmp_path):
    api, decision_id = decided
    response = api.get(f"/api/v1/decisions/{decision_id}/explain", {"format": "pdf"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = tmp_path / "explain.pdf"
    pdf.write_bytes(response.content)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "심사 결과 안내" in text and "총부채원리금상환비율" in text and "DSR_HIGH" in text
    assert "Decision explanation" in text and "deny" in text
    assert "010-1234-5678" not in text and "홍길동" not in text  # the subject never appears
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "Nanum" in fonts  # the Korean font is embedded, so the glyphs render on any reader


def test_the_evidence_bundle_can_be_checked_by_anyone(decided):
    api, decision_id = decided
    response = api.get(f"/api/v1/decisions/{decision_id}/evidence")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    assert set(bundle.namelist()) == {"record.json", "policy.yaml", "explanation.json", "chain_proof.json", "README.txt"}
    record = json.loads(bundle.read("record.json"))
    assert hashlib.sha256(bundle.read("policy.yaml")).hexdigest() == record["policy"]["sha256"]
    proof = json.loads(bundle.read("chain_proof.json"))
    assert proof["link_ok"] is True and proof["entry"]["data"]["decision_id"] == decision_id
    assert hashlib.sha256((proof["prev_hash"] + proof["content_hash"]).encode()).hexdigest() == proof["hash"]
    assert "010-1234-5678" not in bundle.read("record.json").decode()


def test_an_outsider_gets_no_pdf_and_no_evidence(decided, outsider):
    _api, decision_id = decided
    spy = api_client(make_key(outsider, scopes=["decisions.read"]))
    assert spy.get(f"/api/v1/decisions/{decision_id}/explain", {"format": "pdf"}).status_code == 404
    assert spy.get(f"/api/v1/decisions/{decision_id}/evidence").status_code == 404
