"""The FAQ the assistant answers from (kept short: it goes into every prompt)."""

FAQ = {
    "opening hours": "Mon–Fri 9:00–18:00, Sat 10:00–14:00.",
    "returns": "30 days, unused, with the receipt.",
    "shipping": "Free in the EU above 50 EUR, otherwise 4.90 EUR.",
}


def faq_text() -> str:
    return "\n".join(f"- {topic}: {answer}" for topic, answer in FAQ.items())
