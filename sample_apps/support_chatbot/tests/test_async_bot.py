from support_chatbot.async_bot import AsyncSupportBot, answer_all


async def test_async_reply():
    bot = AsyncSupportBot()
    try:
        answer = await bot.reply("Is the kettle dishwasher safe?")
    finally:
        await bot.close()
    assert "Is the kettle dishwasher safe?" in answer
    assert bot.history.turns[-1] == {"role": "assistant", "content": answer}


async def test_async_stream_reply():
    bot = AsyncSupportBot()
    try:
        pieces = [p async for p in bot.stream_reply("What is your returns policy?")]
    finally:
        await bot.close()
    assert len(pieces) > 1
    assert "What is your returns policy?" in "".join(pieces)


async def test_answer_all_keeps_the_order_of_questions():
    questions = ["first question", "second question", "third question"]
    answers = await answer_all(questions)
    assert len(answers) == 3
    for question, answer in zip(questions, answers, strict=True):
        assert question in answer
