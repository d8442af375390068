"""`support-chatbot`: a terminal chat with the support bot, streamed."""

import sys

from support_chatbot.bot import SupportBot


def main(argv: list[str] | None = None) -> int:
    bot = SupportBot()
    for line in sys.stdin:
        question = line.strip()
        if not question:
            continue
        if question in {"/quit", "/exit"}:
            break
        for piece in bot.stream_reply(question):
            sys.stdout.write(piece)
        sys.stdout.write("\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
