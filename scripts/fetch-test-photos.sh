#!/usr/bin/env bash
# fetch-test-photos.sh — build pdpaint's test photo folder from Debian packages.
#
# Usage:
#   scripts/fetch-test-photos.sh [--out DIR] [--cache DIR]
#
#   --out DIR      where the test folder is built
#                  (default: ${XDG_DATA_HOME:-$HOME/.local/share}/pdpaint/test-photos)
#   --cache DIR    where downloaded .deb files are kept and reused
#                  (default: ${XDG_CACHE_HOME:-$HOME/.cache}/pdpaint/debs)
#
# Twelve photographs that no pdpaint model was trained on and that no choice of model,
# checkpoint or setting was made on: `pdpaint eval --data DIR` on this folder is a test,
# where the five validation photos of fetch-photos.sh are a validation set. They come from
# packages that fetch-photos.sh does not use:
#   gcompris-qt-data   11 photos (monuments, music, animals), public domain or CC0 per the
#                      README stanza that GCompris ships beside each one; they sit inside Qt
#                      resource archives (.rcc), copied out byte for byte by rcc_extract.py
#   python3-scipy      the raccoon of `scipy.misc.face` (face.dat: bz2-compressed raw
#                      1024x768 RGB), written as a lossless PNG
# Every one was looked at (real camera photographs, no renders or drawings) and compared
# with the training photos for duplicates. They are downscaled Wikimedia Commons photos
# (about 1024 px wide; the crab 1920x1080, cropped and sharpened by GCompris), stored as
# lossy WebP, and they show more buildings, interiors and animals than the training set.
# Never add these to the training folder, and never use `opencv-doc` here: it is reserved
# for an evaluation no model may see.
#
# Each file's sha256 (for face.png: of the decompressed pixels) is pinned below; a package
# version that changes a file is an error, so the test set cannot drift. The folder is
# rebuilt from scratch on every run; OUT/ATTRIBUTION.md quotes each file's licence stanza
# and OUT/manifest.tsv lists file, package, version, sha256, bytes and original path.
# Requires: apt-get, dpkg-deb, sha256sum, python3.
set -euo pipefail

