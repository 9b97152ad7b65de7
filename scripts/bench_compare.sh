#!/usr/bin/env bash
# pdpaint (flex CPU, release build) against current PyTorch from PyPI (CPU) on the same
# networks, sizes, batch, losses and thread count, in one go: docs/performance.md#speed.
#
#   scripts/bench_compare.sh [--quick] [--no-build] [--no-train]
#
# Environment: THREADS (2), REPEATS (5; medians), TRAIN_RES ("128"; e.g. "128 256"),
# TRAIN_BATCH (4), OUT (target/bench-compare), PDPAINT_BIN (with --no-build: the binary to
# measure, e.g. an older build for a before/after table), PDPAINT_TORCH_VENV
# (~/.cache/pdpaint/torch-venv: created on first use with `pip install torch numpy pillow`
# from PyPI, about 6 GiB; never inside the repository).
#
# Writes OUT/{pdpaint,torch,pdpaint_train,torch_train}.json (raw), OUT/compare.json and
# OUT/compare.md (the table printed at the end), ready to paste into docs/performance.md.
# --quick: small preset only, 3 repeats, no training. --no-build: use $PDPAINT_BIN or
# target/release/pdpaint as it is.
set -euo pipefail

cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-5}
TRAIN_RES=${TRAIN_RES:-128}
TRAIN_BATCH=${TRAIN_BATCH:-4}
OUT=${OUT:-target/bench-compare}
VENV=${PDPAINT_TORCH_VENV:-$HOME/.cache/pdpaint/torch-venv}
PRESETS="official small"
BUILD=1
TRAIN=1
for arg in "$@"; do
    case "$arg" in
        --quick) PRESETS="small"; REPEATS=3; TRAIN=0 ;;
        --no-build) BUILD=0 ;;
        --no-train) TRAIN=0 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
    esac
done

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch, numpy, PIL" 2>/dev/null; then
    parent=$(dirname "$VENV")
    mkdir -p "$parent"
    free_kib=$(df -Pk "$parent" | awk 'NR==2 {print $4}')
    if [ "$free_kib" -lt $((8 * 1024 * 1024)) ]; then
        echo "need about 8 GiB free for the PyTorch venv; $((free_kib / 1024 / 1024)) GiB free at $parent" >&2
        exit 1
    fi
    echo "creating the PyTorch venv (PyPI torch, numpy, pillow): $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet torch numpy pillow
fi

if [ "$BUILD" = 1 ]; then
    cargo build --release --bin pdpaint >&2
fi
BIN=${PDPAINT_BIN:-target/release/pdpaint}
if [ ! -x "$BIN" ]; then
    echo "no release binary: $BIN (run without --no-build)" >&2
    exit 1
fi

mkdir -p "$OUT"
export RAYON_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# How busy the machine is without us: the share of CPU time not idle over 5 s before the run
# (the load average lags by minutes, and the benchmark's own threads would count in it after).
cpu_ticks() { awk '/^cpu / {print $2+$3+$4+$6+$7+$8, $5}' /proc/stat; }
read -r busy0 idle0 < <(cpu_ticks)
sleep 5
read -r busy1 idle1 < <(cpu_ticks)
busy_pct=$(( 100 * (busy1 - busy0) / ( (busy1 - busy0) + (idle1 - idle0) + 1 ) ))
PY="$VENV/bin/python"

echo "inference: pdpaint…" >&2
# shellcheck disable=SC2086
"$BIN" bench --backend cpu --json --repeats "$REPEATS" --presets $PRESETS --map-size 1024 \
    > "$OUT/pdpaint.json"
echo "inference: PyTorch…" >&2
# shellcheck disable=SC2086
"$PY" scripts/bench_torch.py --threads "$THREADS" --repeats "$REPEATS" --presets $PRESETS \
    > "$OUT/torch.json"
if [ "$TRAIN" = 1 ]; then
    echo "training: pdpaint…" >&2
    # shellcheck disable=SC2086
    "$BIN" bench --backend cpu --train --json --repeats "$REPEATS" --presets small \
        --train-res $TRAIN_RES --train-batch "$TRAIN_BATCH" > "$OUT/pdpaint_train.json"
    echo "training: PyTorch…" >&2
    # shellcheck disable=SC2086
    "$PY" scripts/bench_torch.py --train --threads "$THREADS" --repeats "$REPEATS" \
        --presets small --train-res $TRAIN_RES --train-batch "$TRAIN_BATCH" \
        > "$OUT/torch_train.json"
else
    rm -f "$OUT/pdpaint_train.json" "$OUT/torch_train.json"
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

