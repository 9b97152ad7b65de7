#!/usr/bin/env bash
# fetch-photos.sh — build pdpaint's training photo folder from Debian packages.
#
# Usage:
#   scripts/fetch-photos.sh [--out DIR] [--cache DIR] [--holdout N]
#
#   --out DIR      where the photo folder is built
#                  (default: ${XDG_DATA_HOME:-$HOME/.local/share}/pdpaint/photos)
#   --cache DIR    where downloaded .deb files are kept and reused
#                  (default: ${XDG_CACHE_HOME:-$HOME/.cache}/pdpaint/debs)
#   --holdout N    number of whole photos moved to val/ (default 5, 0 = none)
#
# What it does (see /work/shared/data.md, "Real photographs for training"):
#   * `apt-get download PKG` into the cache (only when no cached .deb of PKG
#     exists; `apt-get update` is run once, only if a download fails because the
#     package lists are missing), `dpkg-deb -x` into a temporary directory.
#     Nothing is ever installed.
#   * Copies EXACTLY these photos, and no others:
#       mate-backgrounds             usr/share/backgrounds/mate/nature/*.jpg
#       lomiri-wallpapers-16.04      usr/share/backgrounds/*.jpg
#       plasma-workspace-wallpapers  usr/share/wallpapers/<Name>/contents/images/2560x1600.jpg
#                                    for BytheWater ColdRipple ColorfulCups DarkestHour
#                                    EveningGlow FallenLeaf Grey Kite OneStandsOut Path
#                                    summer_1am, and Volna/contents/images/5120x2880.jpg
#       python3-skimage (python3-skimage-lib is tried only if a file is not there)
#                                    skimage/data/{astronaut,camera,chelsea,coffee,coins,
#                                    motorcycle_left,grass,gravel}.png and rocket.jpg
#       python3-sklearn (python3-sklearn-lib is tried only if a file is not there)
#                                    sklearn/datasets/images/{china,flower}.jpg
#     A listed file that a package no longer ships is skipped with a warning and
#     recorded under "Missing files" in ATTRIBUTION.md; nothing is substituted.
#     (Debian 12 / bookworm: all listed files exist, 50 photos in total; the
#     skimage and sklearn images live in the arch:all packages, not in -lib.)
#   * Output (train/ and val/ are rebuilt from scratch on every run, so re-running
#     with the same cached .debs gives the same folder):
#       OUT/train/<package>--<name>.<ext>
#       OUT/val/<package>--<name>.<ext>       the --holdout photos
#       OUT/ATTRIBUTION.md                    package, version, original path,
#                                             copyright/licence per file, holdout list,
#                                             missing files
#       OUT/manifest.tsv                      split, file, package, version, sha256,
#                                             bytes, width, height, original path
#     Plasma files are named after their wallpaper directory
#     (e.g. plasma-workspace-wallpapers--Kite-2560x1600.jpg) because every
#     plasma image is called 2560x1600.jpg.
#   * Holdout rule (deterministic): sort all output names (LC_ALL=C), M = count;
#     for i = 0..N-1 pick index floor((2*i+1)*M / (2*N)), i.e. a fixed stride
#     through the sorted list, which spreads the picks across packages. With the
#     Debian 12 packages and N=5 this selects:
#       lomiri-wallpapers-16.04--aitzgorri_by_Aitzol_Berasategi.jpg
#       mate-backgrounds--Aqua.jpg
#       mate-backgrounds--Wood.jpg
#       plasma-workspace-wallpapers--OneStandsOut-2560x1600.jpg
#       python3-skimage--gravel.png
#     The actual list is always printed and written to ATTRIBUTION.md.
#
# Requires: apt-get, dpkg-deb, sha256sum, awk, sort (file(1) optional, for sizes).
# Exit status is non-zero on any failure (a package that cannot be downloaded or
# extracted is named in the error).
set -euo pipefail

