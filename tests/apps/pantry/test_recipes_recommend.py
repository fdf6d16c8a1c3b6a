"""The recommendation against a real local server speaking OpenAI's protocol, through the real SDK client."""

from __future__ import annotations

import json
from typing import Any

import pytest

from boda.ai.llm import LlmUnavailable, OpenAICompatibleChat, run_sync
from boda.apps.pantry.recipes_recommend import (
    Grounding,
    RecommendAnswer,
    RecommendRequest,
    build_messages,
    echoes_instruction,
    is_excluded,
    language_of,
    recommend,
    retrieve,
    stream_recommend,
)
from boda.core.errors import InvalidInput, Unavailable
from tests.ai.openai_server import ChatServer

GOOD = {"recipe_name": "삼겹살 덮밥", "recipe_ingredients": ["삼겹살", "양파", "대파", "밥", "간장"],
        "recipes": ["양파를 채 썬다.", "삼겹살을 굽는다.", "간장 소스에 조린다.", "밥 위에 올린다."]}
EXCLUDED = {"recipe_name": "양파조림", "recipe_ingredients": ["양파", "간장"], "recipes": ["양파를 조린다."]}
REQUEST = {"ingredients": ["양파", "파", "삼겹살"], "except_recipe": ["양파 조림"]}


@pytest.fixture
def fake(chat_server: ChatServer) -> ChatServer:
    chat_server.reset()
    return chat_server


def model(chat_server: ChatServer) -> OpenAICompatibleChat:
    return OpenAICompatibleChat(model="text-model", base_url=chat_server.url, api_key="sk-test", timeout_seconds=5.0,
                                max_retries=0)


def answer(data: dict[str, Any]) -> dict[str, str]:
    return {"content": json.dumps(data, ensure_ascii=False)}


def test_a_valid_answer_in_the_seeds_contract_with_the_schema_enforced(fake: ChatServer) -> None:
    fake.script.append(answer(GOOD))
    result = run_sync(recommend(model(fake), REQUEST))
    body = result.as_dict()
    assert {k: body[k] for k in GOOD} == GOOD and body["language"] == "ko" and result.attempts == 1
    assert not result.repaired
    sent = fake.last
    assert sent["response_format"]["type"] == "json_schema" and sent["response_format"]["json_schema"]["strict"]
    assert sent["response_format"]["json_schema"]["schema"]["required"] == ["recipe_name", "recipe_ingredients",
                                                                             "recipes"]
    system, user = sent["messages"][0]["content"], sent["messages"][1]["content"]
    assert "except_recipe" in system and "한국어" in system  # the rule, in the language asked
    assert json.loads(user.split("\n\n")[0]) == REQUEST
    for source in result.sources:  # the retrieved recipes ground the prompt and are credited
        assert source.title in user and source.url.startswith("https://en.wikibooks.org/")
        assert "CC BY-SA 4.0" in source.attribution
    assert result.sources


def test_invalid_json_is_repaired_once(fake: ChatServer) -> None:
    fake.script += [{"content": '{"recipe_name": "삼겹살 덮밥", "recipes": ['}, answer(GOOD)]
    result = run_sync(recommend(model(fake), REQUEST))
    assert result.repaired and result.answer.recipe_name == "삼겹살 덮밥" and len(fake.requests) == 2
    assert "not valid" in fake.last["messages"][-1]["content"]


def test_an_excluded_recipe_is_refused_and_asked_again_more_strongly(fake: ChatServer) -> None:
    fake.script += [answer(EXCLUDED), answer(GOOD)]
    result = run_sync(recommend(model(fake), REQUEST))
    assert result.answer.recipe_name == "삼겹살 덮밥" and result.attempts == 2 and result.rejected == ("양파조림",)
    retry = fake.last["messages"]
    # a fresh conversation pointed at the best allowed reference, which never shows the excluded names
    assert len(retry) == 2 and f"참고 레시피 1 '{result.sources[0].title}'" in retry[-1]["content"]
    assert "양파조림" not in json.dumps(retry, ensure_ascii=False)
    assert "양파 조림" not in json.dumps(retry, ensure_ascii=False)
    assert not is_excluded(result.sources[0].title, REQUEST["except_recipe"])