HERE=${BASH_SOURCE[0]%/*}
# die, warn, info, need_tools, prepare_dirs, start_work, fetch_pkg (shared with fetch-photos.sh)
# shellcheck source=debs.sh
source "$HERE/debs.sh"
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

OUT="${XDG_DATA_HOME:-$HOME/.local/share}/pdpaint/test-photos"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/pdpaint/debs"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --out)     [[ $# -ge 2 ]] || die "--out needs a directory"; OUT=$2; shift 2 ;;
        --out=*)   OUT=${1#*=}; shift ;;
        --cache)   [[ $# -ge 2 ]] || die "--cache needs a directory"; CACHE=$2; shift 2 ;;
        --cache=*) CACHE=${1#*=}; shift ;;
        -h|--help) usage; exit 0 ;;
        *)         usage >&2; die "unknown argument: $1" ;;
    esac
done
need_tools apt-get dpkg dpkg-deb sha256sum python3 awk
export LC_ALL=C
prepare_dirs
MARKER="$OUT/.pdpaint-test-photos"
if [[ ! -e $MARKER ]] && [[ -n $(ls -A "$OUT") ]]; then
    die "$OUT is not empty and was not made by this script (no $MARKER); refusing to overwrite — pick another --out"
fi

start_work pdpaint-test-photos

# ---------------------------------------------------------------- selection
# GCompris: archive (under usr/share/gcompris-qt/rcc), resource path without ":/", sha256
# and, where the archive's README lists the file under another name, that name
# (aulaPalatina.webp is listed as "audaPalatina.webp").
GC=gcompris/src/activities
SELECTION=(
    "explore_monuments.rcc|$GC/explore_monuments/resource/germany/aulaPalatina.webp|5b39680425fca3ff5f56b3bd79d11683a46a009d66ef23445e165ea72524b3cb|audaPalatina.webp"
    "explore_monuments.rcc|$GC/explore_monuments/resource/france/chateaudeChenonceau.webp|4e414fc35ae9b4e18e3219d6278287fb720e89facd332fef9a1c4fe9c3c3adc3"
    "explore_farm_animals.rcc|$GC/explore_farm_animals/resource/animals/chicken.webp|30a07d3c7dfc191ff4d160826ad14babb4cfb9cb47b15ec8a098857f135bfcd4"
    "erase.rcc|$GC/erase/resource/crab.webp|822be2d08adc89a71e6eeff1500eea684c6f0961c98ddb1b23f0e66bbae4f987"
    "explore_monuments.rcc|$GC/explore_monuments/resource/wonders/greatWallofChina.webp|546e2483d17c2b732ce375d946afba6fc612166abcd6d976217747a982b60777"
    "explore_monuments.rcc|$GC/explore_monuments/resource/india/hawaMahal.webp|4edb7eed9db596bd7f3ad98eb34a82c04c32ff1d57aeec80a815c1248feb8e04"
    "explore_world_music.rcc|$GC/explore_world_music/resource/music/japan.webp|0f0aa2d3116e01acdc693b626b1b60699124145670e624121289a7ced5020679"
    "explore_monuments.rcc|$GC/explore_monuments/resource/india/konarkSunTemple.webp|c94ddb83bb2d878fecaf0677e8e6c1e73ede7dd39bd69f5e84d2f68e84515156"
    "explore_world_music.rcc|$GC/explore_world_music/resource/music/orchestra.webp|b4a6d85a40cefbd33cc6801ffcbb3ad7026d8d79be134c753b4f12b0b862cedf"
    "explore_monuments.rcc|$GC/explore_monuments/resource/france/palaisdesPapes.webp|fded6367850d2fafaf5ecad961ba51efbdc0c3d3171f7cc058d2ccfd2e6897e6"
    "explore_monuments.rcc|$GC/explore_monuments/resource/france/rocamadour.webp|e9642c03c23004248bcdf0a364d9828625ba5ef75f82e4a10bfdf2b16bd0a18c"
)
# The README beside the files of each archive (GCompris's per-file licence list).
declare -A README=(
    [explore_monuments.rcc]="$GC/explore_monuments/resource/README"
    [explore_farm_animals.rcc]="$GC/explore_farm_animals/resource/animals/README"
    [erase.rcc]="$GC/erase/resource/README"
    [explore_world_music.rcc]="$GC/explore_world_music/resource/music/README"
)
FACE=usr/lib/python3/dist-packages/scipy/misc/face.dat


STAGE="$WORK/stage"
mkdir -p "$STAGE"
MANIFEST="$STAGE/manifest.tsv"
ATTR="$STAGE/ATTRIBUTION.md"
printf 'file\tpackage\tversion\tsha256\tbytes\toriginal_path\n' >"$MANIFEST"
{
    echo "# pdpaint test photos — attribution"
    echo
    echo "Built by \`scripts/fetch-test-photos.sh\` from Debian packages (downloaded with"
    echo "\`apt-get download\`, extracted with \`dpkg-deb -x\`, never installed). Never train,"
    echo "tune or choose a model on these photos."
} >"$ATTR"

record() {  # record NAME PACKAGE ORIGINAL-PATH
    local f="$STAGE/$1" sum bytes
    sum=$(sha256sum "$f" | cut -d' ' -f1)
    bytes=$(wc -c <"$f" | tr -d ' ')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "${VERSION[$2]}" "$sum" "$bytes" "$3" >>"$MANIFEST"
}

# ---- GCompris
fetch_pkg gcompris-qt-data
RCC="${ROOT[gcompris-qt-data]}/usr/share/gcompris-qt/rcc"
for entry in "${SELECTION[@]}"; do
    IFS='|' read -r archive res want listed <<<"$entry"
    base=${res##*/}
    name="gcompris-qt-data--$base"
    python3 "$HERE/rcc_extract.py" "$RCC/$archive" "$WORK/rcc" "$res" \
        || die "cannot extract :/$res from $RCC/$archive"
    got=$(sha256sum "$WORK/rcc/$base" | cut -d' ' -f1)
    [[ $got == "$want" ]] || die "$base from gcompris-qt-data ${VERSION[gcompris-qt-data]} has sha256 $got, expected $want (the package changed the photo; the test set is pinned): $RCC/$archive"
    mv -- "$WORK/rcc/$base" "$STAGE/$name"
    chmod 0644 "$STAGE/$name"
    record "$name" gcompris-qt-data "/usr/share/gcompris-qt/rcc/$archive :/$res"
    python3 "$HERE/rcc_extract.py" "$RCC/$archive" "$WORK/readme-${archive%.rcc}" "${README[$archive]}" \
        || die "cannot extract the licence README :/${README[$archive]} from $RCC/$archive"
    # The README's stanzas are blank-line separated and end with "Files:" and the names.
    stanza=$(awk -v want="${listed:-$base}" 'BEGIN { RS = "" } {
                 n = split($0, line, "\n"); hit = 0
                 for (i = 1; i <= n; i++) { f = line[i]; sub(/^Files:[ \t]*/, "", f); sub(/^.*\//, "", f); if (f == want) hit = 1 }
                 if (hit) { print; exit } }' "$WORK/readme-${archive%.rcc}/README")
    [[ -n $stanza ]] || die "no licence stanza for $base in :/${README[$archive]} of $RCC/$archive"
    licence=$(printf '%s\n' "$stanza" | sed -n 's/^License:[ \t]*//p' | head -n1)
    case "$licence" in
        "Public Domain"|CC0-1.0) : ;;
        *) die "$base: licence '$licence' is not public domain or CC0 (the selection expects one of those): $RCC/$archive" ;;
    esac
    {
        echo
        echo "## \`$name\`"
        echo
        echo "- package: \`gcompris-qt-data\` \`${VERSION[gcompris-qt-data]}\`, inside \`/usr/share/gcompris-qt/rcc/$archive\` as \`:/$res\`"
        echo "- licence: **$licence**"
        echo "- sha256: \`$want\`"
        echo
        echo "  From \`:/${README[$archive]}\` in the same archive${listed:+ (which lists the file as \`$listed\`)}:"
        echo
        printf '%s\n' "$stanza" | sed 's/^\(.\)/    \1/'
    } >>"$ATTR"
