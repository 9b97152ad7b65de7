#!/usr/bin/env python3
"""Mix two half-precision model folders weight by weight ("model soup").

    scripts/mix_models.py A B ALPHA OUT

Writes OUT/{prior,generator,discriminator}.f16 = (1 - ALPHA) * A + ALPHA * B, parameter by
parameter, and A's config.json with its `source` naming the mix. Meant for two fine-tunes of
one parent model (e.g. two forks of a training run, exported with `pdpaint export --half`):
their weights lie close together, and a point between them can measure better than either
(docs/evaluation.md, "A mix of two fine-tunes"). Mixing unrelated models gives nonsense.

Both folders must hold the same files with the same tensors (names and shapes, in the same
order); anything else is refused. The arithmetic is in double precision and rounded once to
half precision. Only the Python standard library is used; nothing in the inputs is executed
(the header is JSON, the rest raw binary16).
"""
import json
import os
import shutil
import struct
import sys

MAGIC = b"PDPF16v1"
FILES = ("prior.f16", "generator.f16", "discriminator.f16")
MAX_HEADER = 16 << 20


def fail(msg, path):
    sys.exit(f"error: {msg}: {path}")


def read_f16(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        fail(f"cannot read the weights ({e.strerror})", path)
    if len(data) < 16 or data[:8] != MAGIC:
        fail("not a pdpaint half-precision weight file", path)
    (n,) = struct.unpack("<Q", data[8:16])
    if n > MAX_HEADER or 16 + n > len(data):
        fail(f"header length {n} does not fit the file", path)
    header = data[16:16 + n]
    try:
        entries = json.loads(header)
        count = sum(_numel(e["shape"]) for e in entries)
    except (ValueError, KeyError, TypeError):
        fail("unreadable tensor header", path)
    body = data[16 + n:]
    if len(body) != 2 * count:
        fail(f"the header describes {count} values, the file holds {len(body) // 2}", path)
    return header, entries, struct.unpack(f"<{count}e", body)


def read_config(folder):
    path = os.path.join(folder, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            if os.fstat(f.fileno()).st_size > MAX_HEADER:
                fail("config.json is too large", path)
            cfg = json.load(f)
    except OSError as e:
        fail(f"cannot read the model's config ({e.strerror})", path)
    except ValueError as e:
        fail(f"the model's config is not valid JSON ({e})", path)
    if not isinstance(cfg, dict) or cfg.get("format") != "pdpaint-model":
        fail("not a pdpaint model folder's config.json", path)
    return cfg


def _numel(shape):
    n = 1
    for d in shape:
        if not isinstance(d, int) or d < 0:
            raise ValueError("bad shape")
        n *= d
    return n


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: scripts/mix_models.py A B ALPHA OUT")
    a, b, alpha_s, out = sys.argv[1:]
    try:
        alpha = float(alpha_s)
    except ValueError:
        sys.exit(f"error: ALPHA must be a number between 0 and 1, got {alpha_s!r}")
    if not 0.0 <= alpha <= 1.0:
        sys.exit(f"error: ALPHA must be between 0 and 1, got {alpha}")
    if os.path.exists(out):
        fail("the output folder exists; choose a new one", out)
    cfg_a, cfg_b = read_config(a), read_config(b)
    if cfg_a.get("config") != cfg_b.get("config"):
        fail("the two models' architectures or priors differ (config.json)", b)
    cfg_a["source"] = (f"a weight-by-weight mix: {1 - alpha:g} x ({cfg_a.get('source', a)}) "
                       f"+ {alpha:g} x ({cfg_b.get('source', b)})")
    staged = {}
    for name in FILES:
        pa, pb = os.path.join(a, name), os.path.join(b, name)
        if not os.path.exists(pa) and not os.path.exists(pb):
            continue
        ha, ea, va = read_f16(pa)
        hb, eb, vb = read_f16(pb)
        if ea != eb:
            fail(f"the two models' {name} hold different tensors", pb)
        mixed = [(1.0 - alpha) * x + alpha * y for x, y in zip(va, vb)]
        try:
            body = struct.pack(f"<{len(mixed)}e", *mixed)
        except OverflowError:
            fail("a mixed value is outside the half-precision range", pb)
        staged[name] = MAGIC + struct.pack("<Q", len(ha)) + ha + body
    if "generator.f16" not in staged:
        fail("no generator.f16 in the first model", a)
    # Write into a sibling temporary folder and rename it into place, so OUT is whole or absent.
    tmp = out.rstrip("/") + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for name, data in staged.items():
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(data)
    cfg_a["has_discriminator"] = "discriminator.f16" in staged
    with open(os.path.join(tmp, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg_a, f, indent=2)
        f.write("\n")
    os.rename(tmp, out)
    print(f"wrote {out}: {1 - alpha:g} x {a} + {alpha:g} x {b}")


if __name__ == "__main__":
    main()
