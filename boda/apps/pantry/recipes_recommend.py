"""The LLM recipe recommendation in the seed's exact contract, grounded in retrieved recipes.

`POST /api/v1/pantry/recommend` takes `{"ingredients": [...], "except_recipe": [...]}` and
answers `{"recipe_name", "recipe_ingredients": [...], "recipes": [steps]}` (`sources`,
`language`, `attempts` beside them). Why each part:

- The answer is a Pydantic model whose JSON schema is strict-compatible, so an endpoint with
  structured output enforces it, llama.cpp gets a grammar, and `boda.ai.llm` validates it and
  gives one repair try otherwise.
- Retrieval (the seed's wished-for RAG): the corpus recipes (and the household's own) that
  use most of the given ingredients, ranked by `recipes_rank`, go into the prompt as
  references, so a small local model writes a real dish rather than inventing one.
- An excluded recipe, or a near copy of one (`similar_title`), is never returned: such an
  answer is rejected and asked again with a stronger instruction naming what it proposed;
  after `MAX_ATTEMPTS` the caller gets a clear error, not the excluded dish.
- An answer in another language than asked (small local models drift to English) is asked
  again once per remaining try; on the last try it is returned with `language_ok` False.
  A "Korean" answer that only writes Boda's instruction back (`echoes_instruction`) counts as
  no answer in the language: the earlier real dish is returned instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from boda.ai.llm import ChatModel, LlmUnavailable, parse_json, validate
from boda.apps.pantry.recipes_rank import RecipeIndex, RecipeInput, StockItem, corpus_index, similar_title
from boda.core.errors import InvalidInput, Unavailable

Language = Literal["ko", "en"]
MAX_ATTEMPTS = 3  # the first ask and two more after an excluded dish, a wrong language or invalid JSON
RETRY_WARMTH = 0.3  # added to the temperature at each retry, up to 1.0


def warmer(temperature: float, attempt: int) -> float:
    """The temperature of the n-th try: a small model asked again at the same temperature tends to
    repeat its excluded dish word for word (SmolLM2 did, three times), so each retry samples wider."""
    return min(1.0, max(temperature, temperature + RETRY_WARMTH * (attempt - 1)))
DEFAULT_K = 3
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


class RecommendRequest(BaseModel):
    """The seed's request, with an optional language (else Korean when any ingredient is written in Hangul)."""

    model_config = ConfigDict(extra="forbid")

    ingredients: list[str] = Field(min_length=1, max_length=50)
    except_recipe: list[str] = Field(default_factory=list, max_length=50)
    language: Language | None = None

    @field_validator("ingredients", "except_recipe")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip()[:100] for v in value if v and v.strip()]
        return list(dict.fromkeys(cleaned))


class RecommendAnswer(BaseModel):
    """The seed's answer exactly: what the model must produce (closed object, every field required)."""

    model_config = ConfigDict(extra="forbid", title="recipe")

    recipe_name: str = Field(min_length=1, max_length=200)
    recipe_ingredients: list[str] = Field(min_length=1, max_length=60)
    recipes: list[str] = Field(min_length=1, max_length=30)


@dataclass(frozen=True)
class Grounding:
    """One retrieved recipe shown to the model; `attribution` and `url` travel to the answer's `sources`."""

    title: str
    ingredients: tuple[str, ...]
    steps: tuple[str, ...]
    url: str = ""
    attribution: str = ""
    score: float = 0.0


@dataclass(frozen=True)
class Recommendation:
    answer: RecommendAnswer
    language: Language
    sources: tuple[Grounding, ...] = ()
    attempts: int = 1
    repaired: bool = False
    rejected: tuple[str, ...] = field(default=())  # excluded dishes the model proposed first
    language_ok: bool = True  # False only when the last try still answered in another language

    def as_dict(self) -> dict[str, object]:
        """The response body: the seed's three fields, then extras beside them."""
        return {**self.answer.model_dump(), "language": self.language, "language_ok": self.language_ok,
                "attempts": self.attempts,
                "sources": [{"title": s.title, "url": s.url, "attribution": s.attribution} for s in self.sources]}


