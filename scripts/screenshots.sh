#!/usr/bin/env bash
# Runs the real pdpaint binary in a virtual X display (Xvfb) with software Vulkan (Debian's
# mesa-vulkan-drivers: lavapipe) and writes the README's screenshots to screenshots/*.png, plus
# frame-time reports screenshots/frames-*.json (eframe's per-frame CPU time while 8 samples
# generate, while the in-between strip's fills generate, while a re-roll generates and while a
# training run steps).
#
#   scripts/screenshots.sh [path/to/pdpaint]      (default: target/debug/pdpaint, built if absent)
#   SCENES="gallery training" scripts/screenshots.sh   (only these scenes)
#
# Needs: xvfb mesa-vulkan-drivers libvulkan1 (Debian), the photo set of scripts/fetch-photos.sh
# for the training scene (PDPAINT_PHOTOS, default ~/.local/share/pdpaint/photos/train).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-target/debug/pdpaint}
if [[ ! -x "$BIN" ]]; then
    cargo build
fi
PHOTOS=${PDPAINT_PHOTOS:-$HOME/.local/share/pdpaint/photos/train}
OUT=screenshots
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'kill "${XVFB_PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$WORK/xdg}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
# A fresh profile: no remembered preferences, the embedded default model.
export XDG_CONFIG_HOME=$WORK/config XDG_DATA_HOME=$WORK/data
export WINIT_UNIX_BACKEND=x11
unset WAYLAND_DISPLAY PDPAINT_MODEL
DISPLAY_NUM=${DISPLAY_NUM:-:77}
Xvfb "$DISPLAY_NUM" -screen 0 1600x1000x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
XVFB_PID=$!
export DISPLAY=$DISPLAY_NUM
sleep 2

PHOTO=assets/coffee.png
MASK=assets/coffee-mask-large.png

SCENES=${SCENES:-hard-map gallery soft-map wipe strip keep mix training}

shot() {
    local name=$1
    shift
    [[ " $SCENES " == *" $name "* ]] || return 0
    echo "== $name"
    "$BIN" "$PHOTO" --mask "$MASK" --screenshot "$OUT/$name.png" --quit --timeout 900 "$@" \
        2>&1 | grep -v XDG_RUNTIME_DIR | tee "$WORK/$name.log"
    [[ -s "$OUT/$name.png" ]] || { echo "no screenshot $OUT/$name.png" >&2; exit 1; }
}

# 1. Photo with its mask and the hard map of unit 4 (at the unit's own resolution over the
#    context box: rings of decaying confidence inside the hole), drawn live.
shot hard-map --overlay hard-unit --unit 4 --opacity 0.65 --mask-tint false
# 2. A gallery of 8 diverse samples, the third previewed on the canvas; frame times measured
#    while they generate.
shot gallery --samples 8 --seed 1 --generate --select 2 --overlay none \
    --frame-log "$OUT/frames-generate.json"
# 3. The soft map (channel mean) of unit 4 from the generator's forward pass.
shot soft-map --samples 4 --seed 1 --generate --overlay soft --unit 4 --opacity 0.75 --mask-tint false
# 4. Wipe compare: the first sample left of the line, the third right of it (line at 45 %).
shot wipe --samples 4 --seed 1 --generate --select 0 --compare wipe:2:0.45 --overlay none
# 5. The in-between strip: 6 fills between the first and the second sample, screenshot once
#    all have arrived; frame times measured while they generate (phase "strip").
shot strip --samples 4 --seed 1 --generate --select 0 --compare strip:1:6 --overlay none \
    --frame-log "$OUT/frames-strip.json"
# 6. Pin and re-roll: the left half of the first sample's fill kept, the rest re-rolled; frame
#    times measured while the re-roll generates (phase "re-roll").
shot keep --samples 4 --seed 1 --generate --select 0 --compare keep:0:0.5 --overlay none \
    --frame-log "$OUT/frames-reroll.json"
# 7. Mix: the third sample brushed into the right 45 % of the first one's fill.
shot mix --samples 4 --seed 1 --generate --select 0 --compare mix:2:0.45 --overlay none
# 8. The training panel mid-run (small preset, 128², both stages), generating meanwhile;
#    frame times measured while training and while both run.
if [[ -d "$PHOTOS" ]]; then
    shot training --train-data "$PHOTOS" --train-out "$WORK/run" \
        --train-prior-steps 12 --train-pdgan-steps 12 --train-every 6 --shot-after-steps 16 \
        --samples 8 --generate --generate-while-training --overlay diversity \
        --frame-log "$OUT/frames-training.json"
else
    echo "skipping the training scene: no photos at $PHOTOS (run scripts/fetch-photos.sh)" >&2
fi
ls -l "$OUT"
