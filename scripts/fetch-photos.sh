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
#   --holdout N    how many of the five fixed validation photos go to val/
#                  (default 5 = all of them, 0 = none, 1-4 = the first N of the fixed list)
#
# What it does:
#   * `apt-get download PKG` into the cache (only when no cached .deb of PKG
#     exists; `apt-get update` is run once, only if a download fails because the
#     package lists are missing), `dpkg-deb -x` into a temporary directory.
#     Nothing is ever installed.
#   * Copies EXACTLY the photos listed in the "selection" section below, and no
#     others. Every one was inspected visually and is a real photograph (no
#     renders, drawings, abstract art, logos, screenshots or scans of documents)
#     from a package whose copyright file gives it a free licence. The photos added
#     in the second round have a short side of at least 480 px (most 512 px or
#     more); six of the first round's scikit-image / scikit-learn samples are
#     smaller (300-427 px). Photos stored sideways were left out. In short:
#       wallpapers      mate-backgrounds (nature/*.jpg), lomiri-wallpapers-16.04
#                       (all *.jpg), lomiri-wallpapers-20.04 (1), plasma-workspace-
#                       wallpapers (12), lxqt-themes (11), sddm-theme-maldives (1)
#       sample data     python3-skimage (10), python3-sklearn (2),
#                       python-matplotlib-data (1), libjxl-testdata (4)
#       applications    kphotoalbum demo album (20), tuxpaint-data templates (17),
#                       palapeli-data puzzles (5), scribus-template (7),
#                       renpy-demo (4), kodi-data (2)
#       documentation   hugin-data (2), nip2 (1), Qt 5 examples: qtbase5-examples (2),
#                       qtdeclarative5-examples (3), qtmultimedia5-examples (1);
#                       TeX Live documentation: texlive-latex-extra-doc (11),
#                       texlive-pictures-doc (2), texlive-publishers-doc (3),
#                       texlive-science-doc (2), texlive-lang-french (1),
#                       texlive-metapost-doc (1)
#     (python3-skimage-lib / python3-sklearn-lib are tried only if a file is not in
#     the arch:all package; Qt example paths are found under usr/lib/<triplet>/qt5.)
#     A listed file that a package no longer ships is skipped with a warning and
#     recorded under "Missing files" in ATTRIBUTION.md; nothing is substituted.
#     (Debian 12 / bookworm: all listed files exist, 153 photos in total.)
#   * Output (train/ and val/ are rebuilt from scratch on every run, so re-running
#     with the same cached .debs gives the same folder):
#       OUT/train/<package>--<name>.<ext>
#       OUT/val/<package>--<name>.<ext>       the fixed validation photos
#       OUT/ATTRIBUTION.md                    package, version, original path,
#                                             copyright/licence per file, holdout list,
#                                             missing files
#       OUT/manifest.tsv                      split, file, package, version, sha256,
#                                             bytes, width, height, original path
#     Files are named after their original name; where that is ambiguous the output
#     name adds the directory (plasma wallpapers: <Wallpaper>-<size>.jpg; scribus:
#     <template>-<name>.jpg; renpy: spaces become underscores).
#   * Validation holdout: a FIXED list of five photos, so that adding photos to the
#     selection never moves a photo between val/ and train/:
#       lomiri-wallpapers-16.04--aitzgorri_by_Aitzol_Berasategi.jpg
#       mate-backgrounds--Aqua.jpg
#       mate-backgrounds--Wood.jpg
#       plasma-workspace-wallpapers--OneStandsOut-2560x1600.jpg
#       python3-skimage--gravel.png
#     (History: these are the five that the first version of this script picked
#     from its 50 photos with a stride rule — sort all names, M = count, take index
#     floor((2i+1)·M / 2N) for i = 0..4. That rule would pick different photos from
#     a longer list, so it is no longer used.) A listed validation photo that is
#     not selected is an error. The list is printed and written to ATTRIBUTION.md.
#
# Disk: about 1.6 GB of .deb files in the cache (1.1 GB of it TeX Live documentation,
# for 20 photos) and up to about 2 GB of extracted packages under ${TMPDIR:-/tmp} while
# it runs (deleted at exit); the photo folder itself is about 90 MB.
#
# Requires: apt-get, dpkg-deb, sha256sum, awk, sort, gzip (file(1) optional, for sizes).
# Exit status is non-zero on any failure (a package that cannot be downloaded or
# extracted is named in the error).
set -euo pipefail