def test_with_no_allowed_reference_left_the_retry_still_never_shows_the_excluded_name(fake: ChatServer) -> None:
    # The only corpus recipe with these is the excluded one: shown its name, SmolLM2 wrote it three times.
    request = {"ingredients": ["hairtail (cutlassfish)", "shiitake powder", "eel"],
               "except_recipe": ["Alsatian Fish Stew (Matelote de poissons d'Alsace)"]}
    assert retrieve(request["ingredients"], request["except_recipe"]) == []
    good = {"recipe_name": "Grilled Eel with Shiitake", "recipe_ingredients": ["eel", "shiitake powder"],
            "recipes": ["Dust the eel.", "Grill it."]}
    fake.script += [answer({**good, "recipe_name": "Alsatian Fish Stew"}), answer(good)]
    result = run_sync(recommend(model(fake), request))
    assert result.answer.recipe_name == "Grilled Eel with Shiitake" and result.attempts == 2
    retry = json.dumps(fake.last["messages"], ensure_ascii=False)
    assert "Alsatian" not in retry and "Adapt reference" not in retry and len(fake.last["messages"]) == 2


def test_a_model_that_keeps_proposing_the_excluded_dish_gets_a_clear_error(fake: ChatServer) -> None:
    near_copies = ["양파조림", "양파 조림 (간장)", "Yangpa jorim"]
    fake.script += [answer({**EXCLUDED, "recipe_name": n}) for n in near_copies]
    request = {**REQUEST, "except_recipe": ["양파 조림", "yangpa-jorim"]}
    with pytest.raises(Unavailable) as caught:
        run_sync(recommend(model(fake), request))
    assert caught.value.key == "pantry_recommend_excluded" and len(fake.requests) == 3
    # each retry samples wider: a small model asked again at the same temperature repeats itself
    assert [r["body"]["temperature"] for r in fake.requests] == pytest.approx([0.4, 0.7, 1.0])


def test_english_is_asked_for_english_ingredients(fake: ChatServer) -> None:
    good = {"recipe_name": "Shakshuka", "recipe_ingredients": ["eggs", "tomatoes"], "recipes": ["Simmer.", "Poach."]}
    fake.script.append(answer(good))
    result = run_sync(recommend(model(fake), {"ingredients": ["eggs", "tomatoes", "onion"]}))
    assert result.language == "en" and "Write everything" in fake.last["messages"][0]["content"]
    assert language_of(RecommendRequest(ingredients=["eggs"], language="ko")) == "ko"


def test_a_bad_request_is_refused_before_asking(fake: ChatServer) -> None:
    with pytest.raises(InvalidInput):
        run_sync(recommend(model(fake), {"ingredients": []}))
    assert fake.requests == []


def test_a_model_that_never_gives_valid_json_says_so(fake: ChatServer) -> None:
    fake.script += [{"content": "I suggest pork."}, {"content": "Pork, really."}] * 3
    with pytest.raises(LlmUnavailable) as caught:
        run_sync(recommend(model(fake), REQUEST))
    assert caught.value.details["reason"] == "bad_output" and len(fake.requests) == 6  # 3 asks, each repaired once


def test_invalid_json_even_after_repair_is_asked_afresh(fake: ChatServer) -> None:
    fake.script += [{"content": "I suggest pork."}, {"content": "Pork, really."}, answer(GOOD)]
    result = run_sync(recommend(model(fake), REQUEST))
    assert result.answer.recipe_name == GOOD["recipe_name"] and result.attempts == 2 and result.repaired
    assert [r["body"]["temperature"] for r in fake.requests] == pytest.approx([0.4, 0.4, 0.7])


def test_streaming_gives_deltas_then_a_valid_result(fake: ChatServer) -> None:
    fake.script.append(answer(GOOD))

    async def collect() -> list[dict[str, Any]]:
        return [event async for event in stream_recommend(model(fake), REQUEST)]

    events = run_sync(collect())
    text = "".join(str(e["delta"]) for e in events if "delta" in e)
    assert json.loads(text) == GOOD and len([e for e in events if "delta" in e]) > 5
    assert events[-1]["result"]["recipe_name"] == "삼겹살 덮밥"  # type: ignore[index]


