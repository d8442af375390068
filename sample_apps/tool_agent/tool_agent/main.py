"""`python -m tool_agent.main "Where is my order A-1001?"`"""

import sys

from openai import OpenAI

from tool_agent.agent import run_agent
from tool_agent.shop import Shop


def build_client() -> OpenAI:
    """The desk's client: keys and endpoint from OPENAI_API_KEY / OPENAI_BASE_URL."""
    return OpenAI(max_retries=2, timeout=30.0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m tool_agent.main QUESTION", file=sys.stderr)
        return 2
    client = build_client()
    result = run_agent(client, " ".join(args), Shop())
    print(result.answer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