PROG=${0##*/}
die()  { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
info() { printf '%s: %s\n' "$PROG" "$*" >&2; }

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

OUT="${XDG_DATA_HOME:-$HOME/.local/share}/pdpaint/photos"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/pdpaint/debs"
HOLDOUT=5

while [[ $# -gt 0 ]]; do
    case "$1" in
        --out)       [[ $# -ge 2 ]] || die "--out needs a directory"; OUT=$2; shift 2 ;;
        --out=*)     OUT=${1#*=}; shift ;;
        --cache)     [[ $# -ge 2 ]] || die "--cache needs a directory"; CACHE=$2; shift 2 ;;
        --cache=*)   CACHE=${1#*=}; shift ;;
        --holdout)   [[ $# -ge 2 ]] || die "--holdout needs a number"; HOLDOUT=$2; shift 2 ;;
        --holdout=*) HOLDOUT=${1#*=}; shift ;;
        -h|--help)   usage; exit 0 ;;
        *)           usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ $HOLDOUT =~ ^[0-9]+$ ]] || die "--holdout must be a non-negative integer, got '$HOLDOUT'"
[[ -n $OUT && -n $CACHE ]] || die "--out and --cache must not be empty"

for tool in apt-get dpkg dpkg-deb sha256sum awk sort; do
    command -v "$tool" >/dev/null 2>&1 || die "required tool not found: $tool (this script needs a Debian-based system)"
done
HAVE_FILE=0
command -v file >/dev/null 2>&1 && HAVE_FILE=1

export LC_ALL=C
START=$(date +%s)

mkdir -p "$CACHE" || die "cannot create cache directory $CACHE"
CACHE=$(cd "$CACHE" && pwd)
mkdir -p "$OUT" || die "cannot create output directory $OUT"
OUT=$(cd "$OUT" && pwd)
MARKER="$OUT/.pdpaint-photos"
if [[ ! -e $MARKER ]] && { [[ -e $OUT/train ]] || [[ -e $OUT/val ]]; }; then
    die "$OUT already has train/ or val/ not made by this script (no $MARKER); refusing to overwrite — pick another --out"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pdpaint-photos.XXXXXX")
cleanup() { rm -rf -- "$WORK"; }
trap cleanup EXIT

# ---------------------------------------------------------------- packages
UPDATED=0
declare -A DEB=() VERSION=() ROOT=()

# newest cached .deb of package $1 (by dpkg version order), or nothing
cached_deb() {
    local pkg=$1 best="" bestv="" f v
    for f in "$CACHE/${pkg}"_*.deb; do
        [[ -f $f ]] || continue
        v=$(dpkg-deb -f "$f" Version 2>/dev/null) || { warn "ignoring unreadable cached file $f"; continue; }
        [[ $(dpkg-deb -f "$f" Package 2>/dev/null) == "$pkg" ]] || continue
        if [[ -z $best ]] || dpkg --compare-versions "$v" gt "$bestv"; then
            best=$f; bestv=$v
        fi
    done
    [[ -n $best ]] && printf '%s\n' "$best"
    return 0
}

download() {
    local pkg=$1 dl="$WORK/dl-$1" log="$WORK/dl-$1.log" f
    mkdir -p "$dl"
    if ! (cd "$dl" && apt-get download "$pkg") >"$log" 2>&1; then
        if [[ $UPDATED -eq 0 ]] && grep -qE "Unable to locate package|Can't select|has no installation candidate|No packages found" "$log"; then
            info "package lists look missing; running apt-get update once"
            UPDATED=1
            apt-get update >"$WORK/apt-update.log" 2>&1 \
                || { cat "$WORK/apt-update.log" >&2; die "apt-get update failed (needed to download $pkg; run as root or run 'sudo apt-get update' first)"; }
            (cd "$dl" && apt-get download "$pkg") >"$log" 2>&1 \
                || { cat "$log" >&2; die "apt-get download $pkg failed"; }
        else
            cat "$log" >&2
            die "apt-get download $pkg failed"
        fi
    fi
    for f in "$dl"/*.deb; do
        [[ -f $f ]] || die "apt-get download $pkg produced no .deb"
        dpkg-deb --info "$f" >/dev/null 2>&1 || die "downloaded $pkg is not a valid .deb: $f"
        mv -f -- "$f" "$CACHE/"
    done
}

# ensure package $1 is downloaded and extracted; sets DEB, VERSION, ROOT
fetch_pkg() {
    local pkg=$1 deb
    [[ -n ${ROOT[$pkg]:-} ]] && return 0
    deb=$(cached_deb "$pkg")
    if [[ -z $deb ]]; then
        info "downloading $pkg into $CACHE"
        download "$pkg"
        deb=$(cached_deb "$pkg")
        [[ -n $deb ]] || die "no usable .deb for $pkg in $CACHE after download"
    else
        info "using cached ${deb##*/}"
    fi
    mkdir -p "$WORK/x/$pkg"
    dpkg-deb -x "$deb" "$WORK/x/$pkg" || die "dpkg-deb -x failed for $pkg ($deb)"
    DEB[$pkg]=$deb
    VERSION[$pkg]=$(dpkg-deb -f "$deb" Version) || die "cannot read version of $pkg"
    ROOT[$pkg]="$WORK/x/$pkg"
}

# ---------------------------------------------------------------- selection
# Each selected photo: "package<TAB>original path (relative to /)<TAB>output name"
SELECTED="$WORK/selected.tsv"
MISSING="$WORK/missing.tsv"     # "package(s)<TAB>path<TAB>reason"
: >"$SELECTED"; : >"$MISSING"

add() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$SELECTED"; }
missing() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$MISSING"; warn "$1: $2: $3 — skipped, nothing substituted"; }

# copy every regular *.jpg directly inside directory $2 of package $1
add_glob() {
    local pkg=$1 dir=$2 f n=0
    fetch_pkg "$pkg"
    if [[ ! -d ${ROOT[$pkg]}/$dir ]]; then
        missing "$pkg" "/$dir/*.jpg" "directory not in package version ${VERSION[$pkg]}"
        return 0
    fi
    for f in "${ROOT[$pkg]}/$dir"/*.jpg; do
        [[ -e $f || -L $f ]] || continue
        if [[ -L $f || ! -f $f ]]; then
            warn "$pkg: /$dir/${f##*/} is not a regular file (symlink?) — skipped"
            continue
        fi
        add "$pkg" "$dir/${f##*/}" "${pkg}--${f##*/}"
        n=$((n + 1))
    done
    [[ $n -gt 0 ]] || missing "$pkg" "/$dir/*.jpg" "no .jpg files in package version ${VERSION[$pkg]}"
}

# copy one named file $2 (relative path), looked for in the candidate packages
# $3... in order; later candidates are downloaded only when needed
add_one() {
    local rel=$1 outname=$2; shift 2
    local pkg
    for pkg in "$@"; do
        fetch_pkg "$pkg"
        if [[ -f ${ROOT[$pkg]}/$rel && ! -L ${ROOT[$pkg]}/$rel ]]; then
            add "$pkg" "$rel" "${pkg}--${outname}"
            return 0
        fi
    done
    local vs="" p
    for p in "$@"; do vs+="${vs:+, }$p ${VERSION[$p]}"; done
    missing "$*" "/$rel" "not found in $vs"
}

add_glob mate-backgrounds usr/share/backgrounds/mate/nature
add_glob lomiri-wallpapers-16.04 usr/share/backgrounds

for name in BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf \
            Grey Kite OneStandsOut Path summer_1am; do
    add_one "usr/share/wallpapers/$name/contents/images/2560x1600.jpg" "$name-2560x1600.jpg" \
        plasma-workspace-wallpapers
done
add_one usr/share/wallpapers/Volna/contents/images/5120x2880.jpg Volna-5120x2880.jpg \
    plasma-workspace-wallpapers

SK=usr/lib/python3/dist-packages/skimage/data
for name in astronaut.png camera.png chelsea.png coffee.png coins.png motorcycle_left.png \
            grass.png gravel.png rocket.jpg; do
    add_one "$SK/$name" "$name" python3-skimage python3-skimage-lib
done

SL=usr/lib/python3/dist-packages/sklearn/datasets/images
for name in china.jpg flower.jpg; do
    add_one "$SL/$name" "$name" python3-sklearn python3-sklearn-lib
done

sort -t $'\t' -k3,3 -o "$SELECTED" "$SELECTED"
M=$(wc -l <"$SELECTED")
[[ $M -gt 0 ]] || die "no photos selected"
dups=$(cut -f3 "$SELECTED" | sort | uniq -d)
[[ -z $dups ]] || die "internal error: duplicate output names: $dups"
[[ $HOLDOUT -lt $M ]] || die "--holdout $HOLDOUT must be smaller than the number of photos ($M)"

# ---------------------------------------------------------------- holdout
declare -A IS_VAL=()
HOLDOUT_LIST=()
for ((i = 0; i < HOLDOUT; i++)); do
    idx=$(( (2 * i + 1) * M / (2 * HOLDOUT) ))
    name=$(sed -n "$((idx + 1))p" "$SELECTED" | cut -f3)
    IS_VAL[$name]=1
    HOLDOUT_LIST+=("$name")
done

# ---------------------------------------------------------------- copyright
# Print the DEP-5 stanza of copyright file $1 that best matches installed path $2:
# a pattern matching a path suffix beats one matching only the basename, which
# beats "*"; among equals the last stanza wins (as DEP-5 specifies).
dep5_stanza() {
    awk -v path="/$2" '
    function glob2re(g,    i, c, r) {
        r = ""
        for (i = 1; i <= length(g); i++) {
            c = substr(g, i, 1)
            if (c == "*") r = r ".*"
            else if (c == "?") r = r "."
            else if (index(".+()^$|{}[]\\/", c)) r = r "\\" c
            else r = r c
        }
        return r
    }
    BEGIN { RS = ""; best = 0; text = ""; base = path; sub(/.*\//, "", base) }
    {
        n = split($0, L, "\n"); files = ""; infiles = 0
        for (k = 1; k <= n; k++) {
            if (L[k] ~ /^Files:/) { files = substr(L[k], 7); infiles = 1 }
            else if (infiles && L[k] ~ /^[ \t]/) files = files " " L[k]
            else infiles = 0
        }
        if (files == "") next
        m = split(files, P, /[ \t]+/); score = 0
        for (k = 1; k <= m; k++) {
            p = P[k]; if (p == "") continue
            if (p == "*") { s = 1 }
            else if (path ~ ("/" glob2re(p) "$")) { s = 3 }
            else { pb = p; sub(/.*\//, "", pb)
                   # basename-only match (the installed tree may not mirror the
                   # source tree) only for literal names, never for "dir/*"
                   s = (pb !~ /[*?]/ && pb == base) ? 2 : 0 }
            if (s > score) score = s
        }
        if (score > 0 && score >= best) { best = score; text = $0 }
    }
    END { if (text != "") print text }' "$1"
}

licence_of_stanza() { awk '/^License:/ { sub(/^License:[ \t]*/, ""); print; exit }'; }

# Per-image provenance for the scikit-image sample data, summarised from the
# docstrings in skimage/data/_fetchers.py (scikit-image 0.19).
skimage_note() {
    case "$1" in
        astronaut.png) echo "Public domain|Eileen Collins, NASA Great Images database (https://flic.kr/p/r9qvLn); no known copyright restrictions, released into the public domain." ;;
        camera.png) echo "CC0-1.0|Photograph by Lav Varshney, CC0 (replaced in scikit-image 0.18, see scikit-image issue #3927)." ;;
        chelsea.png) echo "CC0-1.0|Chelsea the cat; CC0 by the photographer (Stefan van der Walt)." ;;
        coffee.png) echo "CC0-1.0|Coffee cup, courtesy of Pikolo Espresso Bar; CC0 by the photographer (Rachel Michetti)." ;;
        coins.png) echo "No known copyright restrictions|Greek coins from Pompeii, Brooklyn Museum Collection (https://www.brooklynmuseum.org/opencollection/archives/image/51611)." ;;
        motorcycle_left.png) echo "BSD-3-Clause (scikit-image distribution)|Left image of the Middlebury 2014 stereo benchmark (Nesic, Westling, Wang, Kitajima, Krathwohl, Scharstein, Middlebury College), down-sampled 4x; no separate licence stated in scikit-image." ;;
        grass.png) echo "CC0-1.0|Grass-01 by linolafett, DeviantArt (https://www.deviantart.com/linolafett/art/Grass-01-434853879), CC0; cropped to 512x512, greyscale." ;;
        gravel.png) echo "CC0-1.0|Gravel04 from CC0Textures (https://cc0textures.com/view.php?tex=Gravel04), CC0; rescaled, cropped to 512x512, greyscale." ;;
        rocket.jpg) echo "Public domain|DSCOVR launch on Falcon 9 by SpaceX (https://www.flickr.com/photos/spacexphotos/16511594820/), released into the public domain by SpaceX." ;;
        *) echo "BSD-3-Clause|" ;;
    esac
}

