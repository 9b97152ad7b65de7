#!/usr/bin/env python3
"""PyTorch twin of `pdpaint train`, for a lent GPU machine that has PyTorch but no Rust.

It continues training a pdpaint model (prior, then PD-GAN) with the same networks (the
parity-tested `scripts/pdgan_reference.py`), the same losses, optimiser settings, crops and
masks as `src/train` (stage1.rs, stage2.rs, losses.rs, data/mod.rs; masks from
`scripts/gpu/masks.py`), and reads and writes pdpaint's own half-precision weight files
(`*.f16`, `src/model/half.rs`), so what it writes drops into a pdpaint model folder.

What differs from `pdpaint train`: the budget is wall-clock seconds rather than steps (the
learning rate is constant for the first sixth of each phase's time, then decays linearly to 0,
as `pdpaint train`'s schedule does over steps); the batch size is larger; Adam restarts (no
optimiser state travels); random numbers come from PyTorch/numpy, not ChaCha8.

Inputs: a model folder with `config.json`, `generator.f16`, `prior.f16`; a folder with the
checkpoint's `discriminator.f16` and the run's seeded random VGG `vgg.f16` (written by
`cargo run --example twin_weights`); a folder of training photos.

    python3 scripts/gpu/twin_train.py --model models/default --init DIR --photos DIR \
        --out OUT --prior-seconds 120 --pdgan-seconds 360 --batch 16
"""

import argparse
import json
import math
import os
import re
import struct
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
import pdgan_reference as R  # noqa: E402
import masks as M  # noqa: E402

MAGIC = b"PDPF16v1"
MAX_LOADED_SIDE = 1536  # src/data/mod.rs


# --------------------------------------------------------------------------
# pdpaint's *.f16 files and the key mapping to the reference modules
# --------------------------------------------------------------------------


def read_f16(path):
    """[(module path, shape, float32 array)] in file order."""
    b = Path(path).read_bytes()
    if b[:8] != MAGIC:
        raise ValueError(f"not a pdpaint f16 file: {path}")
    n = struct.unpack("<Q", b[8:16])[0]
    header = json.loads(b[16:16 + n])
    off = 16 + n
    out = []
    for e in header:
        cnt = int(np.prod(e["shape"], dtype=np.int64))
        a = np.frombuffer(b, dtype="<f2", count=cnt, offset=off)
        out.append((e["path"], list(e["shape"]), a.astype(np.float32).reshape(e["shape"])))
        off += 2 * cnt
    if off != len(b):
        raise ValueError(f"{len(b) - off} trailing bytes: {path}")
    return out


def write_f16(path, entries):
    """Writes [(module path, shape, float32 array)] atomically."""
    header = json.dumps([{"path": p, "shape": s} for p, s, _ in entries],
                        separators=(",", ":")).encode()
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        for p, s, a in entries:
            a = np.asarray(a, dtype=np.float32).reshape(s)
            h = a.astype("<f2")
            if not np.isfinite(h[np.isfinite(a)]).all():
                raise ValueError(f"{p} is outside the half-precision range")
            f.write(h.tobytes())
    os.replace(tmp, path)


def split_parts(path, limit):
    """Replaces `path` by `path.0`, `path.1`, … of at most `limit` bytes each when it is
    larger (the GPU machine returns files of at most 16 MiB); `cat path.*` rejoins them."""
    for old in Path(path).parent.glob(Path(path).name + ".*"):
        if old.suffix[1:].isdigit():
            old.unlink()
    if limit <= 0 or Path(path).stat().st_size <= limit:
        return
    b = Path(path).read_bytes()
    for k in range(0, max(1, math.ceil(len(b) / limit))):
        part = f"{path}.{k}"
        Path(part + ".tmp").write_bytes(b[k * limit:(k + 1) * limit])
        os.replace(part + ".tmp", part)
    os.remove(path)