def language_of(request: RecommendRequest) -> Language:
    if request.language:
        return request.language
    return "ko" if any(_HANGUL.search(x) for x in request.ingredients) else "en"


def _stock(ingredients: Sequence[str]) -> list[StockItem]:
    return [StockItem(name_ko=x) if _HANGUL.search(x) else StockItem(name_en=x) for x in ingredients]


def retrieve(ingredients: Sequence[str], exclude: Sequence[str] = (), k: int = DEFAULT_K, *,
             index: RecipeIndex | None = None, household: Sequence[Grounding] = ()) -> list[Grounding]:
    """The `k` recipes that use most of these ingredients, from the corpus and the household's own.

    Excluded titles and their near copies are left out, so the model is never shown them as examples.
    """
    from boda.apps.pantry import corpus

    stock = _stock(ingredients)
    found: list[Grounding] = []
    for ranked in (index or corpus_index()).rank(stock, limit=k, exclude_titles=exclude):
        recipe = corpus.get(ranked.recipe_id)
        if recipe is not None:
            found.append(Grounding(recipe.title, recipe.ingredients, recipe.steps, recipe.url, recipe.attribution,
                                   ranked.score))
    if household:
        own = RecipeIndex(RecipeInput(str(i), g.title, g.ingredients) for i, g in enumerate(household))
        for ranked in own.rank(stock, limit=k, exclude_titles=exclude):
            g = household[int(ranked.recipe_id)]
            found.append(Grounding(g.title, g.ingredients, g.steps, g.url, g.attribution, ranked.score))
    found.sort(key=lambda g: -g.score)
    return found[:k]


_SYSTEM = {
    "ko": ("당신은 가정 요리사를 돕는 요리 도우미입니다. 주어진 재료를 최대한 많이 쓰는 요리 한 가지를 추천하세요. "
           "except_recipe에 있는 요리와 그와 같거나 비슷한 요리(이름만 조금 바꾼 것 포함)는 절대 추천하지 마세요. "
           "참고 레시피는 영감일 뿐이니 그대로 베끼지 말고, 모든 내용(요리 이름, 재료, 조리 과정)을 한국어로 쓰세요. "
           "recipe_ingredients에는 필요한 재료 이름을, recipes에는 조리 과정을 순서대로 한 단계씩 쓰세요. "
           "JSON 하나로만 답하세요."),
    "en": ("You help a home cook. Recommend one dish that uses as many of the given ingredients as possible. "
           "Never recommend a dish listed in except_recipe, nor one that is the same or nearly the same dish "
           "(a renamed or slightly changed version counts as the same). The reference recipes are inspiration; "
           "do not copy them. Write everything (dish name, ingredients, steps) in English. Put the needed "
           "ingredient names in recipe_ingredients and the steps, in order, one per item, in recipes. "
           "Answer with one JSON object only."),
}
_STRONGER = {
    "ko": ("방금 추천한 '{name}'은(는) 제외 목록({excluded})에 있거나 그와 거의 같은 요리입니다. "
           "이름도 재료 구성도 확실히 다른 요리를 추천하세요."),
    "en": ("'{name}', which you just proposed, is excluded or nearly the same as an excluded dish ({excluded}). "
           "Recommend a clearly different dish, different in name and in make-up."),
}
_ADAPT = {
    "ko": "참고 레시피 1 '{title}'을(를) 주어진 재료에 맞게 바꿔서 추천하세요.",
    "en": "Adapt reference recipe 1, '{title}', to the given ingredients.",
}
_WRONG_LANGUAGE = {
    "ko": "방금 답은 한국어가 아닙니다. 요리 이름, 재료, 조리 과정을 모두 한국어로 다시 쓰세요.",
    "en": "That answer is not in English. Write the dish name, the ingredients and the steps in English.",
}
_REFERENCES = {"ko": "참고 레시피 (영어일 수 있음):", "en": "Reference recipes:"}


