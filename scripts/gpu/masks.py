"""NumPy port of pdpaint's procedural training masks (src/masks/{mod,deepfill,lama}.rs).

Only numpy is needed. The masks follow the same distributions as the Rust generators (not the
same bits: the Rust code draws from a ChaCha8 RNG, this port from a ``np.random.Generator``).

    generate(kind, width, height, rng) -> float32 (height, width), 1.0 = hole
    batch(kind, n, size, rng)          -> float32 (n, 1, size, size)

Kinds: ``deepfill``, ``lama-thin``, ``lama-medium``, ``lama-thick``, ``boxes``, ``mixed``.

Semantics kept from the Rust code:

* every length (stroke widths and lengths, LaMa box sizes and margins) is scaled by
  ``sqrt(W*H)/256``; DeepFill's mean segment length is ``sqrt(W^2+H^2)/8`` (already relative);
  ``boxes`` uses 1/8..1/2 of the image side;
* strokes are painted with a round brush: a pixel is a hole when its centre
  ``(x + 0.5, y + 0.5)`` lies within ``radius`` (``<=``) of a segment (capsules between
  consecutive vertices), computed in float32 like the Rust code; radius is
  ``max(width/2, 0.5)``; vertices are clipped to ``[0, W] x [0, H]``; stroke start points are
  pixel centres;
* ``generate`` draws at most 16 times, stopping at the first draw that is neither empty nor all
  hole (a 1-pixel image accepts all hole); ``mixed`` picks one of the five concrete kinds
  uniformly on every draw (so also on every redraw), in the order of ``MaskKind::CONCRETE``.

Run ``python3 masks.py`` for the statistics / timing self-check.
"""

from __future__ import annotations

import math

import numpy as np

KINDS = ("deepfill", "lama-thin", "lama-medium", "lama-thick", "boxes", "mixed")
# MaskKind::CONCRETE, in order: what `mixed` chooses from, uniformly.
CONCRETE = ("deepfill", "lama-thin", "lama-medium", "lama-thick", "boxes")
MAX_REDRAWS = 16

_F32 = np.float32
_PI = _F32(math.pi)
_TWO_PI = _F32(2.0) * _PI  # Rust: 2.0 * PI in f32

# --- DeepFill v2 (src/masks/deepfill.rs) ---------------------------------------------------
DF_MIN_VERTICES, DF_MAX_VERTICES = 4, 11
DF_MIN_STROKES, DF_MAX_STROKES = 1, 3
DF_MEAN_ANGLE = _F32(2.0) * _PI / _F32(5.0)
DF_ANGLE_RANGE = _F32(2.0) * _PI / _F32(15.0)
DF_MIN_WIDTH, DF_MAX_WIDTH = _F32(12.0), _F32(40.0)

# --- LaMa presets (src/masks/lama.rs), lengths at 256^2 --------------------------------------
# strokes: (min_times, max_times, max_angle, max_len, max_width)
# boxes:   (margin, bbox_min_size, bbox_max_size, min_times, max_times), probability
LAMA_PRESETS = {
    "lama-thin": ((4, 50, 4, 40.0, 10.0), None),
    "lama-medium": ((4, 5, 4, 100.0, 50.0), ((0.0, 10.0, 50.0, 1, 5), 0.3)),
    "lama-thick": ((1, 5, 4, 200.0, 100.0), ((10.0, 30.0, 150.0, 1, 4), 0.3)),
}


def size_scale(width: int, height: int) -> np.float32:
    """sqrt(width*height)/256 (computed in f64, then f32, as in Rust)."""
    return _F32(math.sqrt(float(width) * float(height)) / 256.0)


def _u01(rng, size=None):
    """Rust `rng.random::<f32>()`: uniform f32 in [0, 1)."""
    return rng.random(size, dtype=np.float32)


def _uniform(rng, lo, hi, size=None):
    """Rust `uniform(lo, hi)`: lo + (hi - lo) * u in f32, `lo` when the interval is empty."""
    lo, hi = _F32(lo), _F32(hi)
    u = _u01(rng, size)
    if hi > lo:
        return lo + (hi - lo) * u
    return np.full_like(u, lo) if size is not None else lo


