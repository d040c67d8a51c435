"""``[inbound]``: receiving faxes (docs/configuration.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from faxout.inbound.inboxes import InboxError, checked_addresses


class Inbound(BaseModel):
    """Where received faxes go when no rule says, and how long they are kept."""

    default_inbox: str = Field(
        "inbox",
        min_length=1,
        max_length=100,
        description="the shared inbox a fax goes to when no routing rule matches (made on use)",
    )
    default_email: str = Field(
        "", description="addresses the default inbox mails its faxes to, comma-separated"
    )
    console_url: str = Field(
        "",
        max_length=300,
        pattern=r"^(https?://[^\s]+)?$",
        description="the console's address in the links of privacy-mode mails "
        "(https://fax.example.com); empty: http://HOST:PORT of this server",
    )
    retention_days: int = Field(
        30,
        ge=0,
        le=36500,
        description="days received faxes and sent documents are kept after they are final "
        "(per account: faxout user set --retention-days); 0: kept until deleted",
    )
    stale_after_hours: float = Field(
        2.0,
        gt=0,
        le=48,
        description="a reception still 'receiving' this long after its last page is finished "
        "as partial (its receiver died)",
    )

    @field_validator("default_email")
    @classmethod
    def _addresses(cls, value: str) -> str:
        # a typo here would only show when the first fax arrives: stop at start instead
        try:
            checked_addresses(value)
        except InboxError as exc:
            raise ValueError(str(exc)) from exc
        return value
