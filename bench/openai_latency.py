"""How much latency an OpenAI chat completion adds over /runsync on the same handler.

Against a live gateway and worker serving `echo-openai` (e.g. `make run`):

    .venv/bin/python bench/openai_latency.py --url http://127.0.0.1:8000 --key dev -n 100

Calls are interleaved (runsync, raw chat completion, openai-client chat completion) after a
warm-up, so drift in the machine's load hits all three alike. "raw" posts the same body with
a plain keep-alive HTTP session, isolating what the gateway adds from what the openai client
adds on its side. Prints medians in ms and the openai client version.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import openai
import requests

BODY = {"model": "echo", "messages": [{"role": "user", "content": "Hello there, how are you today?"}]}


def timed(call: Callable[[], None]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", default=(os.environ.get("JOBGATE_API_KEYS") or "dev").split(",")[0])
    parser.add_argument("--endpoint", default="echo-openai")
    parser.add_argument("-n", type=int, default=100, help="measured calls of each kind")
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()

    base = f"{args.url}/v2/{args.endpoint}"
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {args.key}"
    client = openai.OpenAI(base_url=f"{base}/openai/v1", api_key=args.key, max_retries=0, timeout=60)

    def runsync() -> None:
        r = http.post(
            f"{base}/runsync",
            json={"input": {"openai_route": "/v1/chat/completions", "openai_input": BODY}},
            timeout=60,
        )
        assert r.status_code == 200 and r.json()["status"] == "COMPLETED", r.text

    def raw_chat() -> None:
        r = http.post(f"{base}/openai/v1/chat/completions", json=BODY, timeout=60)
        assert r.status_code == 200 and r.json()["object"] == "chat.completion", r.text

    def client_chat() -> None:
        c = client.chat.completions.create(**BODY)
        assert c.choices[0].message.content

    kinds = {"runsync": runsync, "chat (plain HTTP)": raw_chat, "chat (openai client)": client_chat}
    for _ in range(args.warmup):
        for call in kinds.values():
            call()
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(args.n):
        for name, call in kinds.items():
            samples[name].append(timed(call))

    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"openai client {openai.__version__}; {args.n} calls of each kind against {base}")
    for name, value in medians.items():
        print(f"  {name:<22} median {value:7.2f} ms   p90 {statistics.quantiles(samples[name], n=10)[-1]:7.2f} ms")
    for name in ("chat (plain HTTP)", "chat (openai client)"):
        print(f"  {name} adds {medians[name] - medians['runsync']:+.2f} ms over runsync (median)")


if __name__ == "__main__":
    main()