def build_messages(request: RecommendRequest, grounding: Sequence[Grounding], language: Language,
                   rejected: Sequence[str] = (), wrong_language: RecommendAnswer | None = None) -> list[dict[str, str]]:
    """The prompt: the rule in the asked language, the seed's request JSON, the references, any refusals."""
    lines = [_REFERENCES[language]]
    for n, g in enumerate(grounding, 1):
        steps = " / ".join(s[:200] for s in g.steps[:8])
        lines.append(f"{n}. {g.title}\n   - ingredients: {'; '.join(g.ingredients[:20])}\n   - steps: {steps}")
    # Told what not to write, a small model writes it again: the name is right there in its prompt (SmolLM2
    # copied it on every try). So a retry after an excluded dish is a fresh conversation that never shows
    # the excluded names and points at the best allowed reference, if any is left (with none, SmolLM2 shown
    # the names wrote the excluded dish three times); the answer is still checked against them.
    fresh = bool(rejected)
    payload = {"ingredients": request.ingredients, "except_recipe": [] if fresh else request.except_recipe}
    user = json.dumps(payload, ensure_ascii=False)
    if grounding:
        user += "\n\n" + "\n".join(lines)
    if fresh and grounding:
        user += "\n\n" + _ADAPT[language].format(title=grounding[0].title)
    messages = [{"role": "system", "content": _SYSTEM[language]}, {"role": "user", "content": user}]
    if rejected and not fresh:
        excluded = ", ".join(request.except_recipe) or "-"
        for name in rejected:
            messages.append({"role": "assistant", "content": json.dumps({"recipe_name": name}, ensure_ascii=False)})
            messages.append({"role": "user", "content": _STRONGER[language].format(name=name, excluded=excluded)})
    if wrong_language is not None:
        messages.append({"role": "assistant", "content": wrong_language.model_dump_json()})
        messages.append({"role": "user", "content": _WRONG_LANGUAGE[language]})
    return messages


def in_language(answer: RecommendAnswer, language: Language) -> bool:
    """Whether the answer is written in the language asked: Korean needs Hangul in the name and most steps."""
    if language == "ko":
        hangul = sum(bool(_HANGUL.search(step)) for step in answer.recipes)
        return bool(_HANGUL.search(answer.recipe_name)) and hangul * 2 >= len(answer.recipes)
    return not _HANGUL.search(answer.recipe_name + " ".join(answer.recipes))


_NOT_WORD = re.compile(r"[\W_]+")
ECHO_PREFIX = 5  # "방금 답은 한국어…" starts with 5 characters of the retry's own instruction


def echoes_instruction(answer: RecommendAnswer) -> bool:
    """Whether a Korean dish name is a piece of Boda's own instructions, not a dish.

    A small model asked to rewrite its answer in Korean, and unable to, wrote the instruction back
    ("방금 답은 한국어…", "참고 레시피"): Hangul, so the language check alone passed it as Korean.
    """
    name = _NOT_WORD.sub("", answer.recipe_name)
    if len(name) < 3 or not _HANGUL.match(name):
        return False
    said = [_NOT_WORD.sub("", t) for t in (*_SYSTEM.values(), *_STRONGER.values(), *_ADAPT.values(),
                                          *_WRONG_LANGUAGE.values(), *_REFERENCES.values())]
    return any(name[:ECHO_PREFIX] in text for text in said)


def is_excluded(name: str, excluded: Sequence[str]) -> bool:
    return any(similar_title(name, x) for x in excluded)


def acceptable(answer: RecommendAnswer, request: RecommendRequest, language: Language) -> bool:
    """Allowed, in the asked language and the model's own dish: returned as it is, with no other try."""
    return (not is_excluded(answer.recipe_name, request.except_recipe) and in_language(answer, language)
            and not echoes_instruction(answer))