def gen_key(p):
    """pdpaint generator path → reference (authors') key."""
    p = p.replace(".mlp_activate.", ".mlp_activate.0.")
    p = p.replace(".conv_to_f.conv_in.", ".conv_to_f.0.")
    p = p.replace(".conv_to_f.conv_out.", ".conv_to_f.3.")
    p = p.replace(".attention.", ".attention.0.")
    return p


def by_rules(rules, p):
    """The first rule whose pattern matches all of `p` maps it."""
    for pattern, mapped in rules:
        m = re.fullmatch(pattern, p)
        if m:
            return mapped(m)
    raise KeyError(p)


PRIOR_RULES = [
    (r"encoder\.(\d+)\.conv\.(input_conv|mask_conv)",
     lambda m: ("en", f"Encoder_{int(m[1]) + 1}.conv.{m[2]}.weight")),
    (r"encoder\.(\d+)\.norm\.(weight|bias)",
     lambda m: ("en", f"Encoder_{int(m[1]) + 1}.norm.{m[2]}")),
    (r"middle\.(\d+)\.(conv_1|conv_2)\.(input_conv|mask_conv)",
     lambda m: ("en", f"middle.{m[1]}.{m[2]}.{m[3]}.weight")),
    (r"decoder\.(\d+)\.(up|norm)\.(weight|bias)",
     lambda m: ("de", f"Decoder_{int(m[1]) + 1}.model.{1 if m[2] == 'up' else 2}.{m[3]}")),
]


def prior_key(p):
    """pdpaint prior path → ('en' | 'de', reference key)."""
    return by_rules(PRIOR_RULES, p)


def disc_key(p, n_layers):
    """pdpaint discriminator path → reference key."""
    return by_rules([
        (r"scales\.(\d+)\.model0\.(weight|bias)",
         lambda m: f"discriminator_{m[1]}.model0.0.{m[2]}"),
        (r"scales\.(\d+)\.mid\.(\d+)\.(weight_orig|weight_u|weight_v)",
         lambda m: f"discriminator_{m[1]}.model{int(m[2]) + 1}.0.0.{m[3]}"),
        (r"scales\.(\d+)\.last\.(weight|bias)",
         lambda m: f"discriminator_{m[1]}.model{n_layers}.0.{m[2]}"),
    ], p)


TOLERATED = re.compile(r".*\.block\.v$|.*\.mask_conv\.mask_conv\.weight$")


def load_into(entries, modules, keyfn, transpose=()):
    """Copies f16 entries into the modules' state dicts; every reference key must be filled
    (except the unused ones in TOLERATED). `keyfn(path) -> (module name, key)`."""
    sds = {name: m.state_dict() for name, m in modules.items()}
    filled = {name: set() for name in modules}
    for p, shape, a in entries:
        name, key = keyfn(p)
        t = torch.from_numpy(np.ascontiguousarray(a.T if p in transpose else a))
        if key not in sds[name]:
            raise KeyError(f"{p} → {name}:{key} is not a reference key")
        if tuple(sds[name][key].shape) != tuple(t.shape):
            raise ValueError(f"{p}: shape {tuple(t.shape)} vs {tuple(sds[name][key].shape)}")
        with torch.no_grad():
            sds[name][key].copy_(t)
        filled[name].add(key)
    for name, sd in sds.items():
        missing = [k for k in sd if k not in filled[name] and not TOLERATED.match(k)]
        if missing:
            raise KeyError(f"{name}: reference keys not filled: {missing[:5]}")


def dump_from(entries, modules, keyfn, transpose=()):
    """The entries' paths and shapes with the modules' current values (f16 file order)."""
    sds = {name: m.state_dict() for name, m in modules.items()}
    out = []
    for p, shape, _ in entries:
        name, key = keyfn(p)
        a = sds[name][key].detach().float().cpu().numpy()
        out.append((p, shape, np.ascontiguousarray(a.T if p in transpose else a)))
    return out


def _gen(k):
    return "g", gen_key(k)


# burn's Linear stores [in, out], PyTorch's [out, in]
GEN_TRANSPOSED = {"fc.weight"}


