"""Settings of rendering (``render``): the converter jail and the per-submission budgets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from faxout.render.options import RenderOptions
    from faxout.render.pool import WorkerLimits


class Render(BaseModel):
    """Rendering: the converter jail and the budgets no sender can exceed (docs/security.md)."""

    sandbox: bool = Field(
        True,
        description="jail every converter with bubblewrap (false: unconfined, not recommended)",
    )
    document_seconds: float = Field(120.0, gt=0, description="one document's time limit")
    submission_seconds: float = Field(
        300.0, gt=0, description="all documents of one submission together"
    )
    max_pages: int = Field(500, ge=1, description="pages of one submission, all documents")
    worker_memory_mb: int = Field(2048, ge=256, description="address space of a render worker")
    converter_memory_mb: int = Field(
        2048, ge=256, description="address space of each Ghostscript or LibreOffice process"
    )
    max_file_mb: int = Field(1024, ge=16, description="the largest file a converter may write")
    warm_up: bool = Field(
        True,
        description="each render worker warms its cover renderer and starts its LibreOffice "
        "with the server, so the first fax does not wait for them (false: on first use)",
    )

    def warm_up_steps(self) -> tuple[str, ...]:
        """What each render worker of the pipeline warms as it starts (faxout.render.worker)."""
        return ("cover", "office") if self.warm_up else ()

    def options(self) -> RenderOptions:
        """The render options these settings give (per-submission values are set later)."""
        from faxout.render.options import RenderOptions  # the renderer loads only when used

        return RenderOptions(
            timeout_s=self.document_seconds,
            submission_timeout_s=self.submission_seconds,
            max_pages=self.max_pages,
        )

    def worker_limits(self) -> WorkerLimits:
        """The jailed render workers' limits."""
        from faxout.render.pool import WorkerLimits

        return WorkerLimits(
            memory_mb=self.worker_memory_mb,
            converter_memory_mb=self.converter_memory_mb,
            file_mb=self.max_file_mb,
        )