def _request(data: RecommendRequest | dict[str, object]) -> RecommendRequest:
    if isinstance(data, RecommendRequest):
        return data
    try:
        return RecommendRequest.model_validate(data)
    except ValueError:
        raise InvalidInput("Name between 1 and 50 ingredients and at most 50 recipes to leave out",
                           key="pantry_recommend_no_ingredients") from None


async def recommend(chat: ChatModel, request: RecommendRequest | dict[str, object], *, k: int = DEFAULT_K,
                    index: RecipeIndex | None = None, household: Sequence[Grounding] = (),
                    temperature: float = 0.4, max_tokens: int = 1024) -> Recommendation:
    """One recipe as the seed's JSON, never an excluded one. LlmUnavailable when the model cannot answer."""
    req = _request(request)
    language = language_of(req)
    grounding = retrieve(req.ingredients, req.except_recipe, k, index=index, household=household)
    rejected: list[str] = []
    repaired = False
    wrong: RecommendAnswer | None = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        messages = build_messages(req, grounding, language, rejected, wrong)
        try:
            result = await chat.chat(messages, json_schema=RecommendAnswer,
                                     temperature=warmer(temperature, attempt), max_tokens=max_tokens)
        except LlmUnavailable as exc:
            # Still not valid after its repair try: a fresh ask, sampled wider, usually is (a small local
            # model's answer that ran into max_tokens). Any other failure (down, bad key) is final.
            if exc.details.get("reason") != "bad_output" or attempt == MAX_ATTEMPTS:
                raise
            repaired = True
            continue
        repaired = repaired or result.repaired
        answer = RecommendAnswer.model_validate(result.data)
        if is_excluded(answer.recipe_name, req.except_recipe):
            rejected.append(answer.recipe_name)
            continue
        if echoes_instruction(answer):
            if attempt < MAX_ATTEMPTS:
                continue  # asked again as before, sampled wider
            answer = wrong or answer  # a real dish in another language beats our own words back
        ok = acceptable(answer, req, language)
        if ok or attempt == MAX_ATTEMPTS:
            # A valid, allowed dish in another language beats no answer on the last try; `language_ok` says so.
            return Recommendation(answer, language, tuple(grounding), attempt, repaired, tuple(rejected), ok)
        wrong = answer
    raise Unavailable("The model kept proposing an excluded recipe", key="pantry_recommend_excluded",
                      details={"rejected": rejected})


async def stream_recommend(chat: ChatModel, request: RecommendRequest | dict[str, object], *, k: int = DEFAULT_K,
                           index: RecipeIndex | None = None, household: Sequence[Grounding] = (),
                           temperature: float = 0.4, max_tokens: int = 1024) -> AsyncIterator[dict[str, object]]:
    """Events while the model writes: `{"delta": text}` pieces, then one `{"result": body}` that is valid.

    The streamed text is checked at the end; when it is not valid, names an excluded dish or is
    in another language than asked, the
    result comes from `recommend` (repair and stronger retries) and `{"restart": True}` tells the
    page to drop what it showed.
    """
    req = _request(request)
    language = language_of(req)
    grounding = retrieve(req.ingredients, req.except_recipe, k, index=index, household=household)
    pieces: list[str] = []
    async for delta in chat.stream(build_messages(req, grounding, language), json_schema=RecommendAnswer,
                                   temperature=temperature, max_tokens=max_tokens):
        pieces.append(delta)
        yield {"delta": delta}
    try:
        answer = RecommendAnswer.model_validate(validate(parse_json("".join(pieces)), RecommendAnswer))
        if acceptable(answer, req, language):
            yield {"result": Recommendation(answer, language, tuple(grounding)).as_dict()}
            return
    except (ValueError, LlmUnavailable):
        pass
    yield {"restart": True}
    done = await recommend(chat, req, k=k, index=index, household=household, temperature=temperature,
                           max_tokens=max_tokens)
    yield {"result": done.as_dict()}
