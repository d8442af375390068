"""Error handling against scripted server faults (the fake upstream's `POST /_fake/script`)."""

import json
import os
import urllib.error
import urllib.request

import pytest

from legacy_app import settings
from legacy_app.retry import TicketServiceError
from legacy_app.summarize import summarize_ticket


def _script(**fault):
    root = os.environ["OPENAI_API_BASE"].rstrip("/").removesuffix("/v1")
    headers = {"Content-Type": "application/json"}
    if os.environ.get("OFFRAMP_ADMIN_TOKEN"):  # `migrate fake-upstream` guards /_fake/* with it
        headers["Authorization"] = f"Bearer {os.environ['OFFRAMP_ADMIN_TOKEN']}"
    request = urllib.request.Request(f"{root}/_fake/script", data=json.dumps(fault).encode(), headers=headers)
    try:
        urllib.request.urlopen(request, timeout=5).close()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            pytest.skip("this server cannot script faults (it is not Offramp's fake upstream)")
        if exc.code == 401:
            pytest.fail("the fake upstream wants its admin token: export OFFRAMP_ADMIN_TOKEN (the one it printed, "
                        "or set it before starting `migrate fake-upstream`)", pytrace=False)
        raise


@pytest.fixture(autouse=True)
def configured(monkeypatch):
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    monkeypatch.setenv("TICKETS_RETRY_BASE_DELAY", "0.01")
    settings.configure()


def test_rate_limits_are_retried_until_the_call_succeeds():
    _script(status=429, times=2, path="/chat/completions")
    assert "printer is on fire" in summarize_ticket("The printer is on fire.")


def test_rate_limits_that_never_end_give_up_with_a_clear_error():
    _script(status=429, times=3, path="/chat/completions")
    with pytest.raises(TicketServiceError, match="gave up after 3 attempts"):
        summarize_ticket("Still broken.")


def test_a_rejected_request_is_not_retried():
    _script(status=400, message="bad ticket", times=2, path="/chat/completions")
    with pytest.raises(TicketServiceError, match="request rejected"):
        summarize_ticket("Bad request.")
    # Only one of the two scripted faults was used: the next call still gets the second one.
    with pytest.raises(TicketServiceError, match="request rejected"):
        summarize_ticket("Bad request.")
    assert summarize_ticket("Fine now.") == summarize_ticket("Fine now.")