def load_model(model_dir):
    """A pdpaint model folder's configuration, generator and prior as reference modules (on the
    CPU, eval mode), with the f16 entries that `dump_generator` / `dump_prior` write back in."""
    cfg = json.loads((Path(model_dir) / "config.json").read_text())["config"]
    g, p, d = cfg["generator"], cfg["prior"], cfg["discriminator"]
    m = SimpleNamespace(
        gcfg=R.GenConfig(nf=g["nf"], z_dim=g["z_dim"], nhidden=g["nhidden"], latent=g["latent"]),
        pcfg=R.PriorConfig(ngf=p["ngf"]),
        dcfg=R.DiscConfig(ndf=d["ndf"], n_layers=d["n_layers"], num_D=d["num_d"],
                          input_nc=d["input_nc"]),
        g_entries=read_f16(Path(model_dir) / "generator.f16"),
        p_entries=read_f16(Path(model_dir) / "prior.f16"),
    )
    m.G = R.SPDNormGenerator(m.gcfg).eval()
    m.en, m.de = R.PConvEncoder(m.pcfg).eval(), R.PConvDecoder(m.pcfg).eval()
    load_into(m.g_entries, {"g": m.G}, _gen, transpose=GEN_TRANSPOSED)
    load_into(m.p_entries, {"en": m.en, "de": m.de}, prior_key)
    return m


def dump_generator(entries, G):
    return dump_from(entries, {"g": G}, _gen, transpose=GEN_TRANSPOSED)


def dump_prior(entries, en, de):
    return dump_from(entries, {"en": en, "de": de}, prior_key)


def use_maxpool_hard_maps():
    """pdpaint dilates the hard map with a max-pool (equal to the authors' `conv != 0`)."""
    R.SPDNormResnetBlock.hard = lambda self, mr, base="e": R.hard_map(mr, self.n, self.ks,
                                                                      base=base)


# --------------------------------------------------------------------------
# the frozen random VGG-16 (src/model/vgg.rs)
# --------------------------------------------------------------------------

VGG16_BLOCKS = [2, 2, 3, 3, 3]
POS = {"relu1_1": 0, "relu2_1": 2, "relu2_2": 3, "relu3_1": 4, "relu3_3": 6, "relu4_1": 7,
       "relu4_3": 9, "relu5_1": 10}


class Vgg(nn.Module):
    def __init__(self, entries):
        super().__init__()
        ws = {p: a for p, _, a in entries}
        n = len(entries) // 2
        convs = []
        for k in range(n):
            w = torch.from_numpy(ws[f"convs.{k}.weight"])
            c = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1)
            with torch.no_grad():
                c.weight.copy_(w)
                c.bias.copy_(torch.from_numpy(ws[f"convs.{k}.bias"]))
            convs.append(c)
        self.convs = nn.ModuleList(convs)
        for p in self.parameters():
            p.requires_grad_(False)

    def features(self, x, taps):
        positions = [POS[t] for t in taps]
        deepest = max(positions)
        out = [None] * len(positions)
        k = 0
        h = x
        for b, n in enumerate(VGG16_BLOCKS):
            if b > 0:
                h = F.max_pool2d(h, 2, 2)
            for _ in range(n):
                h = F.relu(self.convs[k](h))
                for i, p in enumerate(positions):
                    if p == k:
                        out[i] = h
                if k == deepest:
                    return out
                k += 1
        return out


# --------------------------------------------------------------------------
# losses (src/train/losses.rs)
# --------------------------------------------------------------------------


def l1(a, b):
    return (a - b).abs().mean()


def composite(out, gt, hole):
    return out * hole + gt * (1 - hole)


