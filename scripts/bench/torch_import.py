"""PyTorch's side of `pnpm bench --suite import`: the small ResNet of the ONNX parity fixture
(test/fixtures/onnx/export_fixtures.py, the same architecture; timing does not depend on the
weights), in eval mode, on one CPU thread by default: forward images/s and input-gradient images/s
(forward and backward to the input, the parameters frozen) at a batch. Prints one JSON line.

  /usr/bin/python3 scripts/bench/torch_import.py --batch 32 --threads 1 --min-seconds 3
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../test/fixtures/onnx"))
from export_fixtures import SmallResNet  # noqa: E402


def timed(fn, min_seconds):
    fn()
    runs = []
    start = time.perf_counter()
    while len(runs) < 3 or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    runs.sort()
    return runs[len(runs) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--min-seconds", type=float, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = SmallResNet().eval()
    for q in model.parameters():
        q.requires_grad_(False)
    x = torch.rand(a.batch, 3, 32, 32)
    v = torch.randn(a.batch, 10)

    def forward():
        with torch.no_grad():
            model(x)

    def gradient():
        xg = x.clone().requires_grad_(True)
        (model(xg) * v).sum().backward()

    fwd = timed(forward, a.min_seconds)
    grad = timed(gradient, a.min_seconds)
    print(json.dumps({"engine": f"pytorch {torch.__version__}", "threads": a.threads, "batch": a.batch, "forward_img_s": a.batch / fwd, "gradient_img_s": a.batch / grad}))


if __name__ == "__main__":
    main()
