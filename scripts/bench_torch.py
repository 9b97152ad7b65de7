#!/usr/bin/env python3
"""PyTorch reference timings for `pdpaint bench`: the same networks (our reference written from
the spec, scripts/pdgan_reference.py), same sizes, same machine, CPU.

Usage: /usr/bin/python3 scripts/bench_torch.py [--presets official small] [--repeats 5]
Prints one JSON object: median prior ms and generator ms per sample per preset.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdgan_reference as ref  # noqa: E402

PRESETS = {
    # nf, z_dim, nhidden, ngf  (must match src/model/config.rs)
    "official": (64, 256, 128, 64),
    "small": (16, 256, 24, 16),
}


def median_ms(fn, repeats):
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["official", "small"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "threads": a.threads, "repeats": a.repeats, "presets": []}
    for name in a.presets:
        nf, zd, nh, ngf = PRESETS[name]
        g = ref.SPDNormGenerator(ref.GenConfig(nf=nf, z_dim=zd, nhidden=nh)).eval()
        en = ref.PConvEncoder(ref.PriorConfig(ngf=ngf)).eval()
        de = ref.PConvDecoder(ref.PriorConfig(ngf=ngf)).eval()
        r = 256
        img = torch.rand(1, 3, r, r) * 2 - 1
        known = torch.ones(1, 3, r, r)
        known[:, :, r // 4: 3 * r // 4, r // 4: 3 * r // 4] = 0
        z = torch.randn(1, zd)
        with torch.no_grad():
            def prior():
                return de(*en(img * known, known))
            prior_ms = median_ms(prior, a.repeats)
            p = prior()
            gen_ms = median_ms(lambda: g(z, p, known[:, :1]), a.repeats)
        out["presets"].append({"preset": name, "prior_ms": prior_ms, "generator_ms_per_sample": gen_ms})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
