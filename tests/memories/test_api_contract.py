"""The toy API's OpenAPI document says what the API does: the MAC pattern, the Bearer
scheme (and the X-Device-Token header), 405 and 409 in the API's error shape."""

import json
import re

import pytest

from memories.models import Conversation
from tests.conftest import unique_mac
from tests.memories import conftest_api
from tests.memories.conftest_api import api_url, toy_client

fleet, toy = conftest_api.fleet, conftest_api.toy

pytestmark = pytest.mark.django_db
TOY_PATHS = ["/api/v1/devices/{mac}/config", "/api/v1/devices/{mac}/memory-context",
             "/api/v1/devices/{mac}/conversations"]
SESSION = [{"role": "user", "content": "I built a volcano"}, {"role": "assistant", "content": "Wow!"}]


@pytest.fixture
def schema(client):
    return client.get("/api/v1/openapi.json").json()


def _operations(schema):
    for path in TOY_PATHS:
        for method, operation in schema["paths"][path].items():
            yield path, method, operation


def test_the_mac_parameter_has_the_pattern_the_api_enforces(family, toy, schema):
    patterns = set()
    for _path, _method, operation in _operations(schema):
        [mac] = [p for p in operation["parameters"] if p["in"] == "path"]
        assert mac["name"] == "mac" and mac["required"]
        patterns.add(mac["schema"].get("pattern"))
    assert len(patterns) == 1 and None not in patterns
    pattern = patterns.pop()
    mac = family.device_a.mac
    hexes = mac.replace(":", "")
    samples = [mac, mac.upper(), mac.replace(":", "-"), hexes, hexes.upper(), unique_mac(),
               "not-a-mac", "zz:zz", hexes[:-1], hexes + "0", mac + ":00", mac.replace(":", "."),
               mac[:8] + "-" + mac[9:], " " + mac, "gg" + hexes[2:]]
    for sample in samples:
        status = toy.get(api_url(sample, "config")).status_code
        assert status in (200, 404, 422), (sample, status)
        assert (status != 422) == bool(re.fullmatch(pattern, sample)), (sample, status)


def test_the_security_scheme_is_http_bearer_and_the_header_is_the_alternative(family, fleet, schema):
    schemes = schema["components"]["securitySchemes"]
    bearer = [name for name, s in schemes.items() if s == {"type": "http", "scheme": "bearer"}]
    header = [name for name, s in schemes.items()
              if s == {"type": "apiKey", "in": "header", "name": "X-Device-Token"}]
    assert len(bearer) == 1 and len(header) == 1
    for _path, _method, operation in _operations(schema):
        assert operation["security"] == [{bearer[0]: []}, {header[0]: []}]
    for client in (toy_client(fleet[1]), toy_client(fleet[1], header="x-device-token")):
        assert client.get(api_url(family.device_a.mac, "config")).status_code == 200
    wrong_scheme = toy_client(None)
    response = wrong_scheme.get(api_url(family.device_a.mac, "config"), HTTP_AUTHORIZATION=f"Token {fleet[1]}")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("method, what, allowed", [
    ("post", "config", "GET"), ("delete", "memory-context", "GET"), ("get", "conversations", "POST"),
])
def test_a_wrong_method_is_405_in_the_apis_error_shape(family, toy, method, what, allowed):
    response = getattr(toy, method)(api_url(family.device_a.mac, what))
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail", "code", "field"}
    assert body["code"] == "method_not_allowed" and body["field"] is None and allowed in body["detail"]
    assert response["Allow"] == allowed


def test_the_document_lists_405_and_409(schema):
    for _path, _method, operation in _operations(schema):
        assert "405" in operation["responses"]
    assert "409" in schema["paths"]["/api/v1/devices/{mac}/conversations"]["post"]["responses"]


def _post(client, mac, body, **headers):
    return client.post(api_url(mac, "conversations"), json.dumps(body), content_type="application/json",
                       headers=headers)


def test_a_reused_idempotency_key_with_another_body_is_409(family, toy):
    mac = family.device_a.mac
    first = _post(toy, mac, {"messages": SESSION, "idempotency_key": "session-9"})
    assert first.status_code == 202
    other = [{"role": "user", "content": "I have a new puppy"}]
    for conflicting in (_post(toy, mac, {"messages": other, "idempotency_key": "session-9"}),
                        _post(toy, mac, {"messages": other}, **{"Idempotency-Key": "session-9"})):
        assert conflicting.status_code == 409, conflicting.content
        assert conflicting.json() == {"detail": conflicting.json()["detail"], "code": "idempotency_conflict",
                                      "field": "idempotency_key"}
    # The same body again (in the body or the header) is still the first conversation.
    again = _post(toy, mac, {"messages": SESSION}, **{"Idempotency-Key": "session-9"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Conversation.objects.filter(idempotency_key="session-9").count() == 1
    assert _post(toy, family.device_b.mac, {"messages": other, "idempotency_key": "session-9"}).status_code == 202