# die, warn, info, need_tools, prepare_dirs, start_work, fetch_pkg (shared with
# fetch-test-photos.sh)
# shellcheck source=debs.sh
source "${BASH_SOURCE[0]%/*}/debs.sh"

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

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
[[ $HOLDOUT =~ ^[0-5]$ ]] || die "--holdout must be 0 to 5 (how many of the five fixed validation photos), got '$HOLDOUT'"
need_tools apt-get dpkg dpkg-deb sha256sum awk sort gzip
HAVE_FILE=0
command -v file >/dev/null 2>&1 && HAVE_FILE=1

export LC_ALL=C
START=$(date +%s)

prepare_dirs
MARKER="$OUT/.pdpaint-photos"
if [[ ! -e $MARKER ]] && { [[ -e $OUT/train ]] || [[ -e $OUT/val ]]; }; then
    die "$OUT already has train/ or val/ not made by this script (no $MARKER); refusing to overwrite — pick another --out"
fi

start_work pdpaint-photos

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

# --- added in the second round (issue 17): more photographs, more man-made scenes.
# Only files inspected visually and judged real photographs, short side >= 480 px.

add_one usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg Kleiber_by_Lukas_Baubkus.jpg \
    lomiri-wallpapers-20.04
add_one usr/share/sddm/themes/maldives/background.jpg background.jpg sddm-theme-maldives

for name in flowers.png fog.jpg after-the-rain.jpg Butterfly-Kenneth-Wimer.jpg beam.png \
            Valendas.png appleflower.png cloud.png drop.png this-is-not-windows.jpg butterfly.png; do
    add_one "usr/share/lxqt/wallpapers/$name" "$name" lxqt-themes
done

# KPhotoAlbum's demo album (the three photos stored sideways or upside down and the one
# 400 px wide are left out).
for name in bar55 bar55_2 blackie cold_water donna donna_2 grand_canyon_2 grand_canyon_3 \
            jesper jesper_2 new_wave_2 pool pool_2 qt-logo skagen skagen_2 snow spiff \
            spiff_2 sunset; do
    add_one "usr/share/kphotoalbum/demo/$name.jpg" "$name.jpg" kphotoalbum
done

for name in burnt_bark cliff corn_maze jellyfish lighthouse mossy_bark mossy_log mudstone \
            ocean_splash ocean_waves redwoods_above rocks sheep spiders_web sun_behind_clouds \
            sun_behind_leaves wool_mill_machine; do
    add_one "usr/share/tuxpaint/templates/$name.jpg" "$name.jpg" tuxpaint-data
done

for name in castle-maintenon cincinnati-bridge citrus-fruits european-honey-bee \
            panther-chameleon-female; do
    add_one "usr/share/palapeli/collection/$name.jpg" "$name.jpg" palapeli-data
done

for rel in cal2/moon.jpg menu2/pizza.jpg br2/brightness.jpg br2/halfmoon.jpg br2/moon.jpg \
           br2/nature.jpg br2/sunset.jpg; do
    add_one "usr/share/scribus/templates/$rel" "${rel%%/*}-${rel##*/}" scribus-template
done

RP=usr/share/games/renpy/demo/game
for name in "bg washington.jpg" "bg whitehouse.jpg" "bg cave.jpg"; do
    add_one "$RP/images/$name" "${name// /_}" renpy-demo
done
add_one "$RP/gui/main_menu.jpg" gui-main_menu.jpg renpy-demo

for name in movie.jpg music.jpg; do
    add_one "usr/share/kodi/addons/skin.estuary/extras/home-images/$name" "estuary-$name" kodi-data
done

add_one usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg grace_hopper.jpg \
    python-matplotlib-data
add_one "$SK/brick.png" brick.png python3-skimage python3-skimage-lib

JX=usr/share/libjxl-testdata
add_one "$JX/jxl/flower/flower.png" flower.png libjxl-testdata
for name in tmshre_riaphotographs_srgb8 cvo9xd_keong_macan_srgb8 u76c0g_bliznaca_srgb8; do
    add_one "$JX/external/wesaturate/500px/$name.png" "$name.png" libjxl-testdata
done

for name in CA_tCA00.jpg CA_fringes00.jpg; do
    add_one "usr/share/hugin/xrc/data/help_en_EN/$name" "$name" hugin-data
done
add_one usr/share/doc/nip2/examples/businesscard/slanted_oval_vase2.jpg slanted_oval_vase2.jpg nip2

