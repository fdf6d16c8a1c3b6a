"""The prompt enhancer against a real local server speaking OpenAI's protocol, through the real SDK client."""

from __future__ import annotations

import json
from typing import Any

import pytest

from boda.ai.llm import LlmUnavailable, NoChat, OpenAICompatibleChat, run_sync
from boda.apps.studio.enhance import (
    LIMIT,
    SEED_SYSTEM_PROMPT_EN,
    SEED_SYSTEM_PROMPT_KO,
    BestOf,
    Enhanced,
    best_of,
    detect_language,
    enhance,
    enhance_stream,
    fit,
    one_paragraph,
    temperatures,
)
from boda.core.errors import InvalidInput
from tests.ai.openai_server import ChatServer, free_port

KO_ANSWER = ("빨간색 소방차 장난감, 둥근 모서리의 귀여운 로우폴리 스타일, 광택 있는 플라스틱 재질, 은색 사다리와 "
             "검은 고무 바퀴 여섯 개, 앞쪽 범퍼와 경광등, 깔끔한 PBR 텍스처, 정면과 측면이 잘 보이는 단일 오브젝트.")
EN_ANSWER = ("A red toy fire truck in a cute low-poly style with rounded edges, glossy plastic, a silver ladder, "
             "six black rubber wheels, a front bumper and a light bar, clean PBR textures, a single object.")


@pytest.fixture
def fake(chat_server: ChatServer) -> ChatServer:
    chat_server.reset()
    return chat_server


def model(chat_server: ChatServer) -> OpenAICompatibleChat:
    return OpenAICompatibleChat(model="text-model", base_url=chat_server.url, api_key="sk-test", timeout_seconds=5.0,
                                max_retries=0)


def said(text: str) -> dict[str, str]:
    return {"content": text}


# --- the contract ---------------------------------------------------------------------------


def test_a_korean_request_gets_the_seeds_system_prompt_and_a_korean_paragraph(fake: ChatServer) -> None:
    fake.script.append(said(KO_ANSWER))
    result = run_sync(enhance(model(fake), "  빨간 소방차\n장난감 "))
    assert isinstance(result, Enhanced)
    assert result.as_dict() == {"original": "빨간 소방차 장난감", "enhanced": KO_ANSWER, "language": "ko",
                                "system_prompt": "default", "attempts": 1, "language_kept": True}
    system, user = fake.last["messages"]
    assert system == {"role": "system", "content": SEED_SYSTEM_PROMPT_KO}
    assert "500자 이내로 한국어로 작성해" in system["content"] and "개행을 삭제" in system["content"]
    assert user == {"role": "user", "content": "빨간 소방차 장난감"}
    assert "response_format" not in fake.last


def test_an_english_request_gets_the_seeds_prompt_in_english(fake: ChatServer) -> None:
    fake.script.append(said(EN_ANSWER))
    result = run_sync(enhance(model(fake), "a red toy fire truck"))
    assert result.language == "en" and result.enhanced == EN_ANSWER
    assert fake.last["messages"][0]["content"] == SEED_SYSTEM_PROMPT_EN
    assert "within 500 characters" in SEED_SYSTEM_PROMPT_EN


def test_labels_lists_bold_quotes_and_line_breaks_fold_into_one_paragraph(fake: ChatServer) -> None:
    fake.script.append(said('**Enhanced prompt:**\n"A red toy fire truck,\n- glossy plastic\n- six black wheels\n\n'
                            '* PBR textures."'))
    result = run_sync(enhance(model(fake), "red fire truck toy"))
    assert result.enhanced == "A red toy fire truck, glossy plastic six black wheels PBR textures."
    assert "\n" not in result.enhanced


def test_an_answer_over_500_characters_is_cut_after_its_last_whole_sentence(fake: ChatServer) -> None:
    sentences = [f"문장 {i}번은 소방차의 세부를 설명하고 재질과 색을 자세히 말한다." for i in range(30)]
    long = " ".join(sentences)
    assert len(long) > 2 * LIMIT
    fake.script.append(said(long))
    result = run_sync(enhance(model(fake), "빨간 소방차 장난감"))
    assert 0.4 * LIMIT <= len(result.enhanced) <= LIMIT
    assert result.enhanced.endswith("말한다.") and long.startswith(result.enhanced)
    assert long[len(result.enhanced)] == " "  # cut between sentences, not inside one


