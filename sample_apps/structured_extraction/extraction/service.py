"""Extraction calls. Three generations of the same idea live side by side while callers migrate."""

import json

import openai as oa

from extraction.schemas import Invoice, Triage, strict_schema

EXTRACTION_MODEL = "gpt-4o-2024-08-06"
TRIAGE_MODEL = "gpt-4o-mini"
INSTRUCTIONS = "Extract the invoice from the text. Use the currency's ISO code."


class ExtractionError(RuntimeError):
    pass


class InvoiceExtractor:
    def __init__(self, client: oa.OpenAI | None = None) -> None:
        self._client = client or oa.OpenAI()

    def _messages(self, text: str) -> list[dict]:
        return [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": text}]

    def extract(self, text: str) -> Invoice:
        """Current path: the SDK parses into the pydantic model."""
        completion = self._client.chat.completions.parse(
            model=EXTRACTION_MODEL,
            messages=self._messages(text),
            response_format=Invoice,
        )
        message = completion.choices[0].message
        if message.refusal or message.parsed is None:
            raise ExtractionError(message.refusal or "no invoice in the answer")
        return message.parsed

    def extract_beta(self, text: str) -> Invoice:
        """The path from SDK 1.40–1.91, still used by the nightly batch."""
        completion = self._client.beta.chat.completions.parse(
            model=EXTRACTION_MODEL,
            messages=self._messages(text),
            response_format=Invoice,
            temperature=0,
        )
        parsed = completion.choices[0].message.parsed
        if parsed is None:
            raise ExtractionError("no invoice in the answer")
        return parsed

    def extract_raw_schema(self, text: str) -> Invoice:
        """Plain create with a strict json_schema, for callers that store the raw JSON."""
        completion = self._client.chat.completions.create(
            model=EXTRACTION_MODEL,
            messages=self._messages(text),
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "invoice", "schema": strict_schema(Invoice), "strict": True},
            },
        )
        try:
            return Invoice.model_validate_json(completion.choices[0].message.content or "")
        except ValueError as exc:
            raise ExtractionError(f"invalid invoice JSON: {exc}") from exc

    def triage(self, email_body: str) -> Triage:
        """Cheap JSON-mode pre-sort of the inbox; the prompt must say JSON for json_object mode."""
        completion = self._client.chat.completions.create(
            model=TRIAGE_MODEL,
            messages=[
                {
                    "role": "system",
                    "content": 'Classify the e-mail. Reply in JSON: {"kind": "invoice|reminder|other", "urgent": bool}',
                },
                {"role": "user", "content": email_body},
            ],
            response_format={"type": "json_object"},
        )
        try:
            data = json.loads(completion.choices[0].message.content or "{}")
        except json.JSONDecodeError as exc:
            raise ExtractionError(f"triage answer is not JSON: {exc}") from exc
        return Triage.model_validate(data if isinstance(data, dict) else {})
