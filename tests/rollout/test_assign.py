"""Sticky assignment: the same conversation always lands on the same side; raising the share only adds."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from offramp.shadow.ramp.assign import Assigner
from offramp.shadow.ramp.plan import AssignConfig, RampPlan


def conv(first_user: str, *later: str) -> dict:
    msgs = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": first_user}]
    for text in later:
        msgs += [{"role": "assistant", "content": "ok"}, {"role": "user", "content": text}]
    return {"model": "gpt-4o", "messages": msgs}


def test_a_growing_conversation_keeps_its_model():
    a = Assigner()
    sides = {a.assign(conv("plan my trip", *["more"] * k), {}, 50).candidate for k in range(6)}
    assert len(sides) == 1


def test_share_is_monotone_nobody_flips_back():
    a = Assigner()
    users = [{"user": f"u{i}", "messages": []} for i in range(2000)]
    at5 = {i for i, b in enumerate(users) if a.assign(b, {}, 5).candidate}
    at25 = {i for i, b in enumerate(users) if a.assign(b, {}, 25).candidate}
    assert at5 <= at25
    assert 60 <= len(at5) <= 140 and 420 <= len(at25) <= 580


def test_key_order_user_then_header_then_messages():
    a = Assigner(AssignConfig(keys=["user", "header:X-Session-Id", "messages"]))
    assert a.key({"user": "alice"}, {"x-session-id": "s1"}) == ("user", "alice")
    assert a.key({}, {"X-Session-Id": "s1"}) == ("header:x-session-id", "s1")
    assert a.key(conv("hi"), {})[0] == "messages"
    assert a.key({}, {}) is None


def test_no_key_stays_on_the_primary_below_100():
    a = Assigner(AssignConfig(keys=["user"]))
    assert not a.assign({}, {}, 99).candidate
    assert a.assign({}, {}, 100).candidate


def test_shadow_sample_only_among_candidate_served():
    a = Assigner()
    res = [a.assign({"user": f"u{i}"}, {}, 50, shadow_share=0.5, request_id=str(i)) for i in range(1000)]
    assert not any(r.shadow_primary and not r.candidate for r in res)
    shadowed = sum(r.shadow_primary for r in res)
    assert 150 <= shadowed <= 350


def test_salt_changes_who_goes_first():
    b = {"user": "alice"}
    buckets = {Assigner(AssignConfig(salt=s)).assign(b, {}, 0).bucket for s in ("a", "b", "c")}
    assert len(buckets) == 3


def test_unknown_key_kind_is_rejected():
    with pytest.raises(ValidationError, match="unknown assignment key"):
        AssignConfig(keys=["cookie"])


def test_plan_validation():
    with pytest.raises(ValidationError, match="must start at 0"):
        RampPlan(steps=[1, 5])
    with pytest.raises(ValidationError, match="not one of the steps"):
        RampPlan(step_samples={"7": 10})
    p = RampPlan(step_seconds={"25": 900})
    assert p.seconds_for(25) == 900 and p.seconds_for(5) == 300
    assert p.index_of(10) == 2 and p.needs_approval(100) and not p.needs_approval(50)
