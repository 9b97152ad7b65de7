#!/usr/bin/python3
"""Independent PyTorch reference of the PD-GAN networks, written from
docs/network.md (sections 1-4, 7). It is NOT the authors' code.

The modules reproduce the authors' state-dict key names and shapes exactly
(docs/network.md §7.3 / §7.4) so the checkpoints written from them exercise the same
loading paths as real checkpoints, but widths are configurable so that small
parity fixtures can be produced (see make_fixtures.py).

Everything is meant to run in eval() mode: spectral norm then uses the stored
weight_u / weight_v without a power iteration (docs/network.md §3.5).

Run directly to build the official configurations and print parameter counts:

    /usr/bin/python3 scripts/pdgan_reference.py
"""

import math
from dataclasses import dataclass, asdict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm

EPS = 1e-5  # PositionalNorm and InstanceNorm eps

# (N, ks) of the hard map for the 6 generator units (docs/network.md §3.1 / §3.4)
UNIT_HARD = [(2, 3), (3, 3), (4, 3), (5, 3), (6, 5), (7, 5)]


# --------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------


@dataclass
class GenConfig:
    nf: int = 64  # official ngf of the generator
    z_dim: int = 256
    nhidden: int = 128  # SPDNorm MLP hidden and conv_to_f hidden width
    latent: int = 4  # fc output is 16*nf x latent x latent
    label_nc: int = 3  # the prior is RGB

    @property
    def resolution(self):
        return self.latent * 64

    def unit_channels(self):
        nf = self.nf
        return [(16 * nf, 16 * nf), (16 * nf, 16 * nf), (16 * nf, 8 * nf),
                (8 * nf, 4 * nf), (4 * nf, 2 * nf), (2 * nf, nf)]


@dataclass
class PriorConfig:
    ngf: int = 64


@dataclass
class DiscConfig:
    ndf: int = 64
    n_layers: int = 4
    num_D: int = 2
    input_nc: int = 6  # cat(mask 3ch (1 = hole), image 3ch)


def official_configs():
    return GenConfig(), PriorConfig(), DiscConfig()


def config_dict(g, p, d):
    out = {"generator": asdict(g), "prior": asdict(p), "discriminator": asdict(d)}
    out["generator"]["resolution"] = g.resolution
    out["generator"]["units"] = [
        {"fin": fin, "fout": fout, "fmid": min(fin, fout), "N": n, "ks": ks,
         "res": g.latent * 2 ** k}
        for k, ((fin, fout), (n, ks)) in enumerate(zip(g.unit_channels(), UNIT_HARD))]
    return out


# --------------------------------------------------------------------------
# small functional pieces
# --------------------------------------------------------------------------


def positional_norm(x, eps=EPS):
    """Per-pixel normalisation across channels, unbiased variance (docs/network.md §3.3)."""
    mean = x.mean(dim=1, keepdim=True)
    var = x.var(dim=1, keepdim=True, unbiased=True)
    return (x - mean) / torch.sqrt(var + eps)


def nearest_down(x, h):
    """Legacy 'nearest' with integer factor == strided slicing (docs/network.md §3.2 step 1)."""
    s = x.shape[-1] // h
    assert x.shape[-1] == s * h and x.shape[-2] % s == 0
    return x[:, :, ::s, ::s]


def decay_const(i, base="e", dtype=torch.float32):
    """c_i: 1/exp(i) or the paper's 1/4^i.

    For float32 this is f32(1) / f32(exp(i)) with a correctly rounded f32
    exp(i), which reproduces the bit patterns of docs/network.md §3.4 for all
    i = 1..7.
    (The authors' `1/torch.exp(torch.tensor(i))` gives the same bits on the
    PyTorch those constants came from; the Debian torch 1.13 CPU exp here is one ulp
    high at i = 4 and would give 0x3C960AAD instead of 0x3C960AAE.)"""
    if base == "e":
        if dtype == torch.float32:
            return torch.tensor(np.float32(1.0) / np.float32(math.exp(i)), dtype=dtype)
        return torch.tensor(1.0 / math.exp(i), dtype=dtype)
    if base == 4:
        return torch.tensor(1.0 / 4 ** i, dtype=dtype)
    raise ValueError(base)


