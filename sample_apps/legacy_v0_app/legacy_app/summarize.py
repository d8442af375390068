"""Ticket summaries and reply drafts (chat), plus the old one-line subject generator (completions)."""

import openai

from legacy_app import settings as cfg
from legacy_app.retry import with_retries

SUMMARY_PROMPT = "Summarize the support ticket below in two sentences for the on-call engineer."


def _messages(ticket_text):
    return [
        {"role": "system", "content": SUMMARY_PROMPT},
        {"role": "user", "content": ticket_text},
    ]


@with_retries()
def summarize_ticket(ticket_text):
    if cfg.settings.is_azure:
        resp = openai.ChatCompletion.create(
            engine=cfg.settings.chat_deployment,
            messages=_messages(ticket_text),
            temperature=0,
            request_timeout=cfg.settings.request_timeout,
        )
    else:
        resp = openai.ChatCompletion.create(
            model=cfg.CHAT_MODEL,
            messages=_messages(ticket_text),
            temperature=0,
            request_timeout=cfg.settings.request_timeout,
        )
    return resp["choices"][0]["message"]["content"].strip()


async def draft_reply(ticket_text, tone="friendly"):
    """Async so the helpdesk webhook can draft replies for a batch of tickets at once."""
    resp = await openai.ChatCompletion.acreate(
        model=cfg.CHAT_MODEL,
        messages=[
            {"role": "system", "content": f"Draft a {tone} reply to this customer ticket."},
            {"role": "user", "content": ticket_text},
        ],
        max_tokens=300,
    )
    usage = resp.get("usage", {})
    return {"text": resp["choices"][0]["message"]["content"], "tokens": usage.get("total_tokens", 0)}


@with_retries()
def subject_line(ticket_text):
    resp = openai.Completion.create(
        model=cfg.COMPLETION_MODEL,
        prompt=f"Write a short subject line for this ticket:\n\n{ticket_text}\n\nSubject:",
        max_tokens=20,
        temperature=0,
    )
    return resp["choices"][0]["text"].strip()
