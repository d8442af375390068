"""Retry wrapper for SDK calls: back off on rate limits and timeouts, never retry a bad request."""

import functools
import logging
import time

import openai

from legacy_app import settings as cfg

log = logging.getLogger(__name__)


class TicketServiceError(Exception):
    """Raised to callers instead of SDK errors, so the web layer needs no openai import."""


def with_retries(attempts=3):
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for attempt in range(1, attempts + 1):
                try:
                    return fn(*args, **kwargs)
                except (openai.error.RateLimitError, openai.error.Timeout) as exc:
                    if attempt == attempts:
                        raise TicketServiceError(f"gave up after {attempts} attempts: {exc}") from exc
                    delay = cfg.settings.retry_base_delay * 2 ** (attempt - 1)
                    log.warning("openai busy (%s), retrying in %.1fs", exc, delay)
                    time.sleep(delay)
                except openai.error.InvalidRequestError as exc:
                    raise TicketServiceError(f"request rejected: {exc}") from exc
        return wrapper
    return decorate
