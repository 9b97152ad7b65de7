#!/usr/bin/env python3
"""Official-size parity check: our PyTorch reference (written from the spec) at the authors'
sizes with the authors' random init (N(0, 0.02) weights, zero biases, random unit u/v), saved in
the authors' checkpoint format, against `pdpaint import` + `pdpaint forward`.

Usage: /usr/bin/python3 scripts/check_official.py --pdpaint target/debug/pdpaint [--signed-mask-conv]
       [--work /tmp/pdpaint-official]
Prints the relative error (max|a-b| / max|b|) of the prior, the output and every map.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdgan_reference as ref  # noqa: E402
import make_fixtures as fx  # noqa: E402


def authors_init(net, signed_mask_conv):
    for name, m in net.named_modules():
        if isinstance(m, ref.PartialConv):
            nn.init.normal_(m.input_conv.weight, 0.0, 0.02)
            nn.init.normal_(m.mask_conv.weight, 0.0, 0.02)
            if not signed_mask_conv:
                m.mask_conv.weight.data.abs_()
        elif isinstance(m, ref.MaskGet):
            nn.init.normal_(m.mask_conv.weight, 0.0, 0.02)
        elif isinstance(m, (nn.Conv2d, nn.Linear, nn.ConvTranspose2d)):
            if name.endswith("input_conv") or name.endswith("mask_conv"):
                continue
            w = m.weight_orig if hasattr(m, "weight_orig") else m.weight
            nn.init.normal_(w, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
            if hasattr(m, "weight_u"):
                m.weight_u.copy_(F.normalize(torch.randn_like(m.weight_u), dim=0))
                m.weight_v.copy_(F.normalize(torch.randn_like(m.weight_v), dim=0))


def rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdpaint", required=True)
    ap.add_argument("--work", default="/tmp/pdpaint-official")
    ap.add_argument("--signed-mask-conv", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    torch.manual_seed(1)
    g_cfg, p_cfg, _ = ref.official_configs()
    G = ref.SPDNormGenerator(g_cfg)
    EN = ref.PConvEncoder(p_cfg)
    DE = ref.PConvDecoder(p_cfg)
    with torch.no_grad():
        for net in (G, EN, DE):
            authors_init(net, a.signed_mask_conv)
            net.eval()
    image = fx.make_image(np.random.default_rng(0))[:1]
    mask = fx.make_mask()[:1]
    z = np.random.default_rng(1).standard_normal((1, g_cfg.z_dim)).astype(np.float32)
    rec = {}
    with torch.no_grad():
        img, m = torch.from_numpy(image), torch.from_numpy(mask)
        inv = (1 - m).repeat(1, 3, 1, 1)
        prior = DE(*EN(img * inv, inv))
        out = G(torch.from_numpy(z), prior, 1 - m, rec)
    # The same networks in float64: how far float32 itself is from the exact result.
    rec64 = {}
    with torch.no_grad():
        for net in (G, EN, DE):
            net.double()
        img64, m64 = img.double(), m.double()
        inv64 = (1 - m64).repeat(1, 3, 1, 1)
        prior64 = DE(*EN(img64 * inv64, inv64))
        out64 = G(torch.from_numpy(z).double(), prior64, 1 - m64, rec64)
        for net in (G, EN, DE):
            net.float()
    paths = {k: os.path.join(a.work, k) for k in ["EN.pth", "DE.pth", "G.pth", "image.npy", "mask.npy", "z.npy"]}
    torch.save({"net": EN.state_dict()}, paths["EN.pth"])
    torch.save({"net": DE.state_dict()}, paths["DE.pth"])
    torch.save({"net": G.state_dict()}, paths["G.pth"])
    np.save(paths["image.npy"], image)
    np.save(paths["mask.npy"], mask)
    np.save(paths["z.npy"], z)
    model = os.path.join(a.work, "model")
    subprocess.run([a.pdpaint, "import", "--encoder", paths["EN.pth"], "--decoder", paths["DE.pth"],
                    "--generator", paths["G.pth"], "--out", model], check=True)
    maps = os.path.join(a.work, "maps")
    subprocess.run([a.pdpaint, "forward", "--model", model, "--image", paths["image.npy"],
                    "--mask", paths["mask.npy"], "--z", paths["z.npy"], "--out", os.path.join(a.work, "out.npy"),
                    "--prior-out", os.path.join(a.work, "prior.npy"), "--maps-out", maps, "--backend", "cpu"],
                   check=True)
    print(f"mask conv: {'signed N(0,.02) (authors)' if a.signed_mask_conv else '|N(0,.02)|'}")
    print("relative error: pdpaint vs PyTorch f32 | PyTorch f32 vs f64 | pdpaint vs f64")

    def line(name, ours, t32, t64):
        print(f"{name:<14} {rel(ours, t32):.2e} | {rel(t32, t64):.2e} | {rel(ours, t64):.2e}")

    line("prior", np.load(os.path.join(a.work, "prior.npy")), prior.numpy(), prior64.numpy())
    line("output", np.load(os.path.join(a.work, "out.npy")), out.numpy(), out64.numpy())
    for k in range(6):
        r, r64 = rec[f"u{k}"], rec64[f"u{k}"]
        for kind in ("hard", "soft"):
            line(f"unit {k} {kind}", np.load(os.path.join(maps, f"{kind}_{k}.npy")), r[kind].numpy(), r64[kind].numpy())


if __name__ == "__main__":
    main()