# Qt 5 examples live under usr/lib/<multiarch triplet>/qt5/examples.
qt5_examples() {  # prints the examples directory of fetched package $1, relative to its root
    local pkg=$1 d
    for d in "${ROOT[$pkg]}"/usr/lib/*/qt5/examples; do
        [[ -d $d ]] && { printf '%s\n' "${d#"${ROOT[$pkg]}"/}"; return 0; }
    done
    printf 'usr/lib/MULTIARCH/qt5/examples\n'   # not found: add_one reports it missing
}
fetch_pkg qtbase5-examples; QX=$(qt5_examples qtbase5-examples)
add_one "$QX/widgets/painting/composition/flower.jpg" composition-flower.jpg qtbase5-examples
add_one "$QX/widgets/effects/fademessage/background.jpg" fademessage-background.jpg qtbase5-examples
fetch_pkg qtdeclarative5-examples; QX=$(qt5_examples qtdeclarative5-examples)
add_one "$QX/quick/particles/images/backgroundLeaves.jpg" backgroundLeaves.jpg qtdeclarative5-examples
add_one "$QX/quick/customitems/scrollbar/pics/niagara_falls.jpg" niagara_falls.jpg qtdeclarative5-examples
add_one "$QX/quick/touchinteraction/flickable/content/cork.jpg" cork.jpg qtdeclarative5-examples
fetch_pkg qtmultimedia5-examples; QX=$(qt5_examples qtmultimedia5-examples)
add_one "$QX/multimedia/video/qmlvideo/images/leaves.jpg" leaves.jpg qtmultimedia5-examples

# TeX Live documentation (the licence of each file is that of its TeX package, read from
# the Debian package's Licenses file).
TD=usr/share/doc/texlive-doc
for name in Pumpkin_pie_soup Curried_chicken_and_rice Hawaiian_burgers Italian_calzones \
            Curried_butternut_squash_soup French_dip Grilled_chicken_with_capers; do
    add_one "$TD/latex/recipebook/images/$name.jpg" "$name.jpg" texlive-latex-extra-doc
done
add_one "$TD/latex/beamerdarkthemes/img_5630.jpg" img_5630.jpg texlive-latex-extra-doc
add_one "$TD/latex/beamertheme-trigon/library.jpg" library.jpg texlive-latex-extra-doc
add_one "$TD/latex/ppt-slides/socrates.jpg" socrates.jpg texlive-latex-extra-doc
add_one "$TD/lualatex/wallcalendar/doc/examples/photos/frog.jpg" frog.jpg texlive-latex-extra-doc
add_one "$TD/latex/hvfloat/sonne-meer.jpg" sonne-meer.jpg texlive-pictures-doc
add_one "$TD/latex/xput/koepi.jpg" koepi.jpg texlive-pictures-doc
add_one "$TD/latex/kdgdocs/pi-orchid.jpg" pi-orchid.jpg texlive-publishers-doc
add_one "$TD/latex/mlacls/mla-example-image.jpg" mla-example-image.jpg texlive-publishers-doc
add_one "$TD/latex/nwafuthesis/logo/building.jpg" building.jpg texlive-publishers-doc
add_one "$TD/latex/fascicules/guide/ch4_mon_chapitre/img/chapitre.jpg" chapitre.jpg texlive-science-doc
add_one "$TD/latex/fascicules/guide/content/img/vieuxlivres.jpg" vieuxlivres.jpg texlive-science-doc
add_one "$TD/latex/matapli/examples/modeleauteur/portrait.png" portrait.png texlive-lang-french
add_one "$TD/metapost/featpost/doc/metapostpropagandafiles/pifpafphoto.jpg" pifpafphoto.jpg texlive-metapost-doc

sort -t $'\t' -k3,3 -o "$SELECTED" "$SELECTED"
M=$(wc -l <"$SELECTED")
[[ $M -gt 0 ]] || die "no photos selected"
dups=$(cut -f3 "$SELECTED" | sort | uniq -d)
[[ -z $dups ]] || die "internal error: duplicate output names: $dups"

# ---------------------------------------------------------------- holdout
# Fixed: the validation photos never change when photos are added (see the header).
VAL_PHOTOS=(
    lomiri-wallpapers-16.04--aitzgorri_by_Aitzol_Berasategi.jpg
    mate-backgrounds--Aqua.jpg
    mate-backgrounds--Wood.jpg
    plasma-workspace-wallpapers--OneStandsOut-2560x1600.jpg
    python3-skimage--gravel.png
)
declare -A IS_VAL=()
HOLDOUT_LIST=()
for ((i = 0; i < HOLDOUT; i++)); do
    name=${VAL_PHOTOS[$i]}
    cut -f3 "$SELECTED" | grep -qxF -- "$name" \
        || die "validation photo $name is not among the selected photos (its package changed?); refusing to build a different validation set"
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
        brick.png) echo "CC0-1.0|Bricks25 from CC0Textures (https://cc0textures.com/view.php?tex=Bricks25), CC0; perspective-corrected, rotated, cropped and scaled to 512x512, greyscale." ;;
        *) echo "BSD-3-Clause|" ;;
    esac
}

# Licence and source of a file from a TeX Live documentation package: the TeX package is
# the directory after usr/share/doc/texlive-doc/<format>/, and its licence is listed in the
# Debian package's Licenses file (generated from the TeX Catalogue). Prints "licence|note".
texlive_note() {
    local pkg=$1 rel=$2 tex lic=""
    tex=$(printf '%s\n' "$rel" | awk -F/ '{ for (i = 1; i < NF; i++) if ($i == "texlive-doc") { print $(i + 2); exit } }')
    if [[ -n $tex && -f ${ROOT[$pkg]}/usr/share/doc/$pkg/Licenses.gz ]]; then
        lic=$(gzip -dc "${ROOT[$pkg]}/usr/share/doc/$pkg/Licenses.gz" | awk -v t="$tex:" '$1 == t { $1 = ""; sub(/^ /, ""); print; exit }')
    fi
    echo "${lic:-see package copyright} (TeX Live package $tex)|Documentation example of the TeX Live package \`$tex\` (CTAN); licence of that package as listed in /usr/share/doc/$pkg/Licenses (TeX Catalogue data). Debian's copyright file for $pkg describes the TeX Live collection as a whole."
}

# Author, licence and source of a Palapeli puzzle photo, from the .desktop file beside it.
palapeli_note() {
    local desk="${ROOT[$1]}/${2%.jpg}.desktop" author="" lic="" web=""
    if [[ -f $desk ]]; then
        author=$(sed -n 's/^X-KDE-PluginInfo-Author=//p' "$desk" | head -n1)
        lic=$(sed -n 's/^X-KDE-PluginInfo-License=//p' "$desk" | head -n1)
        web=$(sed -n 's/^X-KDE-PluginInfo-Website=//p' "$desk" | head -n1)
    fi
    echo "${lic:-see package copyright} (photo), GPL-2+ (package)|Photo by ${author:-unknown}${web:+, $web}; licence ${lic:-not stated} per the puzzle's .desktop file. The package's copyright file covers everything as GPL-2+."
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
    echo "\`<package>--<Wallpaper>-<size>.jpg\`; a few others add their directory)."
    echo "Only the photos listed in \`scripts/fetch-photos.sh\` are used, each one looked at"
    echo "and judged a real photograph; nothing else from any package."
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
    echo "A fixed list of five photos (the first --holdout of them), independent of"
    echo "which other photos are selected, so the validation set never changes."
    echo
    if [[ $HOLDOUT -eq 0 ]]; then echo "(none)"; fi
    for name in "${HOLDOUT_LIST[@]}"; do echo "- \`$name\`"; done
    echo
    echo "## Missing files"
    echo
    if [[ -s $MISSING ]]; then
        echo "Listed in the script but not shipped by the package version used; skipped, nothing substituted:"
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
        mate-backgrounds|plasma-workspace-wallpapers) : ;;                      # DEP-5: GPL-2+
        lomiri-wallpapers-16.04|lomiri-wallpapers-20.04|sddm-theme-maldives) : ;;  # per-file DEP-5 stanza
        lxqt-themes|hugin-data|qt*5-examples|libjxl-testdata|tuxpaint-data|renpy-demo|kodi-data) : ;;  # DEP-5
        kphotoalbum) licence="GPL-2+"
                     note="KPhotoAlbum demo album (upstream demo photos); the package's copyright file (not machine-readable) puts KPhotoAlbum, © 2003-2014 Jesper K. Pedersen and others, under GPL-2+." ;;
        nip2)        licence="GPL-2+"
                     note="nip2 example image; the package's copyright file (not machine-readable) puts nip2, © 1990-2011 Imperial College, London and others, under GPL-2+." ;;
        scribus-template) licence="Public domain"
                     note="Scribus template by Riku Leino (br2, cal2, menu2), placed into the public domain by its author according to the package's copyright file." ;;
        palapeli-data) IFS='|' read -r licence note <<<"$(palapeli_note "$pkg" "$rel")" ;;
        python-matplotlib-data) licence="Matplotlib licence (PSF-based)"
                     note="Matplotlib sample data; photograph of Grace Hopper (U.S. Navy photograph, public domain). The package's DEP-5 stanza for all files is quoted below." ;;
        texlive-*)   IFS='|' read -r licence note <<<"$(texlive_note "$pkg" "$rel")" ;;
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
