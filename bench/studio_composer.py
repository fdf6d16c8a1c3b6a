"""The primitive composer's own time: scene JSON to GLB bytes, the LLM round trip with zero delay, and offline.

Run: .venv/bin/python bench/studio_composer.py [--runs 200]
Prints p50/p99 in milliseconds; asserts nothing.

- json -> glb: a 30-part scene (the fire-truck template: boxes, cylinders, a sphere-free mix
  with wheels and hubs) as JSON text, validated by the pydantic schema and built by trimesh
  into a GLB (the part the composer adds to every generation);
- llm -> glb: the same scene answered by the local OpenAI-protocol test server (no delay),
  through the real SDK client, parsed, validated, built: Boda's overhead with the model's
  time taken out;
- offline -> glb: "빨간 소방차 장난감" matched against the template library with
  Universal Sentence Encoder multilingual (already loaded), recoloured, built.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from boda.ai.composer import Scene, build_glb, compose_offline, compose_scene  # noqa: E402
from boda.ai.composer_templates import TEMPLATES  # noqa: E402
from boda.ai.llm import OpenAICompatibleChat  # noqa: E402
from boda.ai.registry import usable_cores  # noqa: E402
from boda.ai.text_encoders import UseMultilingual  # noqa: E402
from tests.ai.openai_server import ChatServer, serving  # noqa: E402


def timed(label: str, runs: int, step: Callable[[], object]) -> None:
    step()  # warm: imports, caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    p50, p99 = np.percentile(times, [50, 99])
    print(f"{label:<16} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   ({runs} runs)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    scene = TEMPLATES["fire_truck"].scene
    text = scene.model_dump_json()
    glb = build_glb(scene)
    import trimesh

    print(f"{usable_cores()} cores, {platform.processor() or platform.machine()}, load {os.getloadavg()[0]:.1f}, "
          f"Python {platform.python_version()}, trimesh {trimesh.__version__}")
    print(f"scene: {len(scene.parts)} parts, {len(text)} bytes of JSON, GLB {len(glb) / 1024:.0f} KiB")

    timed("json -> glb", args.runs, lambda: build_glb(Scene.model_validate_json(text)))

    with serving(ChatServer()) as server:
        chat = OpenAICompatibleChat(model="text-model", base_url=server.url, api_key="sk-test", max_retries=0)

        async def many() -> None:
            for _ in range(args.runs + 1):
                server.script.append({"content": text})
                start = time.perf_counter()
                build_glb(await compose_scene(chat, "빨간 소방차 장난감"))
                times.append((time.perf_counter() - start) * 1000)

        times: list[float] = []
        asyncio.run(many())
        p50, p99 = np.percentile(times[1:], [50, 99])
        print(f"{'llm -> glb':<16} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   ({args.runs} runs, local server)")

    encoder = UseMultilingual(threads=1)
    timed("offline -> glb", args.runs, lambda: build_glb(compose_offline("빨간 소방차 장난감", encoder).scene))


if __name__ == "__main__":
    main()
