"""Witnesses through the gateway: stored checkpoints are cosigned, and verify requires it.

A witness runs over HTTP in this process with its own key and state file (outside the
gateway home); the gateway is told its URL and public key only.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from audit import open_checkpoint
from audit.cosignatures import Cosigner, verified_cosigners
from audit.witness import Witness, serve_witness
from gateway.cli.app import cli
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway, make_settings, open_gateway

STORES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass
class Witnessed:
    gw: Gateway
    witness: Witness
    env: dict[str, str]
    engine: sa.Engine
    tmp: Path


@pytest.fixture(params=STORES)
def witnessed(
    request: pytest.FixtureRequest, tmp_path: Path, small_community: Community
) -> Iterator[Witnessed]:
    store_url = str(request.getfixturevalue("pg_url")) if request.param == "postgresql" else None
    witness_dir = tmp_path / "witness"  # the witness's own place, not the gateway's home
    witness_dir.mkdir()
    cosigner = Cosigner("witness.example.org/w1", Ed25519PrivateKey.generate())
    witness = Witness(cosigner, {}, witness_dir / "state.json")
    server = serve_witness(witness, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    witnesses = f"http://127.0.0.1:{server.server_port} {cosigner.verifier_key}"
    home = tmp_path / "home"
    settings = make_settings(home, store_url, checkpoint_every_entries=4, witnesses=witnesses)
    gw = open_gateway(settings)
    published = gw.client.get("/.well-known/cdg-audit-keys").text.split()
    witness.log_keys[settings.log_origin] = published
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, f"sqlite:///{tmp_path / 's.db'}"))
    env = {"CDG_HOME": str(home), "CDG_WITNESSES": witnesses}
    if store_url:
        env["CDG_DATABASE_URL"] = store_url
    engine = sa.create_engine(settings.store_url, poolclass=sa.NullPool)
    try:
        yield Witnessed(gw, witness, env, engine, tmp_path)
    finally:
        engine.dispose()
        gw.client.close()
        gw.ctx.close()
        server.shutdown()
        server.server_close()


def run_queries(w: Witnessed, count: int) -> list[Any]:
    source = f"sqlite:///{w.tmp / 's.db'}"
    dataset = w.gw.register_demo_dataset("residents", source)
    qid = w.gw.approved_query(
        "heping-committee",
        dataset,
        "public-service.elderly-care.home-visit",
        {"select": ["age"], "limit": 2},
    )
    return [w.gw.run("heping-committee", qid).json() for _ in range(count)]


def verify(env: dict[str, str], *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["audit", "verify", "--json", *extra], env=env)
    assert result.exit_code in (0, 1), result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def stored_notes(engine: sa.Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT size, note FROM audit_checkpoints ORDER BY size"))
        return [(int(size), str(note)) for size, note in rows]


def test_stored_checkpoints_carry_the_witness_cosignature_and_verify(witnessed: Witnessed) -> None:
    run_queries(witnessed, 10)
    notes = stored_notes(witnessed.engine)
    vkey = witnessed.witness.cosigner.verifier_key
    newest_size, newest = notes[-1]
    assert newest_size >= 8 and verified_cosigners(newest, [vkey])
    latest = witnessed.witness.latest(witnessed.gw.ctx.settings.log_origin)
    assert latest is not None and latest[0] == newest_size
    assert not (witnessed.tmp / "home" / "state.json").exists()
    report = verify(witnessed.env)
    assert report["intact"] and report["witnessed_size"] == newest_size

    # An auditor's export carries the cosigned checkpoint and verifies with public keys only.
    export = witnessed.gw.get("district-auditor", "/v1/audit/export").text
    head = json.loads(export.splitlines()[0])
    assert verified_cosigners(head["note"], [vkey])
    keys = witnessed.tmp / "keys.txt"
    published = witnessed.gw.client.get("/.well-known/cdg-audit-keys").text
    keys.write_text(published + vkey + "\n")
    (witnessed.tmp / "export.jsonl").write_text(export)
    empty = witnessed.tmp / "nohome"
    empty.mkdir()
    offline = ["--export", str(witnessed.tmp / "export.jsonl"), "--keys", str(keys)]
    assert verify({"CDG_HOME": str(empty)}, *offline)["intact"]
    other = Cosigner("witness.example.org/w2", Ed25519PrivateKey.generate()).verifier_key
    keys.write_text(published + vkey + "\n" + other + "\n")  # two witnesses now expected
    missing = verify({"CDG_HOME": str(empty)}, *offline)
    assert missing["problem"] == "missing_cosignatures"
    assert verify({"CDG_HOME": str(empty)}, *offline, "--witnesses-required", "1")["intact"]


def test_verify_fails_when_a_required_cosignature_is_missing(witnessed: Witnessed) -> None:
    run_queries(witnessed, 6)
    absent = Cosigner("witness.example.org/absent", Ed25519PrivateKey.generate())
    env = {**witnessed.env}
    env["CDG_WITNESSES"] += f", http://127.0.0.1:9 {absent.verifier_key}"
    report = verify(env)
    assert not report["intact"] and report["problem"] == "missing_cosignatures"
    assert report["first_bad_index"] == stored_notes(witnessed.engine)[-1][0]
    assert verify({**env, "CDG_WITNESSES_REQUIRED": "1"})["intact"]


def test_verify_fails_when_a_cosignature_is_forged(witnessed: Witnessed) -> None:
    run_queries(witnessed, 6)
    size, note = stored_notes(witnessed.engine)[-1]
    lines = note.rstrip("\n").split("\n")
    name, blob = lines[-1].removeprefix("— ").split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1  # one bit of the witness's signature
    lines[-1] = f"— {name} {base64.b64encode(bytes(raw)).decode()}"
    forged = "\n".join(lines) + "\n"
    assert open_checkpoint(forged, witnessed.witness.log_keys[witnessed.gw.ctx.settings.log_origin])
    with witnessed.engine.begin() as conn:
        if witnessed.engine.dialect.name == "postgresql":
            conn.execute(sa.text("SET session_replication_role = replica"))
        else:
            for trigger in conn.execute(
                sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            ).scalars():
                conn.execute(sa.text(f"DROP TRIGGER {trigger}"))
        conn.execute(
            sa.text("UPDATE audit_checkpoints SET note = :n WHERE size = :s"),
            {"n": forged, "s": size},
        )
    report = verify(witnessed.env)
    assert not report["intact"] and report["problem"] == "forged_cosignature"
    assert report["first_bad_index"] == size


def test_a_witness_that_is_down_leaves_the_checkpoint_unwitnessed(witnessed: Witnessed) -> None:
    """The log keeps working; verify says the newest checkpoint lacks its cosignature."""
    witnessed.witness.log_keys.clear()  # the witness now refuses this log (404)
    run_queries(witnessed, 6)
    notes = stored_notes(witnessed.engine)
    assert notes and not verified_cosigners(notes[-1][1], [witnessed.witness.cosigner.verifier_key])
    report = verify(witnessed.env)
    assert report["problem"] == "missing_cosignatures"