def dilate_maxpool(m, ks):
    return F.max_pool2d(m, ks, stride=1, padding=ks // 2)


def hard_map(m0, n, ks, base="e", dilate=None):
    """D^h of docs/network.md §3.4. m0: [B,1,h,w], 1 = known. `dilate` maps M_{i-1} -> M_i
    (default: max-pool, equal to the authors' 'conv != 0')."""
    if dilate is None:
        dilate = lambda a: dilate_maxpool(a, ks)
    masks = [m0]
    for _ in range(n):
        masks.append(dilate(masks[-1]))
    out = m0.clone()
    for i in range(1, n + 1):
        out = out + decay_const(i, base, m0.dtype) * (masks[i] - masks[i - 1])
    out = out + decay_const(n, base, m0.dtype) * (1.0 - masks[n])
    return out


def sn_effective_weight(conv):
    """Eval-mode spectral norm: W_orig / (u . (W_orig.reshape(out,-1) v))."""
    w = conv.weight_orig
    sigma = torch.dot(conv.weight_u, torch.mv(w.reshape(w.shape[0], -1), conv.weight_v))
    return w / sigma


# --------------------------------------------------------------------------
# generator (SPDNormGenerator)
# --------------------------------------------------------------------------


class SPDNorm(nn.Module):
    def __init__(self, c, nhidden, label_nc=3):
        super().__init__()
        self.mlp_activate = nn.Sequential(nn.Conv2d(label_nc, nhidden, 3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(nhidden, c, 3, padding=1)
        self.mlp_beta = nn.Conv2d(nhidden, c, 3, padding=1)

    def forward(self, x, prior, d):
        xn = positional_norm(x)
        a = self.mlp_activate(prior)
        gamma = self.mlp_gamma(a)
        beta = self.mlp_beta(a)
        return xn * (1 + d * gamma) + d * beta


class MaskGet(nn.Module):
    """The authors' dilation: ks x ks conv without bias, 'output != 0'."""

    def __init__(self, ks):
        super().__init__()
        self.mask_conv = nn.Conv2d(1, 1, ks, padding=math.ceil((ks - 1) / 2), bias=False)
        self.mask_conv.weight.requires_grad_(False)

    def forward(self, m):
        with torch.no_grad():
            return (self.mask_conv(m) != 0).to(m.dtype)


class SPDNormResnetBlock(nn.Module):
    def __init__(self, fin, fout, n, ks, nhidden, label_nc=3):
        super().__init__()
        fmid = min(fin, fout)
        self.fin, self.fout, self.fmid, self.n, self.ks = fin, fout, fmid, n, ks
        self.v = nn.Parameter(torch.zeros(1))  # unused, present in the state dict
        self.conv_0 = spectral_norm(nn.Conv2d(fin, fmid, 3, padding=1))
        self.conv_1 = spectral_norm(nn.Conv2d(fmid, fout, 3, padding=1))
        self.conv_s = spectral_norm(nn.Conv2d(fin, fout, 1, bias=False))
        self.norm_0 = SPDNorm(fin, nhidden, label_nc)
        self.norm_1 = SPDNorm(fmid, nhidden, label_nc)
        self.norm_s = SPDNorm(fin, nhidden, label_nc)
        self.mask_conv = MaskGet(ks)
        self.conv_to_f = nn.Sequential(
            nn.Conv2d(label_nc, nhidden, 3, padding=1),
            nn.InstanceNorm2d(nhidden, affine=False, eps=EPS),
            nn.ReLU(),
            nn.Conv2d(nhidden, fin, 3, padding=1))
        self.attention = nn.Sequential(nn.Conv2d(2 * fin, fin, 3, padding=1), nn.Sigmoid())

    def hard(self, mr, base="e"):
        return hard_map(mr, self.n, self.ks, base=base, dilate=self.mask_conv)

    def forward(self, x, prior, mask, rec=None):
        """x: [B,fin,h,w]; prior: [B,3,H,W]; mask: [B,1,H,W] with 1 = known."""
        h = x.shape[-1]
        pr = nearest_down(prior, h)
        mr = nearest_down(mask, h)
        fp = self.conv_to_f(pr)
        ds = (1 - mr) * self.attention(torch.cat([fp, x], dim=1)) + mr
        dh = self.hard(mr)
        ns = self.norm_s(x, pr, ds)
        soft_out = self.conv_s(ns)
        n0 = self.norm_0(x, pr, dh)
        h1 = self.conv_0(F.leaky_relu(n0, 0.2))
        n1 = self.norm_1(h1, pr, dh)
        hard_out = self.conv_1(F.leaky_relu(n1, 0.2))
        out = soft_out + hard_out
        if rec is not None:
            rec.update(pr=pr, mr=mr, hard=dh, soft=ds, norm0=n0, norm1=n1, norms=ns,
                       soft_out=soft_out, hard_out=hard_out, block=out)
        return out


class GenUnit(nn.Module):
    def __init__(self, fin, fout, n, ks, nhidden, label_nc=3):
        super().__init__()
        self.block = SPDNormResnetBlock(fin, fout, n, ks, nhidden, label_nc)
        self.up = nn.ConvTranspose2d(fout, fout, 4, stride=2, padding=1)

    def forward(self, x, prior, mask, rec=None):
        return self.up(self.block(x, prior, mask, rec))


class SPDNormGenerator(nn.Module):
    def __init__(self, cfg: GenConfig):
        super().__init__()
        self.cfg = cfg
        nf = cfg.nf
        self.fc = nn.Linear(cfg.z_dim, 16 * nf * cfg.latent * cfg.latent)
        self.generated = nn.ModuleList(
            GenUnit(fin, fout, n, ks, cfg.nhidden, cfg.label_nc)
            for (fin, fout), (n, ks) in zip(cfg.unit_channels(), UNIT_HARD))
        self.conv_img = nn.Conv2d(nf, 3, 3, padding=1)

    def forward(self, z, prior, mask, rec=None):
        """mask: 1 = known; only channel 0 is used (docs/network.md §1)."""
        mask = mask[:, 0:1]
        x = self.fc(z).view(z.shape[0], 16 * self.cfg.nf, self.cfg.latent, self.cfg.latent)
        if rec is not None:
            rec["fc"] = x
        for k, unit in enumerate(self.generated):
            r = {} if rec is not None else None
            xin = x
            x = unit(x, prior, mask, r)
            if rec is not None:
                r["in"] = xin
                r["up"] = x
                rec[f"u{k}"] = r
        x = self.conv_img(F.leaky_relu(x, 0.2))
        return torch.tanh(x)


# --------------------------------------------------------------------------
# stage 1: PConv encoder / decoder
# --------------------------------------------------------------------------


class PartialConv(nn.Module):
    def __init__(self, cin, cout, k, stride, pad):
        super().__init__()
        self.input_conv = nn.Conv2d(cin, cout, k, stride, pad, bias=False)
        self.mask_conv = nn.Conv2d(cin, cout, k, stride, pad, bias=False)
        self.mask_conv.weight.requires_grad_(False)

    def forward(self, x, m, rec=None):
        o = self.input_conv(x * m)
        with torch.no_grad():
            s = self.mask_conv(m)
        hole = s == 0
        out = torch.where(hole, torch.zeros_like(o), o / torch.where(hole, torch.ones_like(s), s))
        new_mask = torch.where(hole, torch.zeros_like(s), torch.ones_like(s))
        if rec is not None:
            rec.append((s.detach(), m.detach(), self.mask_conv.weight.detach()))
        return out, new_mask


class PCBActiv(nn.Module):
    """(LReLU) -> PConv 4/2/1 -> (IN affine). Keys: conv.*, norm.*"""

    def __init__(self, cin, cout, act, norm):
        super().__init__()
        self.act = act
        self.conv = PartialConv(cin, cout, 4, 2, 1)
        if norm:
            self.norm = nn.InstanceNorm2d(cout, affine=True, eps=EPS)
        else:
            self.norm = None

    def forward(self, x, m, rec=None):
        if self.act:
            x = F.leaky_relu(x, 0.2)
        x, m = self.conv(x, m, rec)
        if self.norm is not None:
            x = self.norm(x)
        return x, m


class PConvResnetBlock(nn.Module):
    """PConv3x3 -> IN -> ReLU -> PConv3x3 -> IN, + input; mask propagated.
    conv_2 receives conv_1's new mask; the block returns conv_2's new mask."""

    def __init__(self, c):
        super().__init__()
        self.conv_1 = PartialConv(c, c, 3, 1, 1)
        self.n1 = nn.InstanceNorm2d(c, affine=False, eps=EPS)
        self.conv_2 = PartialConv(c, c, 3, 1, 1)
        self.n2 = nn.InstanceNorm2d(c, affine=False, eps=EPS)

    def forward(self, x, m, rec=None):
        h, m1 = self.conv_1(x, m, rec)
        h = F.relu(self.n1(h))
        h, m2 = self.conv_2(h, m1, rec)
        h = self.n2(h)
        return x + h, m2


class PConvEncoder(nn.Module):
    def __init__(self, cfg: PriorConfig):
        super().__init__()
        g = cfg.ngf
        ch = [3, g, 2 * g, 4 * g, 8 * g, 8 * g, 8 * g]
        self.Encoder_1 = PCBActiv(ch[0], ch[1], act=False, norm=False)
        self.Encoder_2 = PCBActiv(ch[1], ch[2], act=True, norm=True)
        self.Encoder_3 = PCBActiv(ch[2], ch[3], act=True, norm=True)
        self.Encoder_4 = PCBActiv(ch[3], ch[4], act=True, norm=True)
        self.Encoder_5 = PCBActiv(ch[4], ch[5], act=True, norm=True)
        self.Encoder_6 = PCBActiv(ch[5], ch[6], act=True, norm=False)
        self.middle = nn.ModuleList(PConvResnetBlock(8 * g) for _ in range(4))

    def forward(self, x, m, rec=None, srec=None):
        """x: image * inv_mask (3ch); m: inv_mask (3ch, 1 = known).
        Returns (out_7, out_5, out_4, out_3, out_2, out_1) features and masks."""
        feats, masks = [], []
        for k in range(1, 7):
            x, m = getattr(self, f"Encoder_{k}")(x, m, srec)
            feats.append(x)
            masks.append(m)
        for blk in self.middle:
            x, m = blk(x, m, srec)
        if rec is not None:
            for k in range(6):
                rec[f"enc_{k + 1}"] = feats[k]
                rec[f"enc_mask_{k + 1}"] = masks[k]
            rec["enc_middle"] = x
            rec["enc_middle_mask"] = m
        return [x, feats[4], feats[3], feats[2], feats[1], feats[0]]


class DecBlock(nn.Module):
    def __init__(self, cin, cout, outer):
        super().__init__()
        last = nn.Tanh() if outer else nn.InstanceNorm2d(cout, affine=True, eps=EPS)
        self.model = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(cin, cout, 4, 2, 1), last)

    def forward(self, x):
        return self.model(x)


class PConvDecoder(nn.Module):
    def __init__(self, cfg: PriorConfig):
        super().__init__()
        g = cfg.ngf
        self.Decoder_1 = DecBlock(8 * g, 8 * g, False)
        self.Decoder_2 = DecBlock(16 * g, 8 * g, False)
        self.Decoder_3 = DecBlock(16 * g, 4 * g, False)
        self.Decoder_4 = DecBlock(8 * g, 2 * g, False)
        self.Decoder_5 = DecBlock(4 * g, g, False)
        self.Decoder_6 = DecBlock(2 * g, 3, True)

    def forward(self, f7, f5, f4, f3, f2, f1, rec=None):
        y = self.Decoder_1(f7)
        ys = [y]
        for k, skip in zip(range(2, 7), [f5, f4, f3, f2, f1]):
            y = getattr(self, f"Decoder_{k}")(torch.cat([y, skip], dim=1))
            ys.append(y)
        if rec is not None:
            for k in range(5):
                rec[f"dec_{k + 1}"] = ys[k]
        return y


# --------------------------------------------------------------------------
# discriminator (multiscale PatchGAN, spectralinstance)
# --------------------------------------------------------------------------


class NLayerDiscriminator(nn.Module):
    def __init__(self, cfg: DiscConfig):
        super().__init__()
        kw, pw = 4, 2
        nf = cfg.ndf
        self.model0 = nn.Sequential(nn.Conv2d(cfg.input_nc, nf, kw, 2, pw), nn.LeakyReLU(0.2))
        for n in range(1, cfg.n_layers):
            prev = nf
            nf = min(nf * 2, 512)
            stride = 1 if n == cfg.n_layers - 1 else 2
            conv = spectral_norm(nn.Conv2d(prev, nf, kw, stride, pw, bias=False))
            self.add_module(f"model{n}", nn.Sequential(
                nn.Sequential(conv, nn.InstanceNorm2d(nf, affine=False, eps=EPS)),
                nn.LeakyReLU(0.2)))
        self.add_module(f"model{cfg.n_layers}", nn.Sequential(nn.Conv2d(nf, 1, kw, 1, pw)))
        self.n_groups = cfg.n_layers + 1

    def forward(self, x):
        outs = []
        for j in range(self.n_groups):
            x = getattr(self, f"model{j}")(x)
            outs.append(x)
        return outs


class MultiscaleDiscriminator(nn.Module):
    def __init__(self, cfg: DiscConfig):
        super().__init__()
        self.num_D = cfg.num_D
        for i in range(cfg.num_D):
            self.add_module(f"discriminator_{i}", NLayerDiscriminator(cfg))

    def forward(self, x):
        res = []
        for i in range(self.num_D):
            res.append(getattr(self, f"discriminator_{i}")(x))
            x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
        return res


# --------------------------------------------------------------------------
# parameter counts of the official configuration
# --------------------------------------------------------------------------

OFFICIAL_COUNTS = {
    "generator": 186_007_263,
    "encoder": 60_039_936,
    "decoder": 18_098_499,
    "discriminator": 5_533_826,
}


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def official_param_counts(verbose=True):
    """Build the official-width networks (no forward) and check parameter counts."""
    g, p, d = official_configs()
    nets = {
        "generator": SPDNormGenerator(g),
        "encoder": PConvEncoder(p),
        "decoder": PConvDecoder(p),
        "discriminator": MultiscaleDiscriminator(d),
    }
    counts = {k: n_params(v) for k, v in nets.items()}
    nkeys = {k: len(v.state_dict()) for k, v in nets.items()}
    if verbose:
        for k in counts:
            ok = "OK" if counts[k] == OFFICIAL_COUNTS[k] else "MISMATCH"
            print(f"  official {k:13s}: {counts[k]:>11,d} parameters, "
                  f"{nkeys[k]:3d} state-dict tensors  [{ok}, expected {OFFICIAL_COUNTS[k]:,d}]")
        gen = nets["generator"]
        for k, unit in enumerate(gen.generated):
            print(f"    unit {k}: {n_params(unit):>11,d}")
    assert counts == OFFICIAL_COUNTS, counts
    assert nkeys["generator"] == 238, nkeys
    return counts


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    official_param_counts()
