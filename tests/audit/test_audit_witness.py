"""Witnesses: cosignature/v1 lines, consistency before cosigning, the HTTP add-checkpoint API."""

from __future__ import annotations

import base64
import hashlib
import struct
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import (
    Checkpoint,
    CheckpointError,
    CheckpointSigner,
    MemoryNodeStore,
    MerkleTree,
    leaf_hash,
    open_checkpoint,
)
from audit.checkpoints import normalise_saved_note
from audit.cosignatures import (
    Cosigner,
    add_cosignatures,
    cosigner_key,
    is_cosigner_key,
    parse_cosigner_key,
    verified_cosigners,
)
from audit.witness import (
    Witness,
    WitnessRefusal,
    add_checkpoint_body,
    parse_add_checkpoint,
    request_cosignature,
    serve_witness,
)

ORIGIN = "example.org/test-log"
NAME = "witness.example.org/w1"


class Log:
    """A log with a real Ed25519 key and an RFC 6962 tree in memory."""

    def __init__(self, signer: CheckpointSigner, prefix: bytes = b"entry") -> None:
        self.signer = signer
        self.tree = MerkleTree(MemoryNodeStore())
        self.prefix = prefix

    def grow(self, n: int) -> str:
        start = self.tree.size()
        self.tree.append_many([leaf_hash(self.prefix + str(start + i).encode()) for i in range(n)])
        size = self.tree.size()
        return self.signer.sign(Checkpoint(ORIGIN, size, self.tree.root(size)))

    def proof(self, old: int) -> list[bytes]:
        return self.tree.consistency_proof(old, self.tree.size()) if old else []


@pytest.fixture
def log_signer() -> CheckpointSigner:
    return CheckpointSigner(ORIGIN, Ed25519PrivateKey.generate())


@pytest.fixture
def witness(tmp_path: Path, log_signer: CheckpointSigner) -> Witness:
    cosigner = Cosigner(NAME, Ed25519PrivateKey.generate())
    return Witness(cosigner, {ORIGIN: [log_signer.verifier_key]}, tmp_path / "state.json")


def test_cosignature_line_follows_the_spec(log_signer: CheckpointSigner) -> None:
    key = Ed25519PrivateKey.generate()
    cosigner = Cosigner(NAME, key)
    raw = key.public_key().public_bytes_raw()
    assert cosigner.key_id == hashlib.sha256(NAME.encode() + b"\n\x04" + raw).digest()[:4]
    cp = Checkpoint(ORIGIN, 5, bytes(32))
    line = cosigner.cosign(cp.body(), 1_700_000_000)
    name, blob = line.removeprefix("— ").removesuffix("\n").split(" ")
    data = base64.b64decode(blob)
    assert name == NAME and data[:4] == cosigner.key_id and len(data) == 4 + 8 + 64
    assert struct.unpack(">Q", data[4:12]) == (1_700_000_000,)
    message = b"cosignature/v1\ntime 1700000000\n" + cp.body()
    key.public_key().verify(data[12:], message)  # raises if the message were different
    vkey = cosigner.verifier_key
    assert is_cosigner_key(vkey) and not is_cosigner_key(log_signer.verifier_key)
    assert parse_cosigner_key(vkey)[0] == NAME
    note = add_cosignatures(log_signer.sign(cp), [line])
    assert verified_cosigners(note, [vkey]) == {NAME: 1_700_000_000}
    assert open_checkpoint(note, [log_signer.verifier_key]) == cp  # the log key still opens it


def test_a_forged_or_misused_cosignature_is_caught(log_signer: CheckpointSigner) -> None:
    cosigner = Cosigner(NAME, Ed25519PrivateKey.generate())
    cp = Checkpoint(ORIGIN, 5, bytes(32))
    line = cosigner.cosign(cp.body(), 1_700_000_000)
    other = Checkpoint(ORIGIN, 6, bytes(32))
    moved = add_cosignatures(log_signer.sign(other), [line])  # a line copied to another note
    with pytest.raises(CheckpointError, match="does not verify"):
        verified_cosigners(moved, [cosigner.verifier_key])
    impostor = Cosigner(NAME, Ed25519PrivateKey.generate())  # same name, other key: ignored
    note = add_cosignatures(log_signer.sign(cp), [impostor.cosign(cp.body(), 1)])
    assert verified_cosigners(note, [cosigner.verifier_key]) == {}
    with pytest.raises(CheckpointError):
        parse_cosigner_key(cosigner_key(NAME, cosigner.public_key).replace(NAME, "w2", 1))