def test_fit_never_returns_empty_for_text_and_cuts_at_a_space_without_sentences() -> None:
    words = " ".join(["빨간색 소방차"] * 100)
    cut = fit(words)
    assert cut and len(cut) <= LIMIT and words.startswith(cut) and words[len(cut)] == " "
    assert fit("가" * 900) == "가" * LIMIT
    assert fit("3.5 m long. " * 5) == ("3.5 m long. " * 5).strip()  # "3.5" is no sentence end
    assert fit("") == ""


def test_a_reply_in_the_wrong_language_is_asked_again_once(fake: ChatServer) -> None:
    fake.script += [said(EN_ANSWER), said(KO_ANSWER)]
    result = run_sync(enhance(model(fake), "빨간 소방차 장난감"))
    assert result.enhanced == KO_ANSWER and result.attempts == 2 and result.language_kept
    messages = fake.last["messages"]
    assert messages[-2] == {"role": "assistant", "content": EN_ANSWER}
    assert "한국어로 다시" in messages[-1]["content"]

    fake.reset()
    fake.script += [said(EN_ANSWER), said(EN_ANSWER)]
    stubborn = run_sync(enhance(model(fake), "빨간 소방차 장난감"))
    assert stubborn.enhanced == EN_ANSWER and not stubborn.language_kept and len(fake.requests) == 2


def test_the_language_can_be_chosen_and_is_detected_from_hangul() -> None:
    assert detect_language("빨간 소방차 toy, PBR") == "ko"
    assert detect_language("a red fire truck, 소") == "en"
    assert detect_language("3D!") == "en"


def test_an_empty_answer_is_an_error_never_an_empty_prompt(fake: ChatServer) -> None:
    fake.script += [said("  \n "), said('""')]
    with pytest.raises(LlmUnavailable) as caught:
        run_sync(enhance(model(fake), "a red fire truck"))
    assert caught.value.details["reason"] == "bad_output" and caught.value.key == "llm_bad_output"


def test_a_users_own_system_prompt_replaces_the_seeds_with_the_contract_kept(fake: ChatServer) -> None:
    fake.script.append(said(EN_ANSWER))
    mine = "You write prompts for stylised toys. Always mention the scale."
    result = run_sync(enhance(model(fake), "빨간 소방차", system_prompt=mine, language="en"))
    assert result.system_prompt == "user" and result.language == "en"
    system = fake.last["messages"][0]["content"]
    assert system.startswith(mine) and "at most 500 characters, in English" in system
    with pytest.raises(InvalidInput):
        run_sync(enhance(model(fake), "x", system_prompt="y" * 5000))


def test_bad_requests_are_refused_before_asking(fake: ChatServer) -> None:
    with pytest.raises(InvalidInput) as caught:
        run_sync(enhance(model(fake), " \n "))
    assert caught.value.key == "studio_prompt_empty"
    with pytest.raises(InvalidInput):
        run_sync(enhance(model(fake), "a" * 2001))
    with pytest.raises(InvalidInput):
        run_sync(enhance(model(fake), "a truck", language="fr"))
    assert fake.requests == []


def test_no_llm_or_a_dead_one_raises_the_llm_error_for_the_app_to_explain() -> None:
    with pytest.raises(LlmUnavailable) as off:
        run_sync(enhance(NoChat(), "빨간 소방차 장난감"))
    assert off.value.details["reason"] == "off" and off.value.key == "llm_off"
    dead = OpenAICompatibleChat(model="m", base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="k",
                                timeout_seconds=2.0, max_retries=0)
    with pytest.raises(LlmUnavailable) as down:
        run_sync(enhance(dead, "a red truck"))
    assert down.value.details["reason"] == "down"


# --- streaming ------------------------------------------------------------------------------


def streamed(stream: Any) -> list[str]:
    async def go() -> list[str]:
        return [delta async for delta in stream]

    return run_sync(go())


def test_the_stream_yields_the_paragraph_as_it_comes(fake: ChatServer) -> None:
    fake.script.append(said("Prompt: " + EN_ANSWER.replace(", six", ",\nsix")))
    stream = enhance_stream(model(fake), "a red toy fire truck")
    deltas = streamed(stream)
    assert len(deltas) > 5  # many pieces, not one at the end
    assert "".join(deltas) == EN_ANSWER
    assert stream.result is not None and stream.result.enhanced == EN_ANSWER and stream.result.language_kept
    assert fake.last["stream"] is True and fake.last["messages"][0]["content"] == SEED_SYSTEM_PROMPT_EN


