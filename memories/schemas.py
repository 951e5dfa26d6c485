"""What the toy servers send and receive (``memories.api``). Every field is explicit."""

from datetime import datetime
from typing import Annotated, Literal

from ninja import Field, Path, Schema
from pydantic import WithJsonSchema

# The MAC spellings the API takes, exactly (memories.api.device_for_token checks this).
MAC_PATTERN = (r"^(?:[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}"
               r"|[0-9A-Fa-f]{12})$")
MAC_HELP = ("Enter a MAC address like aa:bb:cc:dd:ee:ff (12 hexadecimal digits, "
            "optionally separated by ':' or '-').")
MacPath = Annotated[str, WithJsonSchema({"type": "string", "pattern": MAC_PATTERN,
                                         "examples": ["aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", "aabbccddeeff"]}),
                    Path(description="The toy's MAC address: aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF or aabbccddeeff.")]

MAX_MESSAGES = 200
MAX_CONTENT = 8000
MAX_KEY = 128


class ErrorOut(Schema):
    detail: str
    code: str
    field: str | None = None


class ChildOut(Schema):
    id: int
    name: str
    age: int
    age_group: str
    gender: str
    interests: list[str]
    toy_note: str
    profile_text: str


class MemorySettingsOut(Schema):
    enabled: bool = Field(description="Memory is served and learned for this device right now.")
    agent_enabled: bool = Field(description="The agent has memory switched on.")
    paused: bool = Field(description="A parent paused memory for the child.")
    user_id: str = Field(description="The Mem0 user_id of the child this toy is linked to (an opaque id, never the MAC).")
    reason: str = Field("", description="Why memory is off (\"\" when on): memory_off, paused, no_consent "
                                         "(no parental consent under the current notice), no_platform_consent.")
    learning: bool = Field(True, description="Conversations sent now are learned from.")
    learning_reason: str = Field("", description="Why not (\"\" when on): as reason, or no_llm_consent "
                                                  "(no consent to send conversations to the LLM provider).")


class AgentOut(Schema):
    id: int
    name: str


class ConfigOut(Schema):
    mac: str
    device_name: str
    agent: AgentOut | None
    system_prompt: str
    mem0_user_id: str
    memory: MemorySettingsOut
    child: ChildOut


class ContextQuery(Schema):
    query: str = Field("", max_length=1000)
    limit: int = Field(10, ge=1, le=50)


class MemoryItemOut(Schema):
    id: str
    text: str
    created_at: datetime | None
    category: str | None
    score: float | None


class ContextOut(Schema):
    enabled: bool
    reason: str = Field(description="Why nothing is served: memory_off, paused, no_consent, "
                                    "no_platform_consent, or empty.")
    items: list[MemoryItemOut]
    block: str = Field(description='Lines "- [YYYY-MM-DD HH:MM] text", newest first, ready for a prompt.')


class MessageIn(Schema):
    role: Literal["user", "assistant", "system"]
    content: str = Field(..., max_length=MAX_CONTENT)


class ConversationIn(Schema):
    messages: list[MessageIn] = Field(..., min_length=1, max_length=MAX_MESSAGES)
    idempotency_key: str | None = Field(None, min_length=1, max_length=MAX_KEY)


class ConversationOut(Schema):
    id: int
    state: str
    drop_reason: str = ""


class PairingCodeIn(Schema):
    agent_id: int | None = Field(None, description="The agent the toy will run once paired (optional).")


class PairingCodeOut(Schema):
    code: str = Field(description="Six digits for the toy to say or show; the parent types them in the portal.")
    expires_at: datetime
    expires_in: int = Field(description="Seconds until the code stops working.")