def gram(f):
    b, c, h, w = f.shape
    flat = f.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def tv(img, hole):
    """TV inside the 3×3-dilated hole (rows 'fixed')."""
    b, c, h, w = img.shape
    dl = (F.max_pool2d(hole.expand(b, c, h, w), 3, 1, 1) > 0).float()
    mc = dl[..., 1:] * dl[..., :-1]
    col = (mc * (img[..., 1:] - img[..., :-1])).abs().mean()
    mr = dl[..., 1:, :] * dl[..., :-1, :]
    row = (mr * (img[..., 1:, :] - img[..., :-1, :])).abs().mean()
    return col + row


def hinge_d(fake, real):
    s = max(len(fake), 1)
    return (sum(F.relu(p + 1).mean() for p in fake) + sum(F.relu(1 - p).mean() for p in real)) / s


def hinge_g(fake):
    return -sum(p.mean() for p in fake) / max(len(fake), 1)


def feature_matching(fake, real, lam):
    s = max(len(fake), 1)
    tot = 0.0
    for fs, rs in zip(fake, real):
        for f, r in list(zip(fs, rs))[: len(fs) - 1]:
            tot = tot + l1(f, r.detach())
    return tot * (lam / s)


# --------------------------------------------------------------------------
# spectral norm: one training-mode power iteration per step (stage2.rs)
# --------------------------------------------------------------------------


def sn_modules(module):
    return [m for m in module.modules() if hasattr(m, "weight_orig")]


@torch.no_grad()
def power_iterate(module, times=1):
    for m in sn_modules(module):
        w = m.weight_orig.reshape(m.weight_orig.shape[0], -1)
        u, v = m.weight_u, m.weight_v
        for _ in range(times):
            v.copy_(F.normalize(w.t() @ u, dim=0, eps=1e-12))
            u.copy_(F.normalize(w @ v, dim=0, eps=1e-12))


# --------------------------------------------------------------------------
# data: random-scale crops (src/data/mod.rs) and masks
# --------------------------------------------------------------------------


def load_photos(root):
    exts = {".jpg", ".jpeg", ".png", ".webp"}
    photos = []
    for p in sorted(Path(root).rglob("*")):
        if p.suffix.lower() not in exts:
            continue
        try:
            img = Image.open(p).convert("RGB")
        except OSError as e:
            print(f"skipped {p}: {e}", file=sys.stderr)
            continue
        w, h = img.size
        if max(w, h) > MAX_LOADED_SIDE:
            s = MAX_LOADED_SIDE / max(w, h)
            img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR)
        photos.append(img)
    if not photos:
        raise SystemExit(f"no photos in {root}")
    return photos


def crop(img, res, rng):
    w, h = img.size
    short = max(min(w, h), 1)
    lo = max(0.25 * short, 1.0)
    hi = max(1.0 * short, lo)
    side = int(min(max(round(rng.uniform(lo, hi)), 1), short))
    x0 = int(rng.integers(0, w - side + 1))
    y0 = int(rng.integers(0, h - side + 1))
    c = img.crop((x0, y0, x0 + side, y0 + side))
    if side != res:
        c = c.resize((res, res), Image.BILINEAR)
    a = np.asarray(c, dtype=np.float32)
    if rng.random() < 0.5:
        a = a[:, ::-1]
    return np.ascontiguousarray((a / 127.5 - 1.0).transpose(2, 0, 1))


class Samples(torch.utils.data.IterableDataset):
    def __init__(self, photos, res, mask_kind, seed):
        self.photos, self.res, self.kind, self.seed = photos, res, mask_kind, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid = info.id if info is not None else 0
        rng = np.random.default_rng([self.seed, wid])
        while True:
            img = self.photos[int(rng.integers(0, len(self.photos)))]
            x = crop(img, self.res, rng)
            m = M.generate(self.kind, self.res, self.res, rng)[None].astype(np.float32)
            yield torch.from_numpy(x), torch.from_numpy(m)


def fixed_batch(photos, res, kind, n, seed):
    rng = np.random.default_rng(seed)
    xs, ms = [], []
    for _ in range(n):
        xs.append(crop(photos[int(rng.integers(0, len(photos)))], res, rng))
        ms.append(M.generate(kind, res, res, rng)[None].astype(np.float32))
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ms))