def test_the_stream_stops_at_the_limit_and_the_result_ends_at_a_sentence(fake: ChatServer) -> None:
    long = " ".join(f"Sentence {i} describes the fire truck's ladder, wheels and paint in detail." for i in range(40))
    fake.script.append(said(long))
    stream = enhance_stream(model(fake), "a red toy fire truck")
    shown = "".join(streamed(stream))
    assert len(shown) == LIMIT and long.startswith(shown)
    assert stream.result is not None
    final = stream.result.enhanced
    assert final.endswith("detail.") and len(final) <= LIMIT and shown.startswith(final)


def test_a_stream_that_breaks_off_raises_truncated(fake: ChatServer) -> None:
    fake.script.append({"content": EN_ANSWER, "cut": True})
    stream = enhance_stream(model(fake), "a red toy fire truck")
    with pytest.raises(LlmUnavailable) as caught:
        streamed(stream)
    assert caught.value.details["reason"] == "truncated" and stream.result is None


# --- best of N ------------------------------------------------------------------------------


def scores(*values: int) -> dict[str, str]:
    return said(json.dumps({f"candidate_{i + 1}": {"reasons": [f"이유 {i + 1}"], "score": v}
                            for i, v in enumerate(values)}, ensure_ascii=False))


def test_best_of_n_scores_every_candidate_and_picks_the_highest(fake: ChatServer) -> None:
    texts = [f"{KO_ANSWER} 후보 {i}." for i in range(3)]
    fake.script += [said(t) for t in texts] + [scores(4, 9, 6)]
    result = run_sync(best_of(model(fake), "빨간 소방차 장난감", 3))
    assert isinstance(result, BestOf) and result.best_index == 1 and result.best.score == 9
    assert [c.score for c in result.candidates] == [4, 9, 6]
    assert [c.reasons for c in result.candidates] == [["이유 1"], ["이유 2"], ["이유 3"]]
    # The server answered the requests in the order they came: each candidate is the text sent at its temperature.
    given = {r["body"]["temperature"]: s for r, s in zip(fake.requests[:3], texts, strict=True)}
    assert [c.text for c in result.candidates] == [given[t] for t in temperatures(3)]
    assert len(set(given)) == 3  # diverse: three temperatures
    scoring = fake.last
    fmt = scoring["response_format"]["json_schema"]
    assert fmt["strict"] and fmt["schema"]["required"] == ["candidate_1", "candidate_2", "candidate_3"]
    assert scoring["temperature"] == 0.0 and "1점" in scoring["messages"][0]["content"]
    for text in texts:
        assert text in scoring["messages"][1]["content"]
    assert result.as_dict()["candidates"][1]["score"] == 9


def test_best_of_n_repairs_an_invalid_score_and_ties_go_to_the_cooler(fake: ChatServer) -> None:
    fake.script += [said(EN_ANSWER), said(EN_ANSWER + " Second."), scores(7, 11), scores(7, 7)]
    result = run_sync(best_of(model(fake), "a red toy fire truck", 2))
    assert [c.score for c in result.candidates] == [7, 7] and result.best_index == 0
    assert "not valid" in fake.last["messages"][-1]["content"] and len(fake.requests) == 4


def test_best_of_n_bounds_and_a_score_that_stays_invalid(fake: ChatServer) -> None:
    for n in (0, 9):
        with pytest.raises(InvalidInput) as caught:
            run_sync(best_of(model(fake), "a truck", n))
        assert caught.value.key == "studio_best_of_n"
    fake.script += [said(EN_ANSWER), said('{"candidate_1": {"score": 5}}'), said("no")]
    with pytest.raises(LlmUnavailable) as bad:
        run_sync(best_of(model(fake), "a red toy fire truck", 1))
    assert bad.value.details["reason"] == "bad_output"


def test_fit_holds_the_contract_on_random_answers() -> None:
    import random

    rng = random.Random(14)
    alphabet = ["빨간", "소방차", "ladder", "PBR,", "로우폴리.", "wheels!", "\n", "\n\n- ", "  ", "3.5m", "?", "**"]
    for _ in range(300):
        text = " ".join(rng.choice(alphabet) for _ in range(rng.randint(1, 400)))
        out = fit(text)
        assert len(out) <= LIMIT and "\n" not in out and out == out.strip()
        assert out or not one_paragraph(text)  # empty only when there was nothing to say
