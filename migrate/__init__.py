"""Offramp: move applications off the OpenAI API onto DeepSeek."""

__version__ = "0.2.0"