# ---------------------------------------------------------------- build
STAGE="$WORK/stage"
mkdir -p "$STAGE/train" "$STAGE/val"
MANIFEST="$STAGE/manifest.tsv"
ATTR="$STAGE/ATTRIBUTION.md"
printf 'split\tfile\tpackage\tversion\tsha256\tbytes\twidth\theight\toriginal_path\n' >"$MANIFEST"

dims() {  # prints "W<TAB>H" or "?<TAB>?"
    local d=""
    if [[ $HAVE_FILE -eq 1 ]]; then
        d=$(file -b "$1" | sed -nE 's/^PNG image data, ([0-9]+) x ([0-9]+),.*/\1\t\2/p; s/^JPEG image data.*precision [0-9]+, ([0-9]+)x([0-9]+),.*/\1\t\2/p' | head -n1)
    fi
    printf '%s\n' "${d:-?$'\t'?}"
}

{
    echo "# pdpaint training photos — attribution"
    echo
    echo "Built by \`scripts/fetch-photos.sh\` from Debian packages (downloaded with"
    echo "\`apt-get download\`, extracted with \`dpkg-deb -x\`, never installed)."
    echo "Every file keeps the licence of the package it came from; the copyright"
    echo "paragraph quoted for each file is the one from that package's"
    echo "\`/usr/share/doc/<package>/copyright\` that covers it (the full licence texts"
    echo "are in those files and in \`/usr/share/common-licenses/\`)."
    echo
    echo "Files are named \`<package>--<original name>\` (plasma wallpapers:"
    echo "\`<package>--<Wallpaper>-<size>.jpg\`). Only the photos listed in the project's"
    echo "data.md are used; nothing from any other package."
    echo
    echo "## Packages"
    echo
    echo "| package | version | .deb |"
    echo "|---|---|---|"
    for pkg in $(printf '%s\n' "${!DEB[@]}" | sort); do
        echo "| \`$pkg\` | \`${VERSION[$pkg]}\` | \`${DEB[$pkg]##*/}\` |"
    done
    echo
    echo "## Validation holdout ($HOLDOUT of $M photos, in \`val/\`)"
    echo
    echo "Rule: sort all file names (C locale); for i = 0..N-1 take index"
    echo "floor((2i+1)·M / 2N) (fixed stride through the sorted list)."
    echo
    if [[ $HOLDOUT -eq 0 ]]; then echo "(none)"; fi
    for name in "${HOLDOUT_LIST[@]}"; do echo "- \`$name\`"; done
    echo
    echo "## Missing files"
    echo
    if [[ -s $MISSING ]]; then
        echo "Listed in data.md but not shipped by the package version used; skipped, nothing substituted:"
        echo
        while IFS=$'\t' read -r p path why; do echo "- \`$p\`: \`$path\` — $why"; done <"$MISSING"
    else
        echo "None: every listed file was found."
    fi
    echo
    echo "## Files"
} >"$ATTR"