def test_witness_cosigns_a_growing_log_and_refuses_a_fork(
    witness: Witness, log_signer: CheckpointSigner, tmp_path: Path
) -> None:
    log = Log(log_signer)
    first = log.grow(5)
    line = witness.add_checkpoint(0, [], first)
    assert NAME in verified_cosigners(first + line, [witness.cosigner.verifier_key])
    second = log.grow(7)
    witness.add_checkpoint(5, log.proof(5), second)
    assert witness.latest(ORIGIN) == (12, log.tree.root(12))

    # A rewritten history, signed with the real log key: same old size, other leaves.
    fork = Log(log_signer, prefix=b"rewritten")
    fork.grow(12)
    forged = fork.grow(3)
    with pytest.raises(WitnessRefusal) as refused:
        witness.add_checkpoint(12, fork.proof(12), forged)
    assert refused.value.status == 422
    same_size = Log(log_signer, prefix=b"other").grow(12)
    with pytest.raises(WitnessRefusal) as refused:
        witness.add_checkpoint(12, [], same_size)
    assert refused.value.status == 409
    # Rolling back to the older checkpoint is refused too: the witness is at 12.
    with pytest.raises(WitnessRefusal) as refused:
        witness.add_checkpoint(0, [], first)
    assert refused.value.status == 409 and refused.value.size == 12
    assert witness.latest(ORIGIN) == (12, log.tree.root(12))

    # The state outlives the process: a new witness on the same file remembers 12.
    again = Witness(witness.cosigner, witness.log_keys, tmp_path / "state.json")
    assert again.latest(ORIGIN) == (12, log.tree.root(12))
    with pytest.raises(WitnessRefusal):
        again.add_checkpoint(12, fork.proof(12), forged)


def test_witness_refuses_unknown_logs_and_bad_signatures(
    witness: Witness, log_signer: CheckpointSigner
) -> None:
    stranger = CheckpointSigner("other.example/log", Ed25519PrivateKey.generate())
    with pytest.raises(WitnessRefusal) as refused:
        witness.add_checkpoint(0, [], stranger.sign(Checkpoint("other.example/log", 1, bytes(32))))
    assert refused.value.status == 404
    impostor = CheckpointSigner(ORIGIN, Ed25519PrivateKey.generate())
    with pytest.raises(WitnessRefusal) as refused:
        witness.add_checkpoint(0, [], impostor.sign(Checkpoint(ORIGIN, 1, bytes(32))))
    assert refused.value.status == 403
    with pytest.raises(WitnessRefusal) as refused:
        witness.add_checkpoint(5, [], log_signer.sign(Checkpoint(ORIGIN, 1, bytes(32))))
    assert refused.value.status == 400


def test_request_body_round_trips_and_malformed_bodies_are_refused() -> None:
    proof = [bytes([i]) * 32 for i in range(3)]
    body = add_checkpoint_body(7, proof, "note\n")
    assert body.startswith(b"old 7\n") and parse_add_checkpoint(body) == (7, proof, "note\n")
    for bad in [b"old 07\n\nx", b"new 7\n\nx", b"old 7\nnot-base64\n\nx", b"old 7\n"]:
        with pytest.raises(WitnessRefusal) as refused:
            parse_add_checkpoint(bad)
        assert refused.value.status == 400


@pytest.fixture
def served(witness: Witness) -> Iterator[str]:
    server = serve_witness(witness, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_over_http_the_client_finds_the_witness_size_and_gets_a_cosignature(
    served: str, witness: Witness, log_signer: CheckpointSigner
) -> None:
    log = Log(log_signer)
    vkey = witness.cosigner.verifier_key
    request_cosignature(served, log.grow(4), vkey, log.proof, 0, 5.0)
    note = log.grow(9)
    # The client guesses 0; the witness answers 409 with 4 and the client retries from 4.
    line = request_cosignature(served, note, vkey, log.proof, 0, 5.0)
    assert verified_cosigners(add_cosignatures(note, [line]), [vkey]) == {
        NAME: pytest.approx(witness.clock(), abs=60)
    }
    fork = Log(log_signer, prefix=b"rewritten")
    fork.grow(13)
    with pytest.raises(WitnessRefusal) as refused:
        request_cosignature(served, fork.grow(2), vkey, fork.proof, 13, 5.0)
    assert refused.value.status == 422
    raw = urllib.request.Request(served + "/add-checkpoint", data=b"old 13\n\n", method="POST")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(raw, timeout=5)
    assert answer.value.code == 400


def test_saved_notes_with_trailing_lines_or_crlf_open_after_normalising(
    log_signer: CheckpointSigner,
) -> None:
    note = log_signer.sign(Checkpoint(ORIGIN, 3, bytes(32)))
    for saved in (note + "\n", note + "\n\n", note.replace("\n", "\r\n"), note.rstrip("\n")):
        assert open_checkpoint(normalise_saved_note(saved), [log_signer.verifier_key]).size == 3
    altered = normalise_saved_note(note.replace("\n3\n", "\n4\n"))
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(altered, [log_signer.verifier_key])