def _int_in(rng, lo: int, hi: int) -> int:
    """Rust `int_in`: uniform integer in lo..=hi, `lo` when hi <= lo."""
    return int(rng.integers(lo, hi + 1)) if hi > lo else int(lo)


def _round_half_away(v: float) -> int:
    """Rust `f32::round` (half away from zero)."""
    return int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)


# --- rasterisation ---------------------------------------------------------------------------


def _rasterize_segments(hole, ax, ay, bx, by, r):
    """Mask::rasterize_stroke for a set of independent segments (capsules), vectorised.

    hole: bool (H, W), painted in place. ax, ay, bx, by, r: float32 1-D arrays, one entry per
    segment (a == b paints a disc). A pixel (x, y) becomes a hole when its centre
    (x + .5, y + .5) is within r of the segment (squared distance <= r*r, all f32).
    """
    if len(ax) == 0:
        return
    h, w = hole.shape
    ax, ay, bx, by, r = (np.asarray(v, dtype=np.float32) for v in (ax, ay, bx, by, r))
    ok = r >= 0  # negative / NaN radius paints nothing
    if not ok.all():
        ax, ay, bx, by, r = ax[ok], ay[ok], bx[ok], by[ok], r[ok]
        if len(ax) == 0:
            return
    # Conservative per-segment pixel boxes, as in Rust (clipped to the image).
    lo_x = np.clip(np.floor(np.minimum(ax, bx) - r - 0.5), 0, w).astype(np.int64)
    hi_x = np.clip(np.ceil(np.maximum(ax, bx) + r + 0.5), 0, w).astype(np.int64)
    lo_y = np.clip(np.floor(np.minimum(ay, by) - r - 0.5), 0, h).astype(np.int64)
    hi_y = np.clip(np.ceil(np.maximum(ay, by) + r + 0.5), 0, h).astype(np.int64)
    bw, bh = hi_x - lo_x, hi_y - lo_y
    live = (bw > 0) & (bh > 0)
    if not live.all():
        sel = np.nonzero(live)[0]
        ax, ay, bx, by, r = ax[sel], ay[sel], bx[sel], by[sel], r[sel]
        lo_x, hi_x, lo_y, hi_y, bw, bh = lo_x[sel], hi_x[sel], lo_y[sel], hi_y[sel], bw[sel], bh[sel]
        if len(ax) == 0:
            return
    # Group segments by box size so a few big boxes do not pad many small ones.
    area = bw * bh
    order = np.argsort(area, kind="stable")
    n = len(order)
    start = 0
    while start < n:
        # Take segments while the padded grid stays within 2x of the real work.
        end = n
        if n > 1:
            a_sorted = area[order]
            cum = np.cumsum(a_sorted[start:])
            counts = np.arange(1, n - start + 1)
            mx_w = np.maximum.accumulate(bw[order][start:])
            mx_h = np.maximum.accumulate(bh[order][start:])
            padded = counts * mx_w * mx_h
            good = padded <= 2 * cum + 4096
            # largest prefix that is good
            bad = np.nonzero(~good)[0]
            end = start + (int(bad[0]) if len(bad) else n - start)
            end = max(end, start + 1)
        idx = order[start:end]
        _raster_group(hole, ax[idx], ay[idx], bx[idx], by[idx], r[idx],
                      lo_x[idx], hi_x[idx], lo_y[idx], hi_y[idx])
        start = end