def lr_factor(t, budget, start, warmup=0.0):
    """Constant for the first sixth of the budget, then linear decay to 0 (run.rs schedule).
    A linear warm-up over the first `warmup` seconds spares trained weights the first, large
    steps of a fresh Adam (no optimiser state travels)."""
    c = budget / 6
    if t < warmup:
        return start * max(t / warmup, 0.01)
    if t < c:
        return start
    return start * max(0.0, 1 - (t - c) / max(budget - c, 1e-9))


# --------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.t0 = time.time()

    def __call__(self, **kw):
        kw["wall"] = round(time.time() - self.t0, 2)
        self.f.write(json.dumps(kw) + "\n")
        print(json.dumps(kw), flush=True)


def prior_forward(en, de, gt, hole):
    known3 = (1 - hole).expand_as(gt)
    return de(*en(gt * known3, known3))


PERC1 = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
STYLE1 = ["relu2_2", "relu3_3", "relu4_3"]
PERC2 = ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]


def stage1_terms(en, de, vgg, gt, hole):
    out = prior_forward(en, de, gt, hole)
    diff = (out - gt).abs()
    hole_l1 = (diff * hole).mean()
    valid_l1 = (diff * (1 - hole)).mean()
    comp = composite(out, gt, hole)
    with torch.no_grad():
        f_gt = vgg.features(gt, PERC1 + STYLE1)
    f_out = vgg.features(out, PERC1 + STYLE1)
    f_comp = vgg.features(comp, PERC1)
    n = len(PERC1)
    perc = sum(l1(a, b) for a, b in zip(f_out[:n], f_gt[:n])) + \
        sum(l1(a, b) for a, b in zip(f_comp, f_gt[:n]))
    style = sum(l1(gram(a), gram(b)) for a, b in zip(f_out[n:], f_gt[n:]))
    tvv = tv(comp, hole)
    total = 6 * hole_l1 + valid_l1 + 0.05 * perc + 120 * style + 0.1 * tvv
    return total, dict(hole=hole_l1, valid=valid_l1, perceptual=perc, style=style, tv=tvv)


def train_prior(en, de, vgg, batches, seconds, lr_start, warmup, dev, log, log_every):
    params = [p for m in (en, de) for p in m.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.0, 0.999), eps=1e-8)
    t0 = time.time()
    step = 0
    while True:
        t = time.time() - t0
        if t >= seconds:
            break
        f = lr_factor(t, seconds, lr_start, warmup)
        for g in opt.param_groups:
            g["lr"] = 1e-3 * f
        gt, hole = next(batches)
        gt, hole = gt.to(dev, non_blocking=True), hole.to(dev, non_blocking=True)
        total, terms = stage1_terms(en, de, vgg, gt, hole)
        if not torch.isfinite(total):
            log(phase="prior", step=step, nonfinite=True)
            opt.zero_grad(set_to_none=True)
            continue
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        step += 1
        if step % log_every == 0:
            log(phase="prior", step=step, lr=f, total=total.item(),
                **{k: v.item() for k, v in terms.items()}, sps=step / (time.time() - t0))
    return step


