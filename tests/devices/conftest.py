"""The API's fixtures (tokens, a toy server's client, the LLM stand-in) for the agent pages."""

from tests.memories.conftest_api import fake_llm, fleet, llm, toy  # noqa: F401
