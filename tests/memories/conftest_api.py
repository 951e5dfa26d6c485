"""Fixtures for the toy servers' API, the agent pages and the playground (imported by the
test modules that use them): tokens made through the service, a client that sends one,
and the LLM stand-in wired into the Mem0 gateway of this process."""

import pytest
from django.test import Client

from devices import tokens
from tests.fakes.llm import FakeLLM


def toy_client(raw: str | None, *, header: str = "bearer") -> Client:
    if raw is None:
        return Client()
    if header == "bearer":
        return Client(headers={"Authorization": f"Bearer {raw}"})
    return Client(headers={"X-Device-Token": raw})


@pytest.fixture
def fleet(family):
    """(token, raw) of a fleet token: every device."""
    return tokens.token_create(actor=family.admin, name="Fleet server", fleet=True)


@pytest.fixture
def toy(fleet):
    """A toy server's client with the fleet token."""
    return toy_client(fleet[1])


@pytest.fixture
def fake_llm():
    llm = FakeLLM().start()
    yield llm
    llm.stop()


@pytest.fixture
def llm(settings, gw, fake_llm):
    """LLM_BASE_URL set to the stand-in, in this process: the gateway's Mem0 was built
    once for the session, so its OpenAI client is pointed at the stand-in for this test."""
    settings.LLM_BASE_URL = fake_llm.base_url
    llm_client = gw.memory.llm
    original = llm_client.client
    llm_client.client = original.with_options(base_url=fake_llm.base_url)
    yield fake_llm
    llm_client.client = original


def api_url(mac: str, what: str) -> str:
    return f"/api/v1/devices/{mac}/{what}"


@pytest.fixture(params=["local", "platform"])
def backend(request, gw):
    """The process's gateway: the local one, or PlatformGateway against the Platform
    stand-in (``backend.stand_in``)."""
    from memories import gateway
    from memories.gateway import PlatformGateway
    from tests.fakes.mem0_platform import FakeMem0Platform

    if request.param == "local":
        yield gw
        return
    fake = FakeMem0Platform().start()
    platform = PlatformGateway(api_key=fake.api_key, host=fake.url)
    platform.stand_in = fake
    gateway.reset_for_tests(platform)
    try:
        yield platform
    finally:
        gateway.reset_for_tests(gw)
        platform.close()
        fake.stop()
