#!/usr/bin/env python3
"""Checks that twin_train.py's modules, loaded from a pdpaint model folder, compute what
`pdpaint forward` computes (same generator output and prior for the same image, mask, z), and
that writing the weights back reproduces the files.

    python3 scripts/gpu/check_twin.py --model models/default --pdpaint target/debug/pdpaint
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import twin_train as T  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--pdpaint", required=True)
    ap.add_argument("--batch", type=int, default=2)
    a = ap.parse_args()
    T.use_maxpool_hard_maps()
    model = T.load_model(a.model)
    gcfg, G, en, de = model.gcfg, model.G, model.en, model.de
    ge, pe = model.g_entries, model.p_entries
    r, b = gcfg.resolution, a.batch
    rng = np.random.default_rng(3)
    img = np.tanh(rng.normal(size=(b, 3, r, r))).astype(np.float32)
    hole = np.zeros((b, 1, r, r), np.float32)
    hole[:, :, r // 4: 3 * r // 4, r // 5: 3 * r // 5] = 1
    hole[1:, :, 5:20, 60:120] = 1
    z = rng.normal(size=(b, gcfg.z_dim)).astype(np.float32)
    with tempfile.TemporaryDirectory() as t:
        t = Path(t)
        for n, x in (("image", img), ("mask", hole), ("z", z)):
            np.save(t / f"{n}.npy", x)
        subprocess.run([a.pdpaint, "forward", "--model", a.model, "--image", t / "image.npy",
                        "--mask", t / "mask.npy", "--z", t / "z.npy", "--out", t / "out.npy",
                        "--prior-out", t / "prior.npy"], check=True)
        out_rust, prior_rust = np.load(t / "out.npy"), np.load(t / "prior.npy")
        with torch.no_grad():
            gt, h = torch.from_numpy(img), torch.from_numpy(hole)
            prior = T.prior_forward(en, de, gt, h)
            out = G(torch.from_numpy(z), prior, 1 - h)
        dp = np.abs(prior.numpy() - prior_rust).max()
        do = np.abs(out.numpy() - out_rust).max()
        print(f"prior max |diff| {dp:.2e}, generator output max |diff| {do:.2e}")
        # round trip of the weight files
        T.write_f16(str(t / "g.f16"), T.dump_generator(ge, G))
        T.write_f16(str(t / "p.f16"), T.dump_prior(pe, en, de))
        same = [(t / "g.f16").read_bytes() == (Path(a.model) / "generator.f16").read_bytes(),
                (t / "p.f16").read_bytes() == (Path(a.model) / "prior.f16").read_bytes()]
        print(f"weight files written back byte-identical: generator {same[0]}, prior {same[1]}")
        if dp > 1e-3 or do > 1e-3 or not all(same):
            raise SystemExit("twin does not match pdpaint")


if __name__ == "__main__":
    main()
