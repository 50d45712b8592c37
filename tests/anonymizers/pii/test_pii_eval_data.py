"""The committed evaluation set is what its generator makes, and the
recognizers still meet the issue's targets on it."""

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "pii_eval.jsonl"


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def test_committed_file_is_up_to_date() -> None:
    generator = load_module(ROOT / "tests" / "data" / "make_pii_eval.py")
    assert generator.dumps(generator.generate()) == DATA.read_text(encoding="utf-8")


def test_shape() -> None:
    records = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    assert len(records) >= 2000
    assert len({r["id"] for r in records}) == len(records)
    assert {r["kind"] for r in records} == {"hotline", "heldout", "structured", "negative"}
    for record in records:
        for span in record["entities"]:
            assert 0 <= span["start"] < span["end"] <= len(record["text"])
    assert all(not r["entities"] for r in records if r["kind"] == "negative")


def test_targets_are_met() -> None:
    evaluation = load_module(ROOT / "bench" / "pii_eval.py")
    records = evaluation.load(DATA)
    tallies, _ = evaluation.evaluate(records)
    _, ok = evaluation.report(tallies, records)
    assert ok