def _raster_group(hole, ax, ay, bx, by, r, lo_x, hi_x, lo_y, hi_y):
    wb = int((hi_x - lo_x).max())
    hb = int((hi_y - lo_y).max())
    xs = lo_x[:, None] + np.arange(wb)[None, :]  # S x wb
    ys = lo_y[:, None] + np.arange(hb)[None, :]  # S x hb
    px = xs.astype(np.float32) + _F32(0.5)
    py = ys.astype(np.float32) + _F32(0.5)
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    ex0 = px - ax[:, None]  # S x wb
    ey0 = py - ay[:, None]  # S x hb
    num = ex0[:, None, :] * dx[:, None, None] + ey0[:, :, None] * dy[:, None, None]  # S x hb x wb
    pos = len2 > 0
    # Rust divides (num / len2), t = 0 for a zero-length segment.
    t = np.where(pos[:, None, None], num / np.where(pos, len2, _F32(1.0))[:, None, None],
                 _F32(0.0))
    np.clip(t, _F32(0.0), _F32(1.0), out=t)
    # e = p - (a + t d)
    ex = px[:, None, :] - (ax[:, None, None] + t * dx[:, None, None])
    ey = py[:, :, None] - (ay[:, None, None] + t * dy[:, None, None])
    d2 = ex * ex + ey * ey
    cov = d2 <= (r * r)[:, None, None]
    cov &= (xs < hi_x[:, None])[:, None, :]
    cov &= (ys < hi_y[:, None])[:, :, None]
    s, iy, ix = np.nonzero(cov)
    hole[ys[s, iy], xs[s, ix]] = True


def _fill_rect(hole, x0, y0, x1, y1):
    """Rust `fill_rect`: pixels x0..x1 x y0..y1, clipped."""
    h, w = hole.shape
    x0, x1 = min(max(x0, 0), w), min(max(x1, 0), w)
    y0, y1 = min(max(y0, 0), h), min(max(y1, 0), h)
    if x1 > x0 and y1 > y0:
        hole[y0:y1, x0:x1] = True


# --- generators ------------------------------------------------------------------------------


def _deepfill_segments(w, h, rng):
    """DeepFill v2 free-form strokes: returns (ax, ay, bx, by, r) float32 arrays."""
    wf, hf = _F32(w), _F32(h)
    scale = size_scale(w, h)
    mean_len = np.sqrt(wf * wf + hf * hf) / _F32(8.0)
    n = int(rng.integers(DF_MIN_STROKES, DF_MAX_STROKES + 1))
    nv = rng.integers(DF_MIN_VERTICES, DF_MAX_VERTICES + 1, size=n)
    angle_min = DF_MEAN_ANGLE - _uniform(rng, 0.0, DF_ANGLE_RANGE, n)
    angle_max = DF_MEAN_ANGLE + _uniform(rng, 0.0, DF_ANGLE_RANGE, n)
    m = int(nv.max())
    xs = np.empty((n, m + 1), np.float32)
    ys = np.empty((n, m + 1), np.float32)
    xs[:, 0] = rng.integers(0, w, size=n).astype(np.float32) + _F32(0.5)
    ys[:, 0] = rng.integers(0, h, size=n).astype(np.float32) + _F32(0.5)
    a = angle_min[:, None] + (angle_max - angle_min)[:, None] * _u01(rng, (n, m))
    even = (np.arange(m) % 2 == 0)[None, :]
    angle = np.where(even, _TWO_PI - a, a).astype(np.float32)
    z = rng.standard_normal((n, m)).astype(np.float32)
    length = np.clip(mean_len + _F32(0.5) * mean_len * z, _F32(0.0), _F32(2.0) * mean_len)
    cx, cy = length * np.cos(angle), length * np.sin(angle)
    for i in range(m):
        xs[:, i + 1] = np.clip(xs[:, i] + cx[:, i], _F32(0.0), wf)
        ys[:, i + 1] = np.clip(ys[:, i] + cy[:, i], _F32(0.0), hf)
    width = _uniform(rng, DF_MIN_WIDTH, DF_MAX_WIDTH, n) * scale
    radius = np.maximum(_F32(0.5) * width, _F32(0.5)).astype(np.float32)
    if rng.random() < 0.5:  # flip_x: p.x -> W - p.x
        xs = wf - xs
    if rng.random() < 0.5:  # flip_y
        ys = hf - ys
    valid = np.arange(m)[None, :] < nv[:, None]  # segment i of stroke s exists when i < nv[s]
    s_idx, i_idx = np.nonzero(valid)
    return (xs[s_idx, i_idx], ys[s_idx, i_idx], xs[s_idx, i_idx + 1], ys[s_idx, i_idx + 1],
            radius[s_idx])


