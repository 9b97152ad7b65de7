#!/usr/bin/env python3
"""Mix two half-precision model folders weight by weight ("model soup").

    scripts/mix_models.py A B ALPHA OUT
    scripts/mix_models.py --average OUT A B [C ...]

Writes OUT/{prior,generator,discriminator}.f16 = (1 - ALPHA) * A + ALPHA * B, parameter by
parameter, and A's config.json with its `source` naming the mix. Meant for fine-tunes of one
parent model (e.g. two forks of a training run, exported with `pdpaint export --half`): their
weights lie close together, and a point between them can measure better than either
(docs/evaluation.md, "A mix of two fine-tunes"). Mixing unrelated models gives nonsense.
`--average` writes the uniform mean of two or more folders instead: with the checkpoints of one
run taken at a fixed interval that is stochastic weight averaging, which evens out the
back-and-forth of a GAN's late training.

All folders must hold the same files with the same tensors (names and shapes, in the same
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


def parse_args(argv):
    """(list of (folder, weight), OUT) from the command line; exits with usage on bad input."""
    usage = ("usage: scripts/mix_models.py A B ALPHA OUT  |  "
             "scripts/mix_models.py --average OUT A B [C ...]")
    if len(argv) >= 4 and argv[0] == "--average":
        out, folders = argv[1], argv[2:]
        if len(set(folders)) != len(folders):
            sys.exit("error: a folder is named twice; each checkpoint counts once")
        return [(f, 1.0 / len(folders)) for f in folders], out
    if len(argv) != 4:
        sys.exit(usage)
    a, b, alpha_s, out = argv
    try:
        alpha = float(alpha_s)
    except ValueError:
        sys.exit(f"error: ALPHA must be a number between 0 and 1, got {alpha_s!r}")
    if not 0.0 <= alpha <= 1.0:
        sys.exit(f"error: ALPHA must be between 0 and 1, got {alpha}")
    return [(a, 1.0 - alpha), (b, alpha)], out


def main():
    parts, out = parse_args(sys.argv[1:])
    if os.path.exists(out):
        fail("the output folder exists; choose a new one", out)
    cfgs = [read_config(folder) for folder, _ in parts]
    for (folder, _), cfg in zip(parts[1:], cfgs[1:]):
        if cfg.get("config") != cfgs[0].get("config"):
            fail("the models' architectures or priors differ (config.json)", folder)
    cfg_out = cfgs[0]
    if len(parts) == 2 and parts[0][1] != parts[1][1]:
        (a, wa), (b, wb) = parts
        cfg_out["source"] = (f"a weight-by-weight mix: {wa:g} x ({cfgs[0].get('source', a)}) "
                             f"+ {wb:g} x ({cfgs[1].get('source', b)})")
    else:
        names = "; ".join(f"({c.get('source', f)})" for (f, _), c in zip(parts, cfgs))
        cfg_out["source"] = f"the uniform weight average of {len(parts)} models: {names}"
    weights = [w for _, w in parts]
    staged = {}
    for name in FILES:
        paths = [os.path.join(folder, name) for folder, _ in parts]
        present = [os.path.exists(p) for p in paths]
        if not any(present):
            continue
        if not all(present):
            fail(f"{name} is missing from one of the models", paths[present.index(False)])
        read = [read_f16(p) for p in paths]
        header, entries, _ = read[0]
        for p, (_, e, _) in zip(paths[1:], read[1:]):
            if e != entries:
                fail(f"the models' {name} hold different tensors", p)
        # Start from -0.0, not 0, so that a weight that is -0.0 in every model stays -0.0.
        mixed = [sum((w * v for w, v in zip(weights, vals)), -0.0)
                 for vals in zip(*(r[2] for r in read))]
        try:
            body = struct.pack(f"<{len(mixed)}e", *mixed)
        except OverflowError:
            fail("a mixed value is outside the half-precision range", paths[-1])
        staged[name] = MAGIC + struct.pack("<Q", len(header)) + header + body
    if "generator.f16" not in staged:
        fail("no generator.f16 in the models", parts[0][0])
    # Write into a sibling temporary folder and rename it into place, so OUT is whole or absent.
    tmp = out.rstrip("/") + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for name, data in staged.items():
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(data)
    cfg_out["has_discriminator"] = "discriminator.f16" in staged
    with open(os.path.join(tmp, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg_out, f, indent=2)
        f.write("\n")
    os.rename(tmp, out)
    print(f"wrote {out}: " + " + ".join(f"{w:g} x {f}" for f, w in parts))


if __name__ == "__main__":
    main()
