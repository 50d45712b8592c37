"""Precision, recall and F1 per entity of the Chinese PII recognizers on the
labelled evaluation set (tests/data/pii_eval.jsonl, see make_pii_eval.py).

    .venv/bin/python bench/pii_eval.py                 # the table
    .venv/bin/python bench/pii_eval.py --errors 20     # and the first errors
    .venv/bin/python bench/pii_eval.py --check         # exit 1 if a target is missed
    .venv/bin/python bench/pii_eval.py --kind heldout  # one kind of record only

A finding counts as a true positive only with the same entity, start and end as
a label (exact span match); the "overlap" recall also accepts a finding of the
right entity that overlaps the label. Targets (issue 4): precision >= 0.99 and
recall >= 0.98 on CN_RESIDENT_ID, CN_MOBILE, CN_USCC and BANK_CARD; recall >=
0.90 on PERSON.

Kinds of records: "hotline" (12345 templates, those of gateway.demo.texts and
more), "heldout" (templates written after the recognizers were tuned, never
tuned against: the most honest figure), "structured" (single values) and
"negative" (look-alikes with no entity).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from anonymizers.pii import ENTITIES, scan_text

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "pii_eval.jsonl"
TARGETS: dict[str, tuple[float | None, float]] = {
    "CN_RESIDENT_ID": (0.99, 0.98),
    "CN_MOBILE": (0.99, 0.98),
    "CN_USCC": (0.99, 0.98),
    "BANK_CARD": (0.99, 0.98),
    "PERSON": (None, 0.90),
}

Span = tuple[str, int, int]


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    overlap_hits: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def overlap_recall(self) -> float:
        support = self.tp + self.fn
        return self.overlap_hits / support if support else 1.0


def load(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def gold_spans(record: dict[str, object]) -> set[Span]:
    labels: Iterable[dict[str, object]] = record["entities"]  # type: ignore[assignment]
    return {(str(s["entity"]), int(s["start"]), int(s["end"])) for s in labels}  # type: ignore[call-overload]


def evaluate(records: list[dict[str, object]]) -> tuple[dict[str, Tally], list[str]]:
    tallies = {entity: Tally() for entity in ENTITIES}
    errors: list[str] = []
    for record in records:
        text = str(record["text"])
        gold = gold_spans(record)
        found = {(f.entity, f.start, f.end) for f in scan_text(text)}
        for span in found & gold:
            tallies[span[0]].tp += 1
        for span in found - gold:
            tallies[span[0]].fp += 1
            errors.append(
                f"FP {span[0]:<16} {text[span[1] : span[2]]!r:<28} in {record['id']}: {text}"
            )
        for span in gold - found:
            tallies[span[0]].fn += 1
            errors.append(
                f"FN {span[0]:<16} {text[span[1] : span[2]]!r:<28} in {record['id']}: {text}"
            )
        for entity, start, end in gold:
            if any(e == entity and s < end and start < t for e, s, t in found):
                tallies[entity].overlap_hits += 1
    return tallies, errors


def by_kind(records: list[dict[str, object]]) -> str:
    """Micro-averaged scores per kind of record, and PERSON recall."""
    lines = [
        f"{'kind':<12}{'records':>8}{'labels':>8}{'precision':>11}{'recall':>8}{'F1':>7}"
        f"{'PERSON-R':>10}"
    ]
    for kind in sorted({str(r["kind"]) for r in records}):
        subset = [r for r in records if r["kind"] == kind]
        tallies, _ = evaluate(subset)
        total = Tally(
            tp=sum(t.tp for t in tallies.values()),
            fp=sum(t.fp for t in tallies.values()),
            fn=sum(t.fn for t in tallies.values()),
        )
        person = tallies["PERSON"]
        person_recall = f"{person.recall:.4f}" if person.tp + person.fn else "-"
        lines.append(
            f"{kind:<12}{len(subset):>8}{total.tp + total.fn:>8}{total.precision:>11.4f}"
            f"{total.recall:>8.4f}{total.f1:>7.4f}{person_recall:>10}"
        )
    return "\n".join(lines)


def report(tallies: dict[str, Tally], records: list[dict[str, object]]) -> tuple[str, bool]:
    kinds = Counter(str(r["kind"]) for r in records)
    lines = [
        f"evaluation set: {len(records)} records ("
        + ", ".join(f"{kinds[k]} {k}" for k in sorted(kinds))
        + f"), {sum(t.tp + t.fn for t in tallies.values())} labelled entities",
        "",
        f"{'entity':<18}{'support':>8}{'found':>7}{'TP':>6}{'FP':>5}{'FN':>5}"
        f"{'precision':>11}{'recall':>8}{'F1':>7}{'overlap-R':>11}  target",
    ]
    ok = True
    total = Tally()
    for entity, t in tallies.items():
        total.tp += t.tp
        total.fp += t.fp
        total.fn += t.fn
        total.overlap_hits += t.overlap_hits
        target = ""
        if entity in TARGETS:
            p_min, r_min = TARGETS[entity]
            met = (p_min is None or t.precision >= p_min) and t.recall >= r_min
            ok = ok and met
            want = (f"P>={p_min} " if p_min is not None else "") + f"R>={r_min}"
            target = f"{want} {'ok' if met else 'MISSED'}"
        lines.append(
            f"{entity:<18}{t.tp + t.fn:>8}{t.tp + t.fp:>7}{t.tp:>6}{t.fp:>5}{t.fn:>5}"
            f"{t.precision:>11.4f}{t.recall:>8.4f}{t.f1:>7.4f}{t.overlap_recall:>11.4f}  {target}"
        )
    lines.append(
        f"{'all (micro)':<18}{total.tp + total.fn:>8}{total.tp + total.fp:>7}{total.tp:>6}"
        f"{total.fp:>5}{total.fn:>5}{total.precision:>11.4f}{total.recall:>8.4f}{total.f1:>7.4f}"
        f"{total.overlap_recall:>11.4f}"
    )
    lines.append("")
    lines.append("targets: " + ("all met" if ok else "MISSED"))
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate the Chinese PII recognizers.")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--errors", type=int, default=0, help="print the first N errors")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--kind", action="append", help="only records of this kind (repeatable)")
    args = parser.parse_args(argv)
    records = load(args.data)
    if args.kind:
        records = [r for r in records if r["kind"] in args.kind]
    tallies, errors = evaluate(records)
    table, ok = report(tallies, records)
    print(table)
    print()
    print(by_kind(records))
    if args.errors:
        print()
        print("\n".join(errors[: args.errors]))
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
