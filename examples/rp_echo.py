"""A handler file written for RunPod Serverless, unchanged: served by jobgate as endpoint ``rp-echo``.

Same outputs as ``echo``: returns ``{"echo": input}``; ``input.sleep`` (s) waits first,
``input.fail`` raises RuntimeError with that message, and ``input.progress`` (n) reports
``{"step": k, "of": n}`` for k = 1..n through ``runpod.serverless.progress_update``,
sleeping ``input.sleep`` seconds after each step.
"""

import time

import runpod


def handler(job):
    data = job["input"]
    params = data if isinstance(data, dict) else {}
    pause = float(params.get("sleep", 0) or 0)
    steps = int(params.get("progress", 0) or 0)
    if steps:
        for k in range(1, steps + 1):
            runpod.serverless.progress_update(job, {"step": k, "of": steps})
            time.sleep(pause)
    elif pause:
        time.sleep(pause)
    if params.get("fail"):
        raise RuntimeError(str(params["fail"]))
    return {"echo": data}


runpod.serverless.start({"handler": handler})
