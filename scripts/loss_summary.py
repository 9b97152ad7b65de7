#!/usr/bin/env python3
"""First and last N-step means of every loss term in a pdpaint training log (log.jsonl).

Usage: scripts/loss_summary.py OUT/log.jsonl [N]   (prints a Markdown table per stage)
"""
import json
import sys


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    rows: dict[str, list[dict]] = {}
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            try:
                v = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "event" in v or "stage" not in v:
                continue
            rows.setdefault(v["stage"], []).append(v)
    skip = {"stage", "step", "lr_factor", "seconds"}
    for stage, rs in rows.items():
        rs.sort(key=lambda r: r["step"])
        k = min(n, len(rs) // 2) or 1
        first, last = rs[:k], rs[-k:]
        terms = [t for t in rs[0] if t not in skip]
        secs = rs[-1]["seconds"] - rs[0]["seconds"]
        print(f"\n### {stage}: {len(rs)} steps, {secs:.0f} s; means of the first and last {k} steps\n")
        print("| term | first | last | change |")
        print("|---|---|---|---|")
        for t in terms:
            a = sum(r[t] for r in first) / len(first)
            b = sum(r[t] for r in last) / len(last)
            ch = f"{100 * (b - a) / abs(a):+.0f} %" if a else "n/a"
            print(f"| {t} | {a:.4g} | {b:.4g} | {ch} |")


if __name__ == "__main__":
    main()