def _lama_stroke_segments(w, h, rng, params):
    """LaMa IrregularStrokes::paint: returns (ax, ay, bx, by, r) float32 arrays."""
    min_times, max_times, max_angle, max_len, max_width = params
    wf, hf = _F32(w), _F32(h)
    s = size_scale(w, h)
    times = _int_in(rng, min_times, max_times)
    if times <= 0:
        e = np.empty(0, np.float32)
        return e, e, e, e, e
    x = rng.integers(0, w, size=times).astype(np.float32) + _F32(0.5)
    y = rng.integers(0, h, size=times).astype(np.float32) + _F32(0.5)
    nseg = 1 + rng.integers(0, 5, size=times)
    k = rng.integers(0, max(max_angle, 1), size=(times, 5)).astype(np.float32)
    angle = _F32(0.01) + k
    even_stroke = (np.arange(times) % 2 == 0)[:, None]
    angle = np.where(even_stroke, _TWO_PI - angle, angle).astype(np.float32)
    length = s * (_F32(10.0) + _uniform(rng, 0.0, max_len, (times, 5)))
    brush = s * (_F32(5.0) + _uniform(rng, 0.0, max_width, (times, 5)))
    radius = np.maximum(_F32(0.5) * brush, _F32(0.5)).astype(np.float32)
    # LaMa steps by (sin, cos): angle measured from the y axis.
    sx, sy = length * np.sin(angle), length * np.cos(angle)
    px = np.empty((times, 6), np.float32)
    py = np.empty((times, 6), np.float32)
    px[:, 0], py[:, 0] = x, y
    for j in range(5):
        px[:, j + 1] = np.clip(px[:, j] + sx[:, j], _F32(0.0), wf)
        py[:, j + 1] = np.clip(py[:, j] + sy[:, j], _F32(0.0), hf)
    valid = np.arange(5)[None, :] < nseg[:, None]
    si, ji = np.nonzero(valid)
    return px[si, ji], py[si, ji], px[si, ji + 1], py[si, ji + 1], radius[si, ji]


def _lama_boxes(hole, rng, params):
    """LaMa RandomBoxes::paint."""
    margin_f, min_f, max_f, min_times, max_times = params
    h, w = hole.shape
    s = float(size_scale(w, h))
    margin = _round_half_away(float(_F32(margin_f) * _F32(s)))
    if w - 2 * margin < 1 or h - 2 * margin < 1:
        margin = 0
    max_size = max(min(_round_half_away(float(_F32(max_f) * _F32(s))), w - 2 * margin,
                       h - 2 * margin), 1)
    min_size = min(max(_round_half_away(float(_F32(min_f) * _F32(s))), 1), max_size)
    times = _int_in(rng, min_times, max_times)
    for _ in range(times):
        bw = _int_in(rng, min_size, max_size)
        bh = _int_in(rng, min_size, max_size)
        x0 = _int_in(rng, margin, w - margin - bw)
        y0 = _int_in(rng, margin, h - margin - bh)
        _fill_rect(hole, x0, y0, x0 + bw, y0 + bh)


