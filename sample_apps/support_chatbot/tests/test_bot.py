import io

from support_chatbot.bot import SupportBot
from support_chatbot.cli import main
from support_chatbot.history import History


def test_reply_answers_the_question_and_keeps_history():
    bot = SupportBot()
    answer = bot.reply("Where is my parcel A-1001?")
    assert "Where is my parcel A-1001?" in answer
    second = bot.reply("Can I change the delivery address?")
    assert "Can I change the delivery address?" in second
    assert [t["role"] for t in bot.history.turns] == ["user", "assistant", "user", "assistant"]
    assert bot.history.turns[1]["content"] == answer


def test_stream_reply_yields_pieces_that_make_the_answer():
    bot = SupportBot()
    pieces = list(bot.stream_reply("How do I reset my password?"))
    assert len(pieces) > 1, "a streamed answer arrives in several chunks"
    full = "".join(pieces)
    assert "How do I reset my password?" in full
    assert bot.history.turns[-1] == {"role": "assistant", "content": full}


def test_history_keeps_only_the_last_turns():
    history = History(max_turns=2)
    for i in range(5):
        history.add("user", f"q{i}")
        history.add("assistant", f"a{i}")
    assert [t["content"] for t in history.turns] == ["q3", "a3", "q4", "a4"]
    assert history.messages()[0]["role"] == "system"


def test_cli_streams_each_answer_on_its_own_line(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("Are you open on Sunday?\n\n/quit\nnot read\n"))
    assert main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert "Are you open on Sunday?" in lines[0]
