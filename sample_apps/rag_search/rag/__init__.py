"""Handbook search: index markdown documents, retrieve by cosine similarity, answer with citations."""