def test_a_streamed_excluded_dish_is_replaced(fake: ChatServer) -> None:
    fake.script += [answer(EXCLUDED), answer(GOOD)]

    async def collect() -> list[dict[str, Any]]:
        return [event async for event in stream_recommend(model(fake), REQUEST)]

    events = run_sync(collect())
    assert {"restart": True} in events and events[-1]["result"]["recipe_name"] == "삼겹살 덮밥"  # type: ignore[index]


def test_retrieval_leaves_out_excluded_titles_and_mixes_in_the_households_recipes() -> None:
    assert "Bulgogi" in [g.title for g in retrieve(["beef", "soy sauce", "green onion", "sesame oil", "garlic"])]
    assert "Bulgogi" not in [g.title for g in retrieve(["beef", "soy sauce", "green onion", "sesame oil", "garlic"],
                                                       ["bulgogi"])]
    own = Grounding("우리집 삼겹살 덮밥", ("삼겹살 300g", "양파 1개", "대파 1대"), ("굽는다.",))
    found = retrieve(["양파", "대파", "삼겹살"], household=[own])
    assert found[0].title == "우리집 삼겹살 덮밥"
    messages = build_messages(RecommendRequest(**REQUEST), found, "ko")
    assert "우리집 삼겹살 덮밥" in messages[1]["content"]


def test_the_answer_schema_is_the_seeds() -> None:
    schema = RecommendAnswer.model_json_schema()
    assert set(schema["properties"]) == {"recipe_name", "recipe_ingredients", "recipes"}
    assert schema["additionalProperties"] is False


def test_an_answer_in_the_wrong_language_is_asked_again_in_the_language_asked(fake: ChatServer) -> None:
    english = {"recipe_name": "Pork Belly Rice Bowl", "recipe_ingredients": ["pork belly", "onion"],
               "recipes": ["Grill the pork.", "Serve on rice."]}
    fake.script += [answer(english), answer(GOOD)]
    result = run_sync(recommend(model(fake), REQUEST))
    assert result.answer.recipe_name == "삼겹살 덮밥" and result.attempts == 2 and result.language_ok
    assert "한국어로 다시" in fake.last["messages"][-1]["content"]
    fake.reset()
    fake.script += [answer(english)] * 3  # it never learns: the allowed dish comes back, flagged
    stubborn = run_sync(recommend(model(fake), REQUEST))
    assert stubborn.attempts == 3 and not stubborn.language_ok and not stubborn.as_dict()["language_ok"]


def test_an_answer_that_writes_the_instruction_back_is_not_taken_for_korean(fake: ChatServer) -> None:
    # SmolLM2, asked to rewrite its English dish in Korean, wrote "방금 답은 한국어…" back: Hangul, not a dish.
    english = {"recipe_name": "Pork Belly Rice Bowl", "recipe_ingredients": ["pork belly", "onion"],
               "recipes": ["Grill the pork.", "Serve on rice."]}
    echoes = [{"recipe_name": "방금 답은 한국어가 아닙니다", "recipe_ingredients": ["삼겹살"],
               "recipes": ["방금 답은 한국어"]},
              {"recipe_name": "참고 레시피 (Pork)", "recipe_ingredients": ["삼겹살"],
               "recipes": ["참고 레시피를 본다"]}]
    assert all(echoes_instruction(RecommendAnswer.model_validate(e)) for e in echoes)
    assert not echoes_instruction(RecommendAnswer.model_validate(GOOD))
    assert not echoes_instruction(RecommendAnswer.model_validate({**english, "recipe_name": "Never Fail Pie"}))
    fake.script += [answer(english), *(answer(e) for e in echoes)]
    result = run_sync(recommend(model(fake), REQUEST))
    assert result.answer.recipe_name == "Pork Belly Rice Bowl" and result.attempts == 3 and not result.language_ok
    fake.reset()
    fake.script += [answer(echoes[1]), answer(GOOD)]  # an echo first: asked again, the real dish taken
    result = run_sync(recommend(model(fake), REQUEST))
    assert result.answer.recipe_name == "삼겹살 덮밥" and result.attempts == 2 and result.language_ok
