import json

from tool_agent.agent import lookup_first, run_agent
from tool_agent.main import build_client, main
from tool_agent.shop import Shop
from tool_agent.tools import TOOLS, run_tool


def test_agent_runs_the_parallel_tool_calls_and_answers_from_their_results():
    shop = Shop()
    result = run_agent(build_client(), "Where is my order, how much is shipping to FR, and can I get a refund?", shop)
    assert sorted(result.tool_calls) == sorted(t["function"]["name"] for t in TOOLS)
    assert [tool for tool, _ in shop.audit] == ["lookup_order", "request_refund"]
    assert result.turns == 2, "one turn with the tool calls, one with the answer"
    # The answer is built from what the tools returned, so their output reached the model.
    assert "price_eur" in result.answer


def test_forced_lookup_calls_lookup_order_exactly_once():
    shop = Shop()
    card = lookup_first(build_client(), "A-1002", shop)
    assert shop.audit == [("lookup_order", card["order_id"])]
    assert card == Shop().lookup_order(card["order_id"])


def test_main_prints_the_answer(capsys):
    assert main(["Quote shipping to DE please"]) == 0
    assert capsys.readouterr().out.strip()


def test_main_without_a_question_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_run_tool_reports_bad_calls_as_data():
    shop = Shop()
    assert json.loads(run_tool(shop, "lookup_order", '{"order_id": "A-1001"}'))["status"] == "shipped"
    assert "unknown tool" in json.loads(run_tool(shop, "drop_table", "{}"))["error"]
    assert "bad arguments" in json.loads(run_tool(shop, "lookup_order", '{"id": 1}'))["error"]
    assert "bad arguments" in json.loads(run_tool(shop, "lookup_order", "{not json"))["error"]
    json.loads(run_tool(shop, "request_refund", '{"order_id": "A-1002", "reason": "broken"}'))
    assert shop.refunds == ["A-1002"]
