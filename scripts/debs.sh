# debs.sh — download and unpack Debian packages without installing them; sourced by
# fetch-photos.sh and fetch-test-photos.sh (not run on its own).
#
# After `source debs.sh` the caller has: die / warn / info (messages prefixed with the
# script's name), `need_tools TOOL...`, `prepare_dirs` (creates CACHE and OUT and makes them
# absolute), `start_work NAME` (a scratch directory WORK, deleted at exit, and the state
# fetch_pkg keeps) and `fetch_pkg PKG`: downloads PKG into CACHE if no cached .deb of it
# exists (running `apt-get update` once if the package lists look missing), extracts it
# with `dpkg-deb -x` under WORK and sets DEB[PKG], VERSION[PKG], ROOT[PKG].

PROG=${0##*/}
die()  { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
info() { printf '%s: %s\n' "$PROG" "$*" >&2; }

need_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "required tool not found: $tool (this script needs a Debian-based system)"
    done
}

prepare_dirs() {
    [[ -n $OUT && -n $CACHE ]] || die "--out and --cache must not be empty"
    mkdir -p "$CACHE" || die "cannot create cache directory $CACHE"
    CACHE=$(cd "$CACHE" && pwd)
    mkdir -p "$OUT" || die "cannot create output directory $OUT"
    OUT=$(cd "$OUT" && pwd)
}

start_work() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    trap 'rm -rf -- "$WORK"' EXIT
    UPDATED=0
    declare -gA DEB=() VERSION=() ROOT=()
}

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
