"""Ticket summarizer (0.x SDK). Call `legacy_app.settings.configure()` once at start-up."""
