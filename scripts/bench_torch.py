#!/usr/bin/env python3
"""PyTorch reference timings for `pdpaint bench`: the same networks (our reference written from
the spec, scripts/pdgan_reference.py), same sizes, same machine, CPU.

Inference (default): median prior ms and generator ms per sample per preset, 256², batch 1.
`--train`: median seconds per training step of each stage through the code of the PyTorch twin
of `pdpaint train` (scripts/gpu/twin_train.py: `stage1_terms` + Adam, `stage2_step`), with the
same networks, batch, resolution, losses and seeded random VGG-16 shape as `pdpaint bench
--train`. Both print one JSON object. scripts/bench_compare.sh runs this next to pdpaint.

Usage: python3 scripts/bench_torch.py [--presets official small] [--repeats 5] [--threads 2]
       python3 scripts/bench_torch.py --train [--train-res 128 256] [--train-batch 4]
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "gpu"))
import pdgan_reference as ref  # noqa: E402

PRESETS = {
    # nf, z_dim, nhidden, ngf, ndf  (must match Preset::config in src/model/config.rs)
    "official": (64, 256, 128, 64, 64),
    "small": (16, 256, 24, 16, 16),
}


def median_ms(fn, repeats, prepare=lambda: ()):
    """Median ms of `fn(*prepare())` over `repeats` runs after one warm-up; `prepare` (untimed)
    makes each run's inputs."""
    fn(*prepare())  # warm-up
    ts = []
    for _ in range(repeats):
        args = prepare()
        t = time.perf_counter()
        fn(*args)
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def known_square(b, c, r):
    """A centred square hole over a quarter of the image (1 = known), as `pdpaint bench`."""
    known = torch.ones(b, c, r, r)
    known[:, :, r // 4: 3 * r // 4, r // 4: 3 * r // 4] = 0
    return known


def bench_inference(a):
    out = []
    for name in a.presets:
        nf, zd, nh, ngf, _ = PRESETS[name]
        g = ref.SPDNormGenerator(ref.GenConfig(nf=nf, z_dim=zd, nhidden=nh)).eval()
        en = ref.PConvEncoder(ref.PriorConfig(ngf=ngf)).eval()
        de = ref.PConvDecoder(ref.PriorConfig(ngf=ngf)).eval()
        r = 256
        img = torch.rand(1, 3, r, r) * 2 - 1
        known = known_square(1, 3, r)
        z = torch.randn(1, zd)
        with torch.no_grad():
            def prior():
                return de(*en(img * known, known))
            prior_ms = median_ms(prior, a.repeats)
            p = prior()
            gen_ms = median_ms(lambda: g(z, p, known[:, :1]), a.repeats)
        out.append({"preset": name, "resolution": r, "prior_ms": prior_ms,
                    "generator_ms_per_sample": gen_ms})
    return out


def random_vgg(twin, width_div, seed):
    """A seeded random VGG-16 conv base of the same shapes as `Vgg::random` (widths divided by
    `width_div`; the values differ, which does not change the timing)."""
    widths = [64, 128, 256, 512, 512]
    gen = torch.Generator().manual_seed(seed)
    entries = []
    cin = 3
    k = 0
    for b, n in enumerate(twin.VGG16_BLOCKS):
        cout = max(widths[b] // width_div, 1)
        for _ in range(n):
            w = torch.randn(cout, cin, 3, 3, generator=gen) * (2.0 / (9 * cin)) ** 0.5
            entries.append((f"convs.{k}.weight", list(w.shape), w.numpy()))
            entries.append((f"convs.{k}.bias", [cout], torch.zeros(cout).numpy()))
            cin = cout
            k += 1
    return twin.Vgg(entries)


def random_batch(masks, b, r, rng):
    gt = torch.rand(b, 3, r, r) * 2 - 1
    hole = torch.from_numpy(masks.batch("mixed", b, r, rng).astype("float32"))
    return gt, hole


def bench_train(a):
    import numpy as np

    import masks
    import twin_train as twin

    twin.use_maxpool_hard_maps()
    out = []
    for name in a.presets:
        nf, zd, nh, ngf, ndf = PRESETS[name]
        for res in a.train_res:
            latent = max(res // 64, 1)
            gcfg = ref.GenConfig(nf=nf, z_dim=zd, nhidden=nh, latent=latent)
            r = gcfg.resolution
            b = a.train_batch
            rng = np.random.default_rng(0)
            print(f"timing training of {name} at {r}² (batch {b})…", file=sys.stderr)
            vgg = random_vgg(twin, a.vgg_width_div, 1)
            en = ref.PConvEncoder(ref.PriorConfig(ngf=ngf))
            de = ref.PConvDecoder(ref.PriorConfig(ngf=ngf))
            for m in (en, de, vgg):
                m.eval()
            for m in (en, de):
                for pname, prm in m.named_parameters():
                    if pname.endswith("mask_conv.weight"):
                        prm.requires_grad_(False)
            params = [p for m in (en, de) for p in m.parameters() if p.requires_grad]
            opt = torch.optim.Adam(params, lr=1e-3, betas=(0.0, 0.999), eps=1e-8)

            def next_batch():
                return random_batch(masks, b, r, rng)

            def stage1(gt, hole):
                total, _ = twin.stage1_terms(en, de, vgg, gt, hole)
                opt.zero_grad(set_to_none=True)
                total.backward()
                opt.step()

            s1 = median_ms(stage1, a.repeats, next_batch) / 1e3
            for prm in list(en.parameters()) + list(de.parameters()):
                prm.requires_grad_(False)
            g = ref.SPDNormGenerator(gcfg).eval()
            d = ref.MultiscaleDiscriminator(
                ref.DiscConfig(ndf=ndf, n_layers=4, num_D=2, input_nc=6)).eval()
            opt_g = torch.optim.Adam([p for p in g.parameters() if p.requires_grad], lr=5e-4,
                                     betas=(0.0, 0.9), eps=1e-8)
            opt_d = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.0, 0.9), eps=1e-8)

            def stage2(gt, hole):
                twin.stage2_step(g, d, en, de, vgg, gt, hole, opt_g, opt_d, zd)

            s2 = median_ms(stage2, a.repeats, next_batch) / 1e3
            out.append({"preset": name, "resolution": r, "batch": b,
                        "vgg_width_div": a.vgg_width_div,
                        "stage1_steps_per_s": 1.0 / s1, "stage2_steps_per_s": 1.0 / s2})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=None,
                    help="default: official and small (small only with --train)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--train", action="store_true", help="time training steps instead")
    ap.add_argument("--train-res", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--train-batch", type=int, default=4)
    ap.add_argument("--vgg-width-div", type=int, default=4)
    a = ap.parse_args()
    if a.presets is None:
        a.presets = ["small"] if a.train else ["official", "small"]
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(),
           "repeats": a.repeats}
    if a.train:
        out["train"] = bench_train(a)
    else:
        out["presets"] = bench_inference(a)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