"$PY" - "$OUT" "$THREADS" "$REPEATS" "$load_before" "$load_after" "$(nproc)" "$busy_pct" <<'EOF'
import json
import os
import platform
import sys

out, threads, repeats, load_before, load_after, cores, busy_pct = sys.argv[1:]
rd = lambda name: json.load(open(os.path.join(out, name))) if os.path.exists(os.path.join(out, name)) else None
ours, torch, ours_t, torch_t = (rd(n) for n in
                                ("pdpaint.json", "torch.json", "pdpaint_train.json", "torch_train.json"))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
           platform.processor())
rows = []  # (what, pdpaint, pytorch, unit, ratio = pdpaint time / PyTorch time, target)


def add(what, ours_v, torch_v, unit, ratio, target):
    rows.append(dict(what=what, pdpaint=ours_v, pytorch=torch_v, unit=unit, ratio=ratio, target=target))


tp = {p["preset"]: p for p in torch["presets"]}
for p in ours["presets"]:
    t = tp.get(p["preset"])
    if t is None:
        continue
    n = p["preset"]
    add(f"{n} prior", p["prior_ms"], t["prior_ms"], "ms", p["prior_ms"] / t["prior_ms"], 1.5)
    add(f"{n} generator, one sample", p["generator_ms_per_sample"], t["generator_ms_per_sample"],
        "ms", p["generator_ms_per_sample"] / t["generator_ms_per_sample"], 1.5)
    add(f"{n} generator, each further sample of the same photo (PyTorch recomputes all)",
        p["generator_ms_per_extra_sample"], t["generator_ms_per_sample"], "ms",
        p["generator_ms_per_extra_sample"] / t["generator_ms_per_sample"], 1.0)
    if p.get("eight_samples_ms") is not None:
        add(f"{n}: prior + 8 samples of one photo, pdpaint only", p["eight_samples_ms"], None,
            "ms", None, None)
if ours_t and torch_t:
    tt = {(r["preset"], r["resolution"]): r for r in torch_t["train"]}
    for r in ours_t["train"]:
        t = tt.get((r["preset"], r["resolution"]))
        if t is None:
            continue
        for stage in (1, 2):
            k = f"stage{stage}_steps_per_s"
            add(f"training stage {stage}, {r['preset']} {r['resolution']}², batch {r['batch']}, "
                f"VGG /{r['vgg_width_div']}", r[k], t[k], "steps/s", t[k] / r[k], 1.5)

ratio = lambda x: "—" if x is None else (f"{x:.2f}× slower" if x > 1.005 else
                                        f"{1 / x:.2f}× faster" if x < 0.995 else "≈ 1.0×")
num = lambda v, u: "—" if v is None else (f"{v:.0f} {u}" if u == "ms" else f"{v:.3f} {u}")
quiet = "quiet" if int(busy_pct) < 15 else "NOT quiet"
md = [f"Machine: {cpu}, {cores} cores ({quiet}: {busy_pct} % busy in the 5 s before; load average "
      f"{load_before} before, {load_after} after); "
      f"{threads} threads each; median of {repeats}; 256², batch 1 unless stated. "
      f"pdpaint {ours['backend']}; PyTorch {torch['torch']} ({torch['threads']} threads).", "",
      "| | pdpaint | PyTorch | pdpaint vs PyTorch | target |", "|---|---|---|---|---|"]
for r in rows:
    tgt = "—" if r["target"] is None else f"≤ {r['target']}× the time"
    ok = "" if r["ratio"] is None or r["target"] is None else (" ✓" if r["ratio"] <= r["target"] else " ✗")
    md.append(f"| {r['what']} | {num(r['pdpaint'], r['unit'])} | {num(r['pytorch'], r['unit'])} | "
              f"{ratio(r['ratio'])}{ok} | {tgt} |")
if ours.get("hard_map_fast_ms") is not None:
    md.append("")
    md.append(f"Hard map {ours['hard_map_size']}² (N=7, ks=5): {ours['hard_map_fast_ms']:.1f} ms"
              + (f" (reference algorithm {ours['hard_map_reference_ms']:.0f} ms)"
                 if ours.get("hard_map_reference_ms") else ""))
text = "\n".join(md) + "\n"
json.dump(dict(machine=dict(cpu=cpu, cores=int(cores), busy_pct_before=int(busy_pct),
                            load_before=load_before, load_after=load_after,
                            quiet=quiet == "quiet"),
               threads=int(threads), repeats=int(repeats), rows=rows,
               raw=dict(pdpaint=ours, pytorch=torch, pdpaint_train=ours_t, pytorch_train=torch_t)),
          open(os.path.join(out, "compare.json"), "w"), indent=1)
open(os.path.join(out, "compare.md"), "w").write(text)
print(text)
EOF
