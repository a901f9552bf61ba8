"""The API speaks English unless asked for Korean; codes and field names never change."""

import re

import pytest

pytestmark = pytest.mark.django_db

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def test_it_answers_in_english_by_default(acme_api):
    response = acme_api.post("/api/v1/projects", {}, format="json")
    assert response.status_code == 400
    assert response["Content-Language"] == "en"
    body = response.json()
    assert body["title"] == "Bad Request"
    assert body["detail"] == "The request has invalid fields; see errors."
    assert body["errors"]["name"] == ["This field is required."]


def test_it_answers_in_korean_when_asked(acme_api):
    english = acme_api.post("/api/v1/projects", {}, format="json").json()
    response = acme_api.post("/api/v1/projects", {}, format="json", HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9,en;q=0.5")
    assert response.status_code == 400
    assert response["Content-Language"] == "ko"
    korean = response.json()
    assert HANGUL.search(korean["title"]) and HANGUL.search(korean["detail"])
    assert HANGUL.search(korean["errors"]["name"][0])
    assert korean["code"] == english["code"] == "validation_error"
    assert korean["type"] == english["type"]
    assert set(korean["errors"]) == set(english["errors"])


def test_it_translates_drf_refusals_too(acme_api):
    url = "/api/v1/projects/00000000-0000-4000-8000-000000000000"
    english = acme_api.get(url)
    korean = acme_api.get(url, HTTP_ACCEPT_LANGUAGE="ko")
    assert english.status_code == korean.status_code == 404
    assert not HANGUL.search(english.json()["detail"])
    assert HANGUL.search(korean.json()["detail"]) and HANGUL.search(korean.json()["title"])
    assert english.json()["code"] == korean.json()["code"] == "not_found"


def test_it_prefers_the_first_language_it_speaks(client):
    assert client.get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="fr, ko;q=0.8")["Content-Language"] == "ko"
    assert client.get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="fr")["Content-Language"] == "en"
    assert client.get("/api/v1/me")["Content-Language"] == "en"
