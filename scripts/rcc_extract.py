#!/usr/bin/env python3
"""Copy named files out of a Qt binary resource file (.rcc), byte for byte.

Usage: rcc_extract.py FILE.rcc OUTDIR RESOURCE_PATH...

Each RESOURCE_PATH is a path inside the resource tree, written as Qt writes it without the
leading ":/" (for example `gcompris/src/activities/erase/resource/crab.webp`); it is written
to OUTDIR/<its base name>. Used by scripts/fetch-test-photos.sh for the photographs that
GCompris ships inside .rcc archives.

The format (Qt's `rcc` compiler, versions 1 to 3): a 20- or 24-byte header (`qres`, then
big-endian u32 version, tree offset, data offset, names offset and, from version 3, a flags
word); the tree is an array of fixed-size nodes (14 bytes in version 1, 22 from version 2:
u32 name offset, u16 flags, then for a directory u32 child count and u32 index of its first
child, for a file u16 territory, u16 language and u32 data offset; version 2 adds a u64
modification time); a name is a u16 length, a u32 hash and that many UTF-16BE code units;
a file's data is a u32 length and the bytes. Flag 2 marks a directory, flag 1 a file stored
as Qt's qCompress (a u32 uncompressed length, then a zlib stream), flag 4 a zstd-compressed
file, which this script refuses (none of the files it is used for are).

The file is untrusted input: every offset is bounds-checked, the walk is limited in depth
and node count, and a decompressed entry may not exceed MAX_OUT bytes. Any problem is an
error naming the file; nothing is written for a path that was not found.
"""
import os
import struct
import sys
import zlib

MAX_RCC = 1 << 30        # refuse resource files over 1 GiB
MAX_OUT = 256 << 20      # refuse a single extracted file over 256 MiB
MAX_DEPTH = 64           # directory nesting
MAX_NODES = 1_000_000    # nodes visited in one lookup


class RccError(Exception):
    """A malformed or unsupported resource file."""


class Rcc:
    """A parsed .rcc file held in memory."""

    def __init__(self, data):
        if len(data) < 20 or data[:4] != b"qres":
            raise RccError("not a Qt resource file (no 'qres' magic)")
        self.b = data
        self.version, self.tree, self.data, self.names = struct.unpack(">IIII", data[4:20])
        if self.version not in (1, 2, 3):
            raise RccError(f"unsupported resource format version {self.version}")
        self.node = 14 if self.version == 1 else 22
        for what, off in (("tree", self.tree), ("data", self.data), ("names", self.names)):
            if off >= len(data):
                raise RccError(f"{what} offset {off} is past the end ({len(data)} bytes)")

    def _read(self, off, n):
        if off < 0 or n < 0 or off + n > len(self.b):
            raise RccError(f"read of {n} bytes at {off} is past the end ({len(self.b)} bytes)")
        return self.b[off:off + n]

    def _name(self, off):
        (n,) = struct.unpack(">H", self._read(self.names + off, 2))
        raw = self._read(self.names + off + 6, 2 * n)
        try:
            return raw.decode("utf-16-be")
        except UnicodeDecodeError as e:
            raise RccError(f"bad name at {off}: {e}") from None

    def _node(self, i):
        raw = self._read(self.tree + i * self.node, 14)
        name_off, flags = struct.unpack(">IH", raw[:6])
        return name_off, flags, raw[6:14]

    def find(self, path):
        """The tree index of the file at `path` (components separated by '/'), or None."""
        parts = [p for p in path.split("/") if p]
        if not parts or len(parts) > MAX_DEPTH:
            return None
        visited = 0
        idx = 0  # the root directory
        for depth, part in enumerate(parts):
            _, flags, rest = self._node(idx)
            if not flags & 2:
                return None
            count, first = struct.unpack(">II", rest)
            hit = None
            for k in range(count):
                visited += 1
                if visited > MAX_NODES:
                    raise RccError("directory walk exceeds the node limit")
                name_off, _, _ = self._node(first + k)
                if self._name(name_off) == part:
                    hit = first + k
                    break
            if hit is None:
                return None
            idx = hit
        _, flags, _ = self._node(idx)
        return None if flags & 2 else idx

    def content(self, idx):
        """The stored bytes of file node `idx`, decompressed if qCompress'ed."""
        _, flags, rest = self._node(idx)
        (off,) = struct.unpack(">I", rest[4:8])
        (size,) = struct.unpack(">I", self._read(self.data + off, 4))
        raw = self._read(self.data + off + 4, size)
        if flags & 4:
            raise RccError("zstd-compressed entries are not supported")
        if flags & 1:
            if len(raw) < 4:
                raise RccError("compressed entry shorter than its length prefix")
            (want,) = struct.unpack(">I", raw[:4])
            if want > MAX_OUT:
                raise RccError(f"entry would decompress to {want} bytes (limit {MAX_OUT})")
            d = zlib.decompressobj()
            out = d.decompress(raw[4:], MAX_OUT + 1)
            if len(out) != want or not d.eof:
                raise RccError("compressed entry does not inflate to its stated length")
            return out
        if len(raw) > MAX_OUT:
            raise RccError(f"entry of {len(raw)} bytes (limit {MAX_OUT})")
        return raw


def main(argv):
    if len(argv) < 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    src, out, paths = argv[1], argv[2], argv[3:]
    try:
        if os.path.getsize(src) > MAX_RCC:
            raise RccError(f"file is over {MAX_RCC} bytes")
        with open(src, "rb") as f:
            rcc = Rcc(f.read())
        os.makedirs(out, exist_ok=True)
        for p in paths:
            idx = rcc.find(p)
            if idx is None:
                raise RccError(f"no file :/{p}")
            dst = os.path.join(out, os.path.basename(p))
            tmp = dst + ".part"
            with open(tmp, "wb") as f:
                f.write(rcc.content(idx))
            os.replace(tmp, dst)
    except (OSError, RccError, struct.error) as e:
        print(f"rcc_extract.py: error: {e}: {src}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
