"""Ticket routing with a fine-tuned model."""