declare -A COUNT=()
while IFS=$'\t' read -r pkg rel name; do
    if [[ -n ${IS_VAL[$name]:-} ]]; then split="val"; else split="train"; fi
    cp -- "${ROOT[$pkg]}/$rel" "$STAGE/$split/$name" || die "$pkg: cannot copy /$rel"
    chmod 0644 "$STAGE/$split/$name"
    sum=$(sha256sum "$STAGE/$split/$name" | cut -d' ' -f1)
    bytes=$(wc -c <"$STAGE/$split/$name" | tr -d ' ')
    wh=$(dims "$STAGE/$split/$name")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t/%s\n' "$split" "$split/$name" "$pkg" "${VERSION[$pkg]}" \
        "$sum" "$bytes" "$wh" "$rel" >>"$MANIFEST"
    COUNT[$pkg]=$(( ${COUNT[$pkg]:-0} + 1 ))

    cfile="${ROOT[$pkg]}/usr/share/doc/$pkg/copyright"
    stanza=""
    [[ -f $cfile ]] && stanza=$(dep5_stanza "$cfile" "$rel")
    licence=$(printf '%s\n' "$stanza" | licence_of_stanza)
    note=""
    case "$pkg" in
        mate-backgrounds|plasma-workspace-wallpapers) : ;;                      # data.md: GPL-2+
        lomiri-wallpapers-16.04) : ;;                                           # per-file DEP-5 stanza
        python3-skimage*) IFS='|' read -r licence note <<<"$(skimage_note "${rel##*/}")"
                          note="$note (Debian package licence: BSD-3-Clause)" ;;
        python3-sklearn*) licence="CC-BY-2.0"
                          readme="${ROOT[$pkg]}/${rel%/*}/README.txt"
                          [[ -f $readme ]] && note=$(awk -v want="Image: ${rel##*/}" 'BEGIN{RS=""} $0 ~ "^" want {print; getline; print ""; print; exit}' "$readme") ;;
    esac
    {
        echo
        echo "### \`$split/$name\`"
        echo
        echo "- package: \`$pkg\` \`${VERSION[$pkg]}\`"
        echo "- original path: \`/$rel\`"
        echo "- licence: **${licence:-see package copyright}**"
        echo "- sha256: \`$sum\`"
        if [[ -n $note ]]; then
            echo "- source:"
            echo
            printf '%s\n' "$note" | sed 's/^\(.\)/    \1/'
        fi
        if [[ -n $stanza ]]; then
            echo
            echo "  From \`/usr/share/doc/$pkg/copyright\`:"
            echo
            printf '%s\n' "$stanza" | sed 's/^\(.\)/    \1/'
        fi
    } >>"$ATTR"
