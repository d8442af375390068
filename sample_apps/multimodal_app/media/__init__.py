"""Listing studio: vision, speech-to-text, image generation and text-to-speech for marketplace listings."""