def _random_boxes(hole, rng):
    """MaskKind::Boxes: 1-3 rectangles, sides uniform in [max(side/8,1), max(side/2,1)]."""
    h, w = hole.shape
    n = int(rng.integers(1, 4))
    for _ in range(n):
        bw = _int_in(rng, max(w // 8, 1), max(w // 2, 1))
        bh = _int_in(rng, max(h // 8, 1), max(h // 2, 1))
        x0 = _int_in(rng, 0, w - bw)
        y0 = _int_in(rng, 0, h - bh)
        _fill_rect(hole, x0, y0, x0 + bw, y0 + bh)


def paint(kind: str, hole: np.ndarray, rng: np.random.Generator) -> None:
    """Paints one mask of `kind` onto the bool array `hole` (H, W) in place (adds holes only)."""
    h, w = hole.shape
    if w == 0 or h == 0:
        return
    if kind == "mixed":
        kind = CONCRETE[int(rng.integers(0, len(CONCRETE)))]
    if kind == "deepfill":
        _rasterize_segments(hole, *_deepfill_segments(w, h, rng))
    elif kind in LAMA_PRESETS:
        strokes, boxes = LAMA_PRESETS[kind]
        _rasterize_segments(hole, *_lama_stroke_segments(w, h, rng, strokes))
        if boxes is not None:
            box_params, p = boxes
            if rng.random() < min(max(p, 0.0), 1.0):
                _lama_boxes(hole, rng, box_params)
    elif kind == "boxes":
        _random_boxes(hole, rng)
    else:
        raise ValueError(f"unknown mask kind {kind!r}; expected one of {KINDS}")


def generate(kind: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A float32 (height, width) mask of `kind`, 1.0 = hole (masks::generate)."""
    if kind not in KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; expected one of {KINDS}")
    total = int(width) * int(height)
    hole = np.zeros((int(height), int(width)), dtype=bool)
    if total == 0:
        return hole.astype(np.float32)
    for _ in range(MAX_REDRAWS):
        hole = np.zeros((int(height), int(width)), dtype=bool)
        paint(kind, hole, rng)
        n = int(np.count_nonzero(hole))
        if n > 0 and (n < total or total == 1):
            break
    return hole.astype(np.float32)


def batch(kind: str, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """n masks of size x size, float32 (n, 1, size, size), 1.0 = hole."""
    out = np.empty((n, 1, size, size), dtype=np.float32)
    for i in range(n):
        out[i, 0] = generate(kind, size, size, rng)
    return out


# --- self-check ------------------------------------------------------------------------------


def shrink(hole: np.ndarray, r: int) -> np.ndarray:
    """Mask::shrink: a hole pixel stays when no known pixel lies within Euclidean distance r
    (centre to centre); outside the image does not erode."""
    h, w = hole.shape
    known = np.zeros((h + 2 * r, w + 2 * r), dtype=bool)
    known[r:r + h, r:r + w] = ~hole.astype(bool)
    near = np.zeros((h, w), dtype=bool)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dx * dx + dy * dy <= r * r:
                near |= known[r + dy:r + dy + h, r + dx:r + dx + w]
    return hole.astype(bool) & ~near


def _components(hole: np.ndarray) -> int:
    """4-connected components of the holes (for the DeepFill check)."""
    hole = hole.astype(bool)
    h, w = hole.shape
    seen = np.zeros_like(hole)
    count = 0
    for y0, x0 in zip(*np.nonzero(hole)):
        if seen[y0, x0]:
            continue
        count += 1
        stack = [(y0, x0)]
        seen[y0, x0] = True
        while stack:
            y, x = stack.pop()
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= ny < h and 0 <= nx < w and hole[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
    return count


def _selfcheck() -> None:
    import time

    def ratios(kind, size, n, seed):
        rng = np.random.default_rng(seed)
        return np.array([generate(kind, size, size, rng).mean() for _ in range(n)])

    ok = True

    def check(cond, msg):
        nonlocal ok
        ok &= bool(cond)
        print(("ok   " if cond else "FAIL ") + msg)

    for size in (256, 128):
        print(f"--- {size}x{size}")
        counts = {"deepfill": 200, "lama-thin": 300, "lama-medium": 300, "lama-thick": 300,
                  "boxes": 100, "mixed": 100}
        m = {}
        for kind, n in counts.items():
            r = ratios(kind, size, n, 1000)
            m[kind] = r.mean()
            print(f"{kind:12s} n={n:4d} mean {r.mean():.3f} std {r.std():.3f} "
                  f"min {r.min():.3f} max {r.max():.3f}")
        check(0.05 <= m["deepfill"] < 0.30, f"deepfill mean {m['deepfill']:.3f} in [0.05, 0.30)")
        check(m["lama-thin"] < m["lama-medium"] < m["lama-thick"],
              f"thin < medium < thick: {m['lama-thin']:.3f} {m['lama-medium']:.3f} "
              f"{m['lama-thick']:.3f}")
        check(m["lama-thin"] > 0.01 and m["lama-thick"] < 0.6, "thin > 0.01 and thick < 0.6")
        check(0.05 <= m["boxes"] < 0.35, f"boxes mean {m['boxes']:.3f} in [0.05, 0.35)")
        rng = np.random.default_rng(2000)
        er = {}
        for kind in ("lama-thin", "lama-medium", "lama-thick"):
            vals = []
            for _ in range(30):
                g = generate(kind, size, size, rng)
                vals.append(shrink(g, 6).sum() / g.sum())
            er[kind] = float(np.mean(vals))
        check(er["lama-thin"] < 0.3 and er["lama-thin"] < er["lama-medium"] < er["lama-thick"],
              "6 px erosion survival thin {:.2f} medium {:.2f} thick {:.2f} "
              "(Rust at 256: ~0.14 0.67 0.83)".format(*er.values()))
        if size == 256:
            df256 = m["deepfill"]
        else:
            check(abs(m["deepfill"] - df256) < 0.05,
                  f"deepfill 128 vs 256: {m['deepfill']:.3f} vs {df256:.3f}")
    # DeepFill structure: <= 3 components, each stroke >= 12 px wide (shrink(4) keeps holes).
    rng = np.random.default_rng(0)
    bad = 0
    for _ in range(30):
        g = np.zeros((256, 256), bool)
        paint("deepfill", g, rng)
        bad += _components(g) > DF_MAX_STROKES or shrink(g, 4).sum() == 0
    check(bad == 0, "deepfill: <= 3 components and survives shrink(4) (30 masks)")
    # Boxes with margin (lama::tests::boxes_respect_sizes_and_margin).
    rng = np.random.default_rng(0)
    bad = 0
    for _ in range(20):
        g = np.zeros((256, 256), bool)
        _lama_boxes(g, rng, (10.0, 30.0, 150.0, 1, 1))
        ys, xs = np.nonzero(g)
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        bad += not (x0 >= 10 and y0 >= 10 and x1 <= 246 and y1 <= 246
                    and 30 <= x1 - x0 <= 150 and 30 <= y1 - y0 <= 150
                    and g.sum() == (x1 - x0) * (y1 - y0))
    g = np.zeros((5, 8), bool)
    _lama_boxes(g, rng, (10.0, 30.0, 150.0, 1, 1))
    check(bad == 0 and g.sum() > 0, "lama boxes respect sizes and margin; tiny image gets a box")
    # Sizes and degenerate sizes.
    rng = np.random.default_rng(3)
    bad = 0
    for (w, h) in ((256, 256), (128, 96), (512, 512), (17, 300)):
        for kind in KINDS:
            for _ in range(3):
                g = generate(kind, w, h, rng)
                bad += g.shape != (h, w) or not (0 < g.sum() < w * h)
    for kind in KINDS:
        bad += generate(kind, 1, 1, rng).sum() != 1
        s = generate(kind, 3, 2, rng).sum()
        bad += not (0 < s < 6)
    bad += generate("mixed", 0, 5, rng).size != 0
    check(bad == 0, "shapes, non-empty, not-all-hole, degenerate sizes")
    # Mixed at 128: mean and NVIDIA-bin histogram.
    r = ratios("mixed", 128, 2000, 7)
    edges = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.01]
    hist = np.histogram(r, bins=edges)[0] / len(r)
    labels = ["0-10", "10-20", "20-30", "30-40", "40-50", "50-60", ">60"]
    print(f"mixed 128^2 (2000 masks): mean {r.mean():.3f}, std {r.std():.3f}")
    print("  " + "  ".join(f"{lab}%: {100 * p:.1f}" for lab, p in zip(labels, hist)))
    # Timing.
    for kind in KINDS:
        rng = np.random.default_rng(11)
        batch(kind, 8, 128, rng)
        t = time.perf_counter()
        batch(kind, 320, 128, rng)
        dt = (time.perf_counter() - t) / 320 * 1000
        print(f"time {kind:12s} 128^2: {dt:.2f} ms/mask")
    rng = np.random.default_rng(12)
    t = time.perf_counter()
    batch("mixed", 64, 256, rng)
    print(f"time mixed        256^2: {(time.perf_counter() - t) / 64 * 1000:.2f} ms/mask")
    print("ALL OK" if ok else "SOME CHECKS FAILED")


if __name__ == "__main__":
    _selfcheck()
