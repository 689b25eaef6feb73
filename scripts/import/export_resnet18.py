"""A CIFAR ResNet-18 (He et al.'s BasicBlock layout, [2, 2, 2, 2] blocks, base width 16) trained
briefly with PyTorch and exported to ONNX, for checking `rdc import onnx` on a network the tests do not
contain (docs/import.md). Writes OUT/resnet18.onnx and OUT/pytorch.json: PyTorch's predictions and
clean count on the first 100 CIFAR-10 test images.

  RDC_DATA_DIR=../shared/data/cifar-10-batches-bin /usr/bin/python3 scripts/import/export_resnet18.py runs/resnet18
"""

import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../test/fixtures/onnx"))
from export_fixtures import DATA, Block as BasicBlock, cifar  # noqa: E402  (the fixtures' reader and post-activation block)


class ResNet18(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.2471, 0.2435, 0.2616]).view(1, 3, 1, 1))
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, cin = [], width
        for i, stride in enumerate([1, 2, 2, 2]):
            cout = width * 2**i
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(cin, 10)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        x = F.avg_pool2d(x, 4)
        return self.linear(x.view(x.size(0), -1))


def main():
    if len(sys.argv) != 2 or not DATA:
        sys.exit("usage: RDC_DATA_DIR=... python3 export_resnet18.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = ResNet18()
    images, labels = cifar("data_batch_1.bin", 10000)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
    epochs = 3
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=epochs * (len(images) // 128))
    t0 = time.time()
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(images))
        for i in range(0, len(images) - 127, 128):
            idx = perm[i : i + 128]
            x = images[idx]
            x = torch.where((torch.rand(len(idx)) < 0.5).view(-1, 1, 1, 1), x.flip(3), x)
            loss = F.cross_entropy(model(x), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f} ({time.time() - t0:.0f} s)", file=sys.stderr)
    model.eval()
    test, test_labels = cifar("test_batch.bin", 100)
    with torch.no_grad():
        pred = model(test).argmax(1)
    torch.onnx.export(model, test[:1], os.path.join(out, "resnet18.onnx"), input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17)
    result = {"torch": torch.__version__, "images": 100, "correct": int((pred == test_labels).sum()), "predictions": pred.tolist(), "trainImages": len(images), "epochs": epochs, "seconds": round(time.time() - t0)}
    with open(os.path.join(out, "pytorch.json"), "w") as f:
        json.dump(result, f)
    print(json.dumps({k: result[k] for k in ("images", "correct", "seconds")}))


if __name__ == "__main__":
    main()