def stage2_step(G, D, en, de, vgg, gt, hole, opt_g, opt_d, zd):
    b = gt.shape[0]
    power_iterate(G)
    power_iterate(D)
    known = 1 - hole
    with torch.no_grad():
        prior = prior_forward(en, de, gt, hole)
    z = torch.randn(2 * b, zd, device=gt.device)
    fake = G(z, prior.repeat(2, 1, 1, 1), known.repeat(2, 1, 1, 1))
    fa, fb = fake[:b], fake[b:]
    hole3 = hole.expand_as(gt)

    def d_in(img):
        return torch.cat([hole3, img], 1)

    def preds(outs):
        return [s[-1] for s in outs]

    for p in D.parameters():
        p.requires_grad_(True)
    real_out = D(d_in(gt))
    loss_d = sum(hinge_d(preds(D(d_in(f.detach()))), preds(real_out)) for f in (fa, fb))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()

    for p in D.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        real_out = D(d_in(gt))
        f_gt = vgg.features(gt, PERC2)
    adv = feat = perc = tvs = 0.0
    for f in (fa, fb):
        fo = D(d_in(f))
        adv = adv + hinge_g(preds(fo))
        feat = feat + feature_matching(fo, real_out, 10.0)
        perc = perc + sum(l1(a, c) for a, c in zip(vgg.features(f, PERC2), f_gt))
        tvs = tvs + tv(composite(f, gt, hole), hole)
    a4 = vgg.features(fa * hole3, ["relu4_1"])[0]
    b4 = vgg.features(fb * hole3, ["relu4_1"])[0]
    div = 1.0 / (l1(a4, b4) + 1e-5)
    total = adv + feat + 10 * perc + 0.1 * tvs + div
    opt_g.zero_grad(set_to_none=True)
    total.backward()
    opt_g.step()
    return dict(d=loss_d.item(), g_total=total.item(), g_adv=adv.item(), g_feat=feat.item(),
                g_perceptual=perc.item(), g_tv=tvs.item(), g_diversity=div.item())