done

# ---- SciPy's raccoon
fetch_pkg python3-scipy
[[ -f ${ROOT[python3-scipy]}/$FACE ]] || die "python3-scipy ${VERSION[python3-scipy]} does not ship /$FACE"
python3 - "${ROOT[python3-scipy]}/$FACE" "$STAGE/python3-scipy--face.png" "$WORK/face.rgb" <<'PY' \
    || die "cannot convert /$FACE to PNG"
import bz2, struct, sys, zlib
src, dst, raw_out = sys.argv[1:4]
w, h = 1024, 768
with open(src, "rb") as f:
    data = bz2.BZ2Decompressor().decompress(f.read(), w * h * 3 + 1)
if len(data) != w * h * 3:
    sys.exit(f"face.dat holds {len(data)} bytes, expected {w * h * 3} (1024x768 RGB)")
open(raw_out, "wb").write(data)
rows = b"".join(b"\0" + data[y * w * 3:(y + 1) * w * 3] for y in range(h))
def chunk(t, c):
    return struct.pack(">I", len(c)) + t + c + struct.pack(">I", zlib.crc32(t + c) & 0xFFFFFFFF)
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
open(dst, "wb").write(png)
PY
FACE_RGB_SHA=9f16f4e284d28f4b8e0356171bc6543d2a0d24a0bd55dabebbd30e102aa8946c
got=$(sha256sum "$WORK/face.rgb" | cut -d' ' -f1)
[[ $got == "$FACE_RGB_SHA" ]] || die "face.dat of python3-scipy ${VERSION[python3-scipy]} decodes to pixels with sha256 $got, expected $FACE_RGB_SHA: ${ROOT[python3-scipy]}/$FACE"
chmod 0644 "$STAGE/python3-scipy--face.png"
record python3-scipy--face.png python3-scipy "/$FACE (bz2 raw RGB, written as PNG)"
{
    echo
    echo "## \`python3-scipy--face.png\`"
    echo
    echo "- package: \`python3-scipy\` \`${VERSION[python3-scipy]}\`, \`/$FACE\` (bz2-compressed raw 1024×768 RGB, written losslessly as PNG)"
    echo "- licence: **BSD-3-Clause** (the package's copyright file, \`Files: *\`); SciPy's documentation of"
    echo "  \`scipy.misc.face\` names the source photo, a raccoon from public-domain-image.com, as public domain"
    echo "- sha256 of the decoded pixels: \`$FACE_RGB_SHA\`"
} >>"$ATTR"

# ---------------------------------------------------------------- install
find "$OUT" -mindepth 1 -maxdepth 1 ! -name "${MARKER##*/}" -exec rm -rf -- {} +
mv -- "$STAGE"/* "$OUT/"
echo "pdpaint test photo folder built by scripts/fetch-test-photos.sh" >"$MARKER"
N=$(find "$OUT" -maxdepth 1 -type f \( -name '*.webp' -o -name '*.png' \) | wc -l)
echo "Test photos: $N in $OUT (licences: $OUT/ATTRIBUTION.md, checksums: $OUT/manifest.tsv)"
