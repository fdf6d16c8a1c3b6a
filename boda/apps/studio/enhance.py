"""The prompt enhancer: a short request ("빨간 소방차 장난감") to a detailed text-to-3D prompt, as in the seed.

The seed asked GPT-4o, with its own system prompt, to keep the user's facts, add common
recommendations and 3D-modelling keywords, and write one paragraph without line breaks,
at most 500 characters, in Korean. Here any `ChatModel` does it (OpenAI-compatible or a
local GGUF), in the user's language (Korean or English, detected), with the seed's prompt
as the default and a user's own system prompt instead when they set one.

The model's answer is held to that contract whatever it writes: labels, quotes, lists and
line breaks are folded into one paragraph; an answer over the limit is cut at its last
whole sentence; an answer in the wrong language gets one more try; an empty one is an
error, never an empty prompt. With no model (`llm.provider = off`) or a failing one, the
`LlmUnavailable` / `LlmRateLimited` of `boda.ai.llm` is raised, so the app can say the
enhancer is unavailable and use the prompt as typed.

`best_of` is the seed's Gemini variant: N candidates at spread temperatures, scored 1-10
by the model against a rubric (schema-validated JSON), all returned, the best marked.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing, nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal

from boda.ai.llm import ChatModel, LlmUnavailable
from boda.core.errors import InvalidInput

Language = Literal["ko", "en"]
LIMIT = 500  # characters, the seed's "500자 이내"
MAX_PROMPT = 2000  # characters a user's request may have
MAX_SYSTEM_PROMPT = 4000
MAX_CANDIDATES = 8
MAX_TOKENS = 800  # 500 Korean characters are about 500-700 tokens

# The seed's system prompt (the 3D Studio seed document, "E**nhancer Prompt**", GPT-4o), word for word; the
# seed's Python concatenated the sentences with no space between them, here they are separated by one.
SEED_SYSTEM_PROMPT_KO = (
    "너는 3D 모델을 생성하기 위한 최적의 프롬프트를 만드는 AI야. "
    "사용자의 요청을 분석하여 디테일한 프롬프트를 제공해야 해. "
    "사용자가 제공한 정보를 존중하며, 부족한 경우 일반적인 추천을 추가해. "
    "3D 모델링에 적합한 키워드를 선정하고, 문장은 직관적이며 이해하기 쉽게 작성해. "
    "프롬프트 내의 개행을 삭제하고, 자연스럽게 이어지도록 구성해. "
    "필요한 정보를 압축해 500자 이내로 한국어로 작성해."
)
# The same prompt in English, for English requests (the seed only wrote Korean).
SEED_SYSTEM_PROMPT_EN = (
    "You are an AI that writes the best possible prompt for generating a 3D model. "
    "Analyse the user's request and give a detailed prompt. "
    "Respect the information the user gave, and where something is missing, add common recommendations. "
    "Choose keywords suited to 3D modelling, and write sentences that are intuitive and easy to understand. "
    "Remove line breaks within the prompt and make it flow naturally. "
    "Compress the necessary information and write it in English within 500 characters."
)
DEFAULT_SYSTEM_PROMPTS: dict[Language, str] = {"ko": SEED_SYSTEM_PROMPT_KO, "en": SEED_SYSTEM_PROMPT_EN}

# Added after a user's own system prompt: the contract the answer is held to anyway, said to the model.
_CONTRACT: dict[Language, str] = {
    "ko": "출력: 프롬프트만, 개행 없는 한 문단, 500자 이내, 한국어.",
    "en": "Output: the prompt only, one paragraph without line breaks, at most 500 characters, in English.",
}
_WRONG_LANGUAGE: dict[Language, str] = {
    "ko": "한국어로 다시 써 줘. 프롬프트만, 개행 없는 한 문단, 500자 이내로.",
    "en": "Write it again in English: the prompt only, one paragraph, at most 500 characters.",
}

RUBRIC: dict[Language, str] = {
    "en": (
        "You judge prompts written for a text-to-3D model generator. Score each candidate from 1 (useless) to 10 "
        "(excellent) against this rubric: faithful to every fact in the user's request, contradicting or dropping "
        "none; concrete about what a 3D model needs (shape, parts, proportions, materials, colours, style); one "
        "object or scene a generator can model, without camera, background or story padding; clear, one paragraph, "
        "at most 500 characters; in the user's language. Give short reasons in English, then the score. Use the "
        "whole scale: the candidates differ, and so should their scores."
    ),
    "ko": (
        "너는 텍스트-3D 모델 생성기에 넣을 프롬프트를 평가해. 각 후보를 다음 기준으로 "
        "1점(쓸모없음)부터 10점(아주 좋음)까지 채점해: 사용자 요청의 사실을 하나도 빠뜨리거나 "
        "바꾸지 않았는가; 3D 모델에 필요한 것(형태, 부품, 비율, 재질, 색, 스타일)이 구체적인가; "
        "카메라, 배경, 이야기 같은 군더더기 없이 생성기가 만들 수 있는 하나의 물체나 장면인가; "
        "명확하고 한 문단이며 500자 이내인가; 사용자의 언어로 썼는가. 짧은 이유를 한국어로 먼저 "
        "쓰고 점수를 매겨. 후보마다 다르니 점수도 1-10 전체를 써서 구별해."
    ),
}


# --- the contract ---------------------------------------------------------------------------

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: str) -> Language:
    """"ko" when Hangul is a fifth of the letters or more (Korean requests mix in words like PBR), else "en"."""
    hangul = len(_HANGUL.findall(text))
    latin = len(_LATIN.findall(text))
    return "ko" if hangul and hangul >= 0.2 * (hangul + latin) else "en"


_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_LABEL = re.compile(r"^\s*(?:\*\*)?(?:enhanced|improved|optimi[sz]ed|final|3d)?\s*prompt\s*(?:\*\*)?\s*[:：]\s*|"
                    r"^\s*(?:\*\*)?(?:개선된|향상된|최적화된|최종)?\s*프롬프트\s*(?:\*\*)?\s*[:：]\s*", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d+[.)])\s+", re.MULTILINE)
_QUOTES = "\"'“”‘’「」『』"
_SENTENCE_END = re.compile(r"[.!?。！？](?=[\s\"'”’)]|$)")


def one_paragraph(text: str) -> str:
    """The answer as one paragraph: no code fence, label ("Prompt:"), list markers, bold marks, quotes or breaks."""
    text = _FENCE.sub("", text.strip())
    text = _LABEL.sub("", text, count=1)
    text = _BULLET.sub("", text).replace("**", "")
    text = " ".join(text.split())
    if len(text) > 1 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def fit(text: str, limit: int = LIMIT) -> str:
    """One paragraph of at most `limit` characters, cut after its last whole sentence when it runs over.

    Without a sentence end in the kept part (or only one in its first 40 %), it is cut at the last
    space and loose punctuation dropped; a single word longer than the limit is cut hard. "" only for "".
    """
    text = one_paragraph(text)
    if len(text) <= limit:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if m.end() <= limit]
    if ends and ends[-1] >= 0.4 * limit:
        return text[:ends[-1]].strip()
    cut = text[:limit + 1]
    space = cut.rfind(" ")
    if space > 0:
        return cut[:space].rstrip(" ,;:-—")
    return text[:limit]


# --- inputs ---------------------------------------------------------------------------------


def _request(prompt: str) -> str:
    text = " ".join(prompt.split())
    if not text:
        raise InvalidInput("Describe the model to make", key="studio_prompt_empty")
    if len(text) > MAX_PROMPT:
        raise InvalidInput(f"The description is longer than {MAX_PROMPT} characters",
                           details={"max_chars": MAX_PROMPT}, key="studio_prompt_too_long")
    return text


def _language(prompt: str, language: str | None) -> Language:
    if language is None:
        return detect_language(prompt)
    if language not in ("ko", "en"):
        raise InvalidInput("The enhancer writes Korean (ko) or English (en)", details={"language": language},
                           key="studio_language")
    return language  # type: ignore[return-value]


def system_prompt_for(language: Language, override: str | None = None) -> str:
    """The seed's prompt in the language, or the user's own with the output contract after it."""
    if override is None or not override.strip():
        return DEFAULT_SYSTEM_PROMPTS[language]
    if len(override) > MAX_SYSTEM_PROMPT:
        raise InvalidInput(f"The system prompt is longer than {MAX_SYSTEM_PROMPT} characters",
                           details={"max_chars": MAX_SYSTEM_PROMPT}, key="studio_system_prompt_too_long")
    return f"{override.strip()}\n\n{_CONTRACT[language]}"


def messages_for(prompt: str, language: Language, system_prompt: str | None = None) -> list[dict[str, str]]:
    return [{"role": "system", "content": system_prompt_for(language, system_prompt)},
            {"role": "user", "content": prompt}]


def _empty_answer(model: str) -> LlmUnavailable:
    return LlmUnavailable("The chat model answered with no prompt", details={"reason": "bad_output", "model": model},
                          key="llm_bad_output")


# --- one enhancement ------------------------------------------------------------------------


@dataclass(frozen=True)
class Enhanced:
    """Before and after. `language_kept` False when the model answered in another language even when asked again."""

    original: str
    enhanced: str
    language: Language
    system_prompt: Literal["default", "user"] = "default"
    attempts: int = 1
    language_kept: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"original": self.original, "enhanced": self.enhanced, "language": self.language,
                "system_prompt": self.system_prompt, "attempts": self.attempts, "language_kept": self.language_kept}


async def _ask(chat: ChatModel, messages: list[dict[str, str]], language: Language, temperature: float,
               max_tokens: int) -> tuple[str, int, bool]:
    """The fitted answer, the tries it took, whether it is in `language`: one more try if empty or not."""
    result = await chat.chat(messages, temperature=temperature, max_tokens=max_tokens)
    text = fit(result.text)
    if text and detect_language(text) == language:
        return text, 1, True
    again = [*messages, {"role": "assistant", "content": result.text}, {"role": "user", "content": _WRONG_LANGUAGE[
        language]}]
    second = await chat.chat(again, temperature=temperature, max_tokens=max_tokens)
    retried = fit(second.text)
    if retried and detect_language(retried) == language:
        return retried, 2, True
    if retried or text:
        return retried or text, 2, False
    raise _empty_answer(second.model or chat.model)


async def enhance(chat: ChatModel, prompt: str, *, system_prompt: str | None = None, language: str | None = None,
                  temperature: float = 0.4, max_tokens: int = MAX_TOKENS) -> Enhanced:
    """The request rewritten for text-to-3D: one paragraph, at most 500 characters, in the request's language.

    `system_prompt` is the user's own (None: the seed's); `language` "ko"/"en" (None: detected).
    Raises `LlmUnavailable` / `LlmRateLimited` when no model can answer.
    """
    original = _request(prompt)
    lang = _language(original, language)
    text, attempts, kept = await _ask(chat, messages_for(original, lang, system_prompt), lang, temperature,
                                      max_tokens)
    return Enhanced(original, text, lang, "user" if system_prompt and system_prompt.strip() else "default",
                    attempts, kept)


class EnhanceStream:
    """`async for delta in enhance_stream(...)`: the answer as it comes, folded into one paragraph.

    The deltas stop at `LIMIT` characters (the model is not read further). Afterwards `result`
    holds the enforced `Enhanced`; when the model ran over the limit, its text ends at the
    last whole sentence and so can be shorter than what was streamed: show `result` last.
    A stream gets no second try, so `language_kept` may be False. Iterate once: each iteration asks again.
    """

    def __init__(self, chat: ChatModel, original: str, language: Language, system_prompt: str | None,
                 temperature: float, max_tokens: int) -> None:
        self.chat = chat
        self.original = original
        self.language = language
        self._system_prompt = system_prompt
        self._temperature = temperature
        self._max_tokens = max_tokens
        self.result: Enhanced | None = None

    async def __aiter__(self) -> AsyncIterator[str]:
        raw, sent = "", ""
        messages = messages_for(self.original, self.language, self._system_prompt)
        stream = self.chat.stream(messages, temperature=self._temperature, max_tokens=self._max_tokens)
        # Leaving early (at the limit) closes the model's stream now, which ends the HTTP request, not at GC.
        async with aclosing(stream) if hasattr(stream, "aclose") else nullcontext():  # type: ignore[attr-defined]
            async for delta in stream:
                raw += delta
                # Only up to the last break is settled: a word, a label or a list marker may still be growing.
                settled = one_paragraph(raw[:max(raw.rfind(" "), raw.rfind("\n"), 0)])
                if len(raw) >= 40 and len(settled) > len(sent) and settled.startswith(sent) and len(sent) < LIMIT:
                    piece = settled[len(sent):LIMIT]
                    sent += piece
                    yield piece
                if len(settled) > LIMIT:
                    break
        whole = one_paragraph(raw)[:LIMIT]
        if len(whole) > len(sent) and whole.startswith(sent):
            yield whole[len(sent):]
        text = fit(raw)
        if not text:
            raise _empty_answer(self.chat.model)
        self.result = Enhanced(self.original, text, self.language,
                               "user" if self._system_prompt and self._system_prompt.strip() else "default",
                               1, detect_language(text) == self.language)


def enhance_stream(chat: ChatModel, prompt: str, *, system_prompt: str | None = None, language: str | None = None,
                   temperature: float = 0.4, max_tokens: int = MAX_TOKENS) -> EnhanceStream:
    """`enhance` as a stream of text deltas for the page (server-sent events); see `EnhanceStream`."""
    original = _request(prompt)
    return EnhanceStream(chat, original, _language(original, language), system_prompt, temperature, max_tokens)


# --- best of N ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    text: str
    score: int
    reasons: list[str]
    temperature: float

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "score": self.score, "reasons": self.reasons, "temperature": self.temperature}


@dataclass(frozen=True)
class BestOf:
    original: str
    language: Language
    candidates: list[Candidate] = field(default_factory=list)
    best_index: int = 0

    @property
    def best(self) -> Candidate:
        return self.candidates[self.best_index]

    def as_dict(self) -> dict[str, Any]:
        return {"original": self.original, "language": self.language, "best_index": self.best_index,
                "candidates": [c.as_dict() for c in self.candidates]}


def temperatures(n: int, low: float = 0.3, high: float = 1.1) -> list[float]:
    """N temperatures spread evenly from `low` to `high`, so the candidates differ (one: the middle)."""
    if n == 1:
        return [round((low + high) / 2, 3)]
    return [round(low + (high - low) * i / (n - 1), 3) for i in range(n)]


def score_schema(n: int) -> dict[str, Any]:
    """One required entry per candidate (`candidate_1`...), so no candidate is scored twice or skipped."""
    entry = {"type": "object", "additionalProperties": False, "required": ["reasons", "score"],
             "properties": {"reasons": {"type": "array", "minItems": 1, "maxItems": 4,
                                        "items": {"type": "string", "maxLength": 300}},
                            "score": {"type": "integer", "minimum": 1, "maximum": 10}}}
    names = [f"candidate_{i + 1}" for i in range(n)]
    return {"title": "scores", "type": "object", "additionalProperties": False, "required": names,
            "properties": {name: entry for name in names}}


def scoring_messages(original: str, texts: Sequence[str], language: Language) -> list[dict[str, str]]:
    listed = "\n".join(f"[candidate_{i + 1}] {text}" for i, text in enumerate(texts))
    head = "사용자 요청" if language == "ko" else "User's request"
    return [{"role": "system", "content": RUBRIC[language]},
            {"role": "user", "content": f"{head}: {original}\n\n{listed}"}]


async def best_of(chat: ChatModel, prompt: str, n: int = 5, *, system_prompt: str | None = None,
                  language: str | None = None, max_tokens: int = MAX_TOKENS) -> BestOf:
    """N enhancements at spread temperatures, each scored 1-10 against `RUBRIC` by the model; the best marked.

    Ties go to the earlier (cooler, more literal) candidate. A scoring answer that stays invalid
    after llm.py's one repair try raises `LlmUnavailable(reason="bad_output")`.
    """
    if not 1 <= n <= MAX_CANDIDATES:
        raise InvalidInput(f"Ask for 1 to {MAX_CANDIDATES} candidates", details={"n": n, "max": MAX_CANDIDATES},
                           key="studio_best_of_n")
    original = _request(prompt)
    lang = _language(original, language)
    messages = messages_for(original, lang, system_prompt)
    temps = temperatures(n)
    answers = await asyncio.gather(*(_ask(chat, messages, lang, t, max_tokens) for t in temps))
    texts = [text for text, _, _ in answers]
    scored = await chat.chat(scoring_messages(original, texts, lang), json_schema=score_schema(n), temperature=0.0,
                             max_tokens=200 + 250 * n)
    candidates = [Candidate(text, int(scored.data[f"candidate_{i + 1}"]["score"]),
                            [str(r) for r in scored.data[f"candidate_{i + 1}"]["reasons"]], temp)
                  for i, (text, temp) in enumerate(zip(texts, temps, strict=True))]
    best = max(range(n), key=lambda i: (candidates[i].score, -i))
    return BestOf(original, lang, candidates, best)