done <"$SELECTED"

# ---------------------------------------------------------------- install
rm -rf -- "$OUT/train" "$OUT/val"
mv "$STAGE/train" "$STAGE/val" "$OUT/"
mv -f "$MANIFEST" "$ATTR" "$OUT/"
echo "pdpaint photo folder built by scripts/fetch-photos.sh" >"$MARKER"

NTRAIN=$(find "$OUT/train" -type f | wc -l)
NVAL=$(find "$OUT/val" -type f | wc -l)
SIZE=$(du -sh "$OUT" | cut -f1)
END=$(date +%s)
echo "Photos per package:"
for pkg in $(printf '%s\n' "${!COUNT[@]}" | sort); do
    printf '  %-30s %3d  (%s)\n' "$pkg" "${COUNT[$pkg]}" "${VERSION[$pkg]}"
done
echo "Total: $M photos — train: $NTRAIN, val: $NVAL"
echo "Holdout (val/):"
for name in "${HOLDOUT_LIST[@]}"; do echo "  $name"; done
if [[ -s $MISSING ]]; then
    echo "Missing listed files (skipped, see ATTRIBUTION.md): $(wc -l <"$MISSING")"
fi
echo "Output:      $OUT  ($SIZE)"
echo "  train/     $OUT/train"
echo "  val/       $OUT/val"
echo "  licences   $OUT/ATTRIBUTION.md"
echo "  manifest   $OUT/manifest.tsv"
echo "Deb cache:   $CACHE"
echo "Time:        $((END - START)) s"
