"""The ramp plan: which shares to step through, how long and how much evidence each step needs, and the gates.

Loaded from the `[ramp]` table of the shadow config file (or `[shadow.ramp]`); every key has a default, so an
empty table is the 0 → 1 → 5 → 25 → 50 → 100 plan.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from offramp.shadow.ramp.gates import GateConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class PlanError(ValueError):
    """One line naming the file and the field."""


class AssignConfig(BaseModel):
    """Sticky assignment: the first key found decides; a conversation never switches model half way."""

    model_config = ConfigDict(extra="forbid")
    keys: list[str] = Field(
        default_factory=lambda: ["user", "header:x-session-id", "messages"],
        description="'user' (body field), 'header:NAME', 'metadata:NAME' or 'messages' (opening messages)",
    )
    opening_messages: int = Field(2, ge=1, description="how many leading messages identify a conversation")
    salt: str = "offramp"

    @field_validator("keys")
    @classmethod
    def _keys(cls, v: list[str]) -> list[str]:
        for k in v:
            if k not in ("user", "messages") and not k.startswith(("header:", "metadata:")):
                raise ValueError(f"unknown assignment key {k!r} (user, header:NAME, metadata:NAME, messages)")
        if not v:
            raise ValueError("needs at least one key")
        return [k.lower() if k.startswith("header:") else k for k in v]


class RampPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: list[float] = Field(default_factory=lambda: [0, 1, 5, 25, 50, 100])
    min_step_seconds: float = Field(300.0, ge=0.0, description="minimum time spent on each step")
    min_step_samples: int = Field(200, ge=0, description="candidate comparisons needed on each step")
    step_seconds: dict[str, float] = Field(default_factory=dict, description="per-step override, key = share")
    step_samples: dict[str, int] = Field(default_factory=dict, description="per-step override, key = share")
    evaluate_every_seconds: float = Field(5.0, gt=0.0)
    approval_required_at: float = Field(
        100.0, gt=0.0, le=100.0, description="steps at or above this share need `ramp approve` (100% always does)"
    )
    shadow_candidate_served: float = Field(
        0.2, ge=0.0, le=1.0, description="share of candidate-served requests still shadowed to the primary"
    )
    quality_window: Literal["ramp", "step"] = Field(
        "ramp", description="disagreement evidence since the ramp started (more power) or since the step began"
    )
    hold_record_seconds: float = Field(60.0, ge=0.0, description="how often a repeated hold is recorded")
    gates: GateConfig = Field(default_factory=GateConfig)
    assign: AssignConfig = Field(default_factory=AssignConfig)

    @field_validator("steps")
    @classmethod
    def _steps(cls, v: list[float]) -> list[float]:
        if len(v) < 2:
            raise ValueError("needs at least two steps")
        if v[0] != 0:
            raise ValueError("must start at 0 (shadow only)")
        if any(b <= a for a, b in zip(v, v[1:], strict=False)):
            raise ValueError("must be strictly increasing")
        if v[-1] > 100:
            raise ValueError("shares are percentages, at most 100")
        return [float(x) for x in v]

    @model_validator(mode="after")
    def _overrides(self) -> RampPlan:
        for label, table in (("step_seconds", self.step_seconds), ("step_samples", self.step_samples)):
            for key in table:
                try:
                    share = float(key)
                except ValueError:
                    raise ValueError(f"{label}: key {key!r} is not a share") from None
                if share not in self.steps:
                    raise ValueError(f"{label}: {key} is not one of the steps {self.steps}")
        return self

    def seconds_for(self, share: float) -> float:
        return self._override(self.step_seconds, share, self.min_step_seconds)

    def samples_for(self, share: float) -> int:
        return int(self._override(self.step_samples, share, self.min_step_samples))

    @staticmethod
    def _override(table: dict, share: float, default: float) -> float:
        for k, v in table.items():
            if float(k) == share:
                return v
        return default

    def index_of(self, share: float) -> int:
        """The highest step at or below `share` (a manual `set` may land between steps)."""
        idx = 0
        for i, s in enumerate(self.steps):
            if s <= share:
                idx = i
        return idx

    def needs_approval(self, share: float) -> bool:
        return share >= self.approval_required_at


def load_plan(path: Path | None) -> RampPlan:
    """`[ramp]` (or `[shadow.ramp]`) of a TOML file; no file means the defaults."""
    if path is None:
        return RampPlan()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{path}: invalid TOML: {exc}") from None
    table = data.get("ramp", data.get("shadow", {}).get("ramp", {}))
    try:
        return RampPlan.model_validate(table)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise PlanError(f"{path}: ramp.{loc}: {err['msg']}") from None
