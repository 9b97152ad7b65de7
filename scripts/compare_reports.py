#!/usr/bin/env python3
"""Compare two `pdpaint eval` reports of different models, item by item.

    scripts/compare_reports.py A.json B.json [--resamples 2000] [--seed 0]

A report's own bootstrap pairs PD-GAN with its baselines (prior, Telea) on the same items. Two
reports made with the same `--seed`, `--per-bin` and `--samples` on the same photos measure the
same crops, masks and z seeds, so two *models* can be paired the same way: per hole-ratio bin,
the mean of B - A over the bin's items with a 95 % percentile interval from a paired bootstrap
(the items resampled with replacement, the same resample for both models).

Measures (PD-GAN unless named): hole PSNR best and mean of N, VGG distance mean and best of N
(only when both reports measured it), spectral excess mean of N (only when both reports have
it), diversity L1, and the prior's hole PSNR and VGG distance.
SWD is a statistic of a bin's whole set of neighbourhoods, not of an item, so it is listed
without an interval. Markdown goes to stdout. Only the Python standard library is used.

The script refuses reports whose items differ (photo, crop, mask or z seeds): their difference
would mix the models with the data.
"""
import argparse
import json
import os
import random
import sys


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"error: cannot read the report: {e}: {path}")


def item_key(it):
    return (it["bin"], os.path.basename(it["photo"]), it["crop_seed"], it["mask_seed"],
            tuple(it["z_seeds"]))


def vgg_of(it, method, stat):
    v = it.get("vgg")
    if not v:
        return None
    x = v.get(method)
    if x is None:
        return None
    if isinstance(x, list):
        if not x:
            return None
        return sum(x) / len(x) if stat == "mean" else min(x)
    return x


def excess_of(it):
    v = it.get("spectral_excess")
    if not v or not v.get("pdgan"):
        return None
    return sum(v["pdgan"]) / len(v["pdgan"])


# (label, extractor, higher is better)
MEASURES = [
    ("PSNR best of N", lambda it: it["pdgan"]["psnr_best"], True),
    ("PSNR mean of N", lambda it: it["pdgan"]["psnr_mean"], True),
    ("VGG distance mean of N", lambda it: vgg_of(it, "pdgan", "mean"), False),
    ("VGG distance best of N", lambda it: vgg_of(it, "pdgan", "best"), False),
    ("spectral excess mean of N", excess_of, False),
    ("diversity L1", lambda it: it.get("diversity_l1"), True),
    ("prior PSNR", lambda it: it["prior"]["psnr_best"], True),
    ("prior VGG distance", lambda it: vgg_of(it, "prior", "mean"), False),
]


def paired(a_vals, b_vals, resamples, rng):
    d = [b - a for a, b in zip(a_vals, b_vals)]
    n = len(d)
    mean = sum(d) / n
    boots = []
    for _ in range(resamples):
        s = 0.0
        for _ in range(n):
            s += d[rng.randrange(n)]
        boots.append(s / n)
    boots.sort()
    lo = boots[int(0.025 * (resamples - 1))]
    hi = boots[int(0.975 * (resamples - 1))]
    return mean, lo, hi


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", help="report A (the reference), REPORT.json")
    ap.add_argument("b", help="report B (the candidate), REPORT.json")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.resamples < 100:
        sys.exit("error: --resamples must be at least 100")
    A, B = load(args.a), load(args.b)
    for k in ("seed", "per_bin", "samples"):
        if A["settings"][k] != B["settings"][k]:
            sys.exit(f"error: the reports differ in {k} ({A['settings'][k]} and "
                     f"{B['settings'][k]}): items cannot be paired")
    ka = [item_key(it) for it in A["items"]]
    kb = [item_key(it) for it in B["items"]]
    if ka != kb:
        sys.exit("error: the reports measured different items (photos, crops, masks or z "
                 "seeds): items cannot be paired")
    rng = random.Random(args.seed)
    bins = [b["bin"] for b in A["bins"]]
    print(f"# {os.path.basename(args.b)} − {os.path.basename(args.a)}\n")
    print(f"A: `{A['model']['path']}` ({A['model']['source'][:120]})  ")
    print(f"B: `{B['model']['path']}` ({B['model']['source'][:120]})  ")
    print(f"{A['settings']['per_bin']} items per bin, {A['settings']['samples']} samples, "
          f"seed {A['settings']['seed']}; B − A, 95 % paired-bootstrap interval over the "
          f"items ({args.resamples} resamples). ✓ = B better with the interval excluding 0, "
          f"✗ = B worse with it excluding 0.\n")
    print("| measure | " + " | ".join(bins) + " |")
    print("|---|" + "---:|" * len(bins))
    row = []
    for b_a, b_b in zip(A["bins"], B["bins"]):
        sa = b_a["methods"][0]["swd"]["mean"]
        sb = b_b["methods"][0]["swd"]["mean"]
        row.append(f"{sa:.1f} → {sb:.1f}")
    print("| SWD ×10³ (A → B, no interval) | " + " | ".join(row) + " |")
    for label, get, higher in MEASURES:
        cells = []
        for bn in bins:
            ia = [it for it in A["items"] if it["bin"] == bn]
            ib = [it for it in B["items"] if it["bin"] == bn]
            va = [get(it) for it in ia]
            vb = [get(it) for it in ib]
            if not va or any(v is None for v in va + vb):
                cells.append("–")
                continue
            mean, lo, hi = paired(va, vb, args.resamples, rng)
            better = (lo > 0) if higher else (hi < 0)
            worse = (hi < 0) if higher else (lo > 0)
            mark = " ✓" if better else (" ✗" if worse else "")
            prec = 2 if "PSNR" in label else (4 if "excess" in label else 3)
            cells.append(f"{mean:+.{prec}f} [{lo:+.{prec}f}, {hi:+.{prec}f}]{mark}")
        if all(c == "–" for c in cells):
            continue
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
