"""A RunPod streaming handler without return_aggregate_stream: /status shows [] as on RunPod."""

import runpod


def handler(job):
    for k in range(3):
        yield {"chunk": k}


runpod.serverless.start({"handler": handler})
