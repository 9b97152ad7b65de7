#!/usr/bin/python3
"""Writes tests/fixtures/vgg/: tiny torchvision-format VGG state dicts and reference features.

torchvision may not be installed (Debian ships it separately), so the `features` stack is built
here with torch.nn.Sequential in exactly torchvision's layout: conv3x3(pad 1) + ReLU per layer,
MaxPool2d(2, 2) after each block. The module indices therefore match torchvision's keys
(`features.{i}.weight` / `.bias`). Every width is the torchvision width divided by WIDTH_DIV
(32: 2, 4, 8, 16, 16 channels), so each file is about 60 KB. A tiny `classifier.0.*` pair is added
to check that the loader ignores classifier keys.

For each kind the script saves, for one input `input.npy` [1, 3, 32, 32] in [-1, 1] (used as is,
no ImageNet normalisation, as the PD-GAN authors do), the activations after selected ReLUs as
`{kind}_{tap}.npy`.

Run: /usr/bin/python3 scripts/make_vgg_fixture.py   (deterministic: torch.manual_seed(0))
"""

import os
import sys

import numpy as np
import torch
import torch.nn as nn

WIDTH_DIV = 32
BLOCKS = {"vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}
WIDTHS = [64, 128, 256, 512, 512]
TAPS = {
    "vgg16": ["relu1_1", "relu1_2", "relu2_2", "relu3_3", "relu4_1", "relu5_3"],
    "vgg19": ["relu1_1", "relu2_1", "relu3_4", "relu4_4", "relu5_1", "relu5_4"],
}


def build(kind):
    layers, names, cin = [], {}, 3
    for b, n in enumerate(BLOCKS[kind]):
        cout = max(1, WIDTHS[b] // WIDTH_DIV)
        for j in range(n):
            layers.append(nn.Conv2d(cin, cout, 3, padding=1))
            # Kaiming-normal weights and small random biases, so biases are checked too.
            nn.init.kaiming_normal_(layers[-1].weight, nonlinearity="relu")
            nn.init.uniform_(layers[-1].bias, -0.1, 0.1)
            layers.append(nn.ReLU(inplace=False))
            names[len(layers) - 1] = f"relu{b + 1}_{j + 1}"
            cin = cout
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers), names


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "vgg")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    np.save(os.path.join(out, "input.npy"), x.numpy().astype(np.float32))
    for kind in ["vgg16", "vgg19"]:
        features, names = build(kind)
        sd = {f"features.{k}": v for k, v in features.state_dict().items()}
        sd["classifier.0.weight"] = torch.randn(4, 8)
        sd["classifier.0.bias"] = torch.randn(4)
        torch.save(sd, os.path.join(out, f"{kind}_w{WIDTH_DIV}.pth"))
        got = {}
        h = x
        with torch.no_grad():
            for i, layer in enumerate(features):
                h = layer(h)
                if i in names:
                    got[names[i]] = h.clone()
        for tap in TAPS[kind]:
            np.save(os.path.join(out, f"{kind}_{tap}.npy"), got[tap].numpy().astype(np.float32))
            print(kind, tap, tuple(got[tap].shape), float(got[tap].abs().mean()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
