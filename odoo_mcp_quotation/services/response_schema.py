"""What the API answers: the OpenAPI document and MCP output schemas use these."""

from typing import Literal

from pydantic import BaseModel, Field

TaskState = Literal["pending", "processing", "done", "failed", "cancelled"]


class QuotationQueued(BaseModel):
    """The answer to a new request: the task exists and will be processed."""

    tracking_id: str = Field(description="Keep it to ask for the status.")
    status: TaskState
    status_url: str = Field(description="GET it with the same API key.")
    message: str = Field(description="A sentence the agent can read aloud.")


class QuotationStatus(BaseModel):
    """Where a request stands; the quotation's details once it exists."""

    tracking_id: str
    status: TaskState
    message: str = Field(description="A sentence the agent can read aloud.")
    attempts: int
    created_at: str = Field(description="ISO 8601, UTC.")
    order_reference: str | None = Field(default=None, examples=["S00042"])
    total: float | None = None
    currency: str | None = Field(default=None, examples=["EUR"])
    portal_url: str | None = Field(
        default=None, description="The quotation as the customer sees it online."
    )
    error: str | None = Field(default=None, description="Why it failed.")


class Problem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str = Field(examples=["invalid_request"])
    message: str
    details: list[Problem] = []


class ErrorResponse(BaseModel):
    error: ErrorBody
    message: str = Field(
        description="The same sentence, for agents that read it aloud."
    )


class QueueHealth(BaseModel):
    pending: int
    processing: int
    failed_last_hour: int
    oldest_pending_age_s: float | None


class Health(BaseModel):
    ok: bool
    database: str | None
    version: str
    queue: QueueHealth | None = None
