"""Settings from the environment."""

import os
from pathlib import Path

EMBEDDING_MODEL = os.environ.get("RAG_EMBEDDING_MODEL", "text-embedding-3-small")
ANSWER_MODEL = os.environ.get("RAG_ANSWER_MODEL", "gpt-4o-mini")
INDEX_PATH = Path(os.environ.get("RAG_INDEX_PATH", "handbook-index.json"))
CHUNK_CHARS = int(os.environ.get("RAG_CHUNK_CHARS", "600"))
TOP_K = int(os.environ.get("RAG_TOP_K", "3"))
EMBED_BATCH = 64
