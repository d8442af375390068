"""Registers the OpenAI platform endpoints beyond chat/completions/embeddings/models."""

from __future__ import annotations

from aiohttp import web

from offramp.migrate.fake_upstream import media, resources, responses


def add_routes(app: web.Application, prefix: str) -> None:
    responses.add_routes(app, prefix)
    media.add_routes(app, prefix)
    resources.add_routes(app, prefix)