@torch.no_grad()
def ema_update(ema, G, decay):
    for (name, pe), (_, pg) in zip(ema.named_parameters(), G.named_parameters()):
        pe.mul_(decay).add_(pg.detach(), alpha=1 - decay)
    for (name, be), (_, bg) in zip(ema.named_buffers(), G.named_buffers()):
        be.copy_(bg)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--init", required=True)
    ap.add_argument("--photos", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prior-seconds", type=float, default=0)
    ap.add_argument("--pdgan-seconds", type=float, default=0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--prior-batch", type=int, default=32)
    ap.add_argument("--prior-lr", type=float, default=1.0, help="factor on 1e-3")
    ap.add_argument("--pdgan-lr", type=float, default=0.5, help="factor on 5e-4 / 2e-3")
    ap.add_argument("--warmup", type=float, default=15, help="seconds of linear lr warm-up")
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--masks", default="mixed")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--save-every", type=float, default=90)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--split-mib", type=int, default=15,
                    help="split weight files larger than this many MiB into parts (0: never)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    log = Log(out / "log.jsonl")
    use_maxpool_hard_maps()

    model = load_model(a.model)
    gcfg, dcfg = model.gcfg, model.dcfg
    G, en, de = model.G, model.en, model.de
    g_entries, p_entries = model.g_entries, model.p_entries
    D = R.MultiscaleDiscriminator(dcfg)
    d_entries = read_f16(Path(a.init) / "discriminator.f16")
    load_into(d_entries, {"d": D}, lambda k: ("d", disc_key(k, dcfg.n_layers)))
    vgg = Vgg(read_f16(Path(a.init) / "vgg.f16"))
    for m in (G, en, de, D, vgg):
        m.to(dev).eval()  # eval: spectral norm uses stored u, v; we iterate by hand
    for m in (en, de):
        for name, prm in m.named_parameters():
            if name.endswith("mask_conv.weight"):
                prm.requires_grad_(False)

    photos = load_photos(a.photos)
    log(event="start", device=str(dev), gpu=torch.cuda.get_device_name(0) if dev.type == "cuda"
        else None, photos=len(photos), torch=torch.__version__, args=vars(a))

    def loader(batch, seed):
        ds = Samples(photos, gcfg.resolution, a.masks, seed)
        dl = torch.utils.data.DataLoader(ds, batch_size=batch, num_workers=a.workers,
                                         pin_memory=dev.type == "cuda",
                                         persistent_workers=a.workers > 0,
                                         prefetch_factor=4 if a.workers > 0 else None)
        return iter(dl)

    # fixed check batch: how well the prior fills holes before and after its training
    vx, vm = fixed_batch(photos, gcfg.resolution, a.masks, 64, 12345)
    vx, vm = vx.to(dev), vm.to(dev)

    def prior_check():
        with torch.no_grad():
            total, terms = stage1_terms(en, de, vgg, vx, vm)
        return {"total": total.item(), **{k: v.item() for k, v in terms.items()}}

    def save_prior(name="prior.f16"):
        write_f16(str(out / name), dump_prior(p_entries, en, de))
        split_parts(out / name, a.split_mib << 20)

    if a.prior_seconds > 0:
        before = prior_check()
        old = [{n: t.clone() for n, t in m.state_dict().items()} for m in (en, de)]
        try:
            steps = train_prior(en, de, vgg, loader(a.prior_batch, a.seed), a.prior_seconds,
                                a.prior_lr, a.warmup, dev, log, a.log_every)
            after = prior_check()
            keep = after["total"] < before["total"]
        except Exception as e:  # keep the old prior and go on to stage 2
            log(event="prior failed", error=repr(e))
            steps, after, keep = -1, None, False
        log(event="prior done", steps=steps, before=before, after=after, kept=keep)
        if keep:
            save_prior()
        else:
            for m, sd in zip((en, de), old):
                m.load_state_dict(sd)

    for prm in list(en.parameters()) + list(de.parameters()):
        prm.requires_grad_(False)

    if a.pdgan_seconds > 0:
        ema = R.SPDNormGenerator(gcfg).to(dev).eval()
        ema.load_state_dict(G.state_dict())
        for prm in ema.parameters():
            prm.requires_grad_(False)
        gp = [prm for prm in G.parameters() if prm.requires_grad]
        opt_g = torch.optim.Adam(gp, lr=5e-4, betas=(0.0, 0.9), eps=1e-8)
        opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.0, 0.9), eps=1e-8)
        batches = loader(a.batch, a.seed + 1)

        def save_g():
            e = R.SPDNormGenerator(gcfg).to(dev).eval()
            e.load_state_dict(ema.state_dict())
            power_iterate(e, 10)  # ema.rs: refresh u, v of the averaged weights
            for name, mod in (("gema.f16", e), ("graw.f16", G)):
                write_f16(str(out / name), dump_generator(g_entries, mod))
                split_parts(out / name, a.split_mib << 20)
            write_f16(str(out / "discriminator.f16"),
                      dump_from(d_entries, {"d": D}, lambda k: ("d", disc_key(k, dcfg.n_layers))))
            split_parts(out / "discriminator.f16", a.split_mib << 20)

        t0 = time.time()
        last_save = t0
        step = 0
        acc = {}
        while True:
            t = time.time() - t0
            if t >= a.pdgan_seconds:
                break
            f = lr_factor(t, a.pdgan_seconds, a.pdgan_lr, a.warmup)
            for grp in opt_g.param_groups:
                grp["lr"] = 5e-4 * f
            for grp in opt_d.param_groups:
                grp["lr"] = 2e-3 * f
            gt, hole = next(batches)
            gt, hole = gt.to(dev, non_blocking=True), hole.to(dev, non_blocking=True)
            losses = stage2_step(G, D, en, de, vgg, gt, hole, opt_g, opt_d, gcfg.z_dim)
            if not all(math.isfinite(v) for v in losses.values()):
                log(phase="pdgan", step=step, nonfinite=losses)
                break  # keep the last saved generator
            ema_update(ema, G, a.ema)
            step += 1
            for k, v in losses.items():
                acc[k] = acc.get(k, 0.0) + v
            if step % a.log_every == 0:
                log(phase="pdgan", step=step, lr=f, sps=step / (time.time() - t0),
                    **{k: v / a.log_every for k, v in acc.items()})
                acc = {}
            if time.time() - last_save > a.save_every:
                save_g()
                last_save = time.time()
        if step > 0 and all(math.isfinite(v) for v in losses.values()):
            save_g()
        log(event="pdgan done", steps=step, seconds=time.time() - t0,
            max_mem_gib=torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else None)
    log(event="done")


if __name__ == "__main__":
    main()
