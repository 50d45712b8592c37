"""A checkpoint witness and its client: the C2SP tlog-witness ``add-checkpoint`` protocol.

The witness keeps, per log origin, the size and root of the last checkpoint it
cosigned (a JSON state file of its own). It cosigns a new checkpoint only when
the log's signature verifies and an RFC 6962 consistency proof shows the new
tree extends the one it last cosigned, so a log that rewrote or forked its
history cannot get a cosignature for the new version (https://c2sp.org/tlog-witness).

Request body: ``old <size>\\n``, one base64 proof hash per line, a blank line,
the signed checkpoint. Answers: 200 with cosignature lines; 400 malformed;
403 no valid log signature; 404 unknown origin; 409 (body ``<size>\\n``,
``text/x.tlog.size``) when the old size is not the witness's, or the same size
with another root; 422 when the consistency proof fails.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final

from audit.checkpoints import _b64decode_canonical, open_checkpoint, split_note
from audit.cosignatures import Cosigner, verified_cosigners
from audit.errors import CheckpointError
from audit.proofs import verify_consistency

__all__ = [
    "SIZE_MEDIA_TYPE",
    "Witness",
    "WitnessRefusal",
    "add_checkpoint_body",
    "request_cosignature",
    "serve_witness",
]

SIZE_MEDIA_TYPE: Final = "text/x.tlog.size"
MAX_PROOF_LINES: Final = 63
MAX_BODY_BYTES: Final = 64 * 1024


class WitnessRefusal(Exception):
    """The witness will not cosign; ``status`` is the HTTP answer the protocol names."""

    def __init__(self, status: int, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.size = size  # the witness's size, on 409


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    lines = [f"old {old_size}"] + [base64.b64encode(h).decode("ascii") for h in proof]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")


def parse_add_checkpoint(body: bytes) -> tuple[int, list[bytes], str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessRefusal(400, "request body is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old "):
        raise WitnessRefusal(400, "request must start with an old size line and a blank line")
    size_text = lines[0][4:]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise WitnessRefusal(400, "old size is not a canonical decimal")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise WitnessRefusal(400, "too many consistency proof lines")
    proof = []
    for line in lines[1:]:
        digest = _b64decode_canonical(line)
        if digest is None or len(digest) != 32:
            raise WitnessRefusal(400, "a consistency proof line is not a base64 hash")
        proof.append(digest)
    return int(size_text), proof, note


@dataclass
class _Seen:
    size: int
    root: bytes


class Witness:
    """Checks and cosigns checkpoints of the logs it knows; remembers what it cosigned."""

    def __init__(
        self,
        cosigner: Cosigner,
        log_keys: Mapping[str, Sequence[str]],
        state_file: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cosigner = cosigner
        self.log_keys = {origin: list(keys) for origin, keys in log_keys.items()}
        self.state_file = state_file
        self.clock = clock
        self._lock = threading.Lock()
        self._seen = self._load()

    def _load(self) -> dict[str, _Seen]:
        if not self.state_file.exists():
            return {}
        data = json.loads(self.state_file.read_text(encoding="utf-8"))
        return {
            origin: _Seen(int(v["size"]), base64.b64decode(v["root"])) for origin, v in data.items()
        }

    def _save(self) -> None:
        data = {
            origin: {"size": s.size, "root": base64.b64encode(s.root).decode("ascii")}
            for origin, s in self._seen.items()
        }
        temp = self.state_file.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.state_file)  # the old state survives a crash mid-write

    def latest(self, origin: str) -> tuple[int, bytes] | None:
        seen = self._seen.get(origin)
        return None if seen is None else (seen.size, seen.root)

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], note: str) -> str:
        """Check and cosign; returns the cosignature line(s). Raises ``WitnessRefusal``."""
        try:
            text, _ = split_note(note)
        except CheckpointError as exc:
            raise WitnessRefusal(400, f"malformed checkpoint: {exc}") from None
        origin = text.split("\n", 1)[0]
        keys = self.log_keys.get(origin)
        if keys is None:
            raise WitnessRefusal(404, "unknown log origin")
        try:
            cp = open_checkpoint(note, keys, origin=origin)
        except CheckpointError as exc:
            raise WitnessRefusal(403, f"checkpoint signature: {exc}") from None
        if old_size > cp.size:
            raise WitnessRefusal(400, "old size is larger than the checkpoint size")
        # Check and record under one lock: two requests must not roll the state back.
        with self._lock:
            seen = self._seen.get(origin, _Seen(0, b""))
            if old_size != seen.size:
                raise WitnessRefusal(409, "old size is not the last cosigned size", seen.size)
            if old_size == cp.size:
                if seen.size and cp.root != seen.root:
                    raise WitnessRefusal(409, "same size, different root: the log forked")
            elif old_size == 0:
                if proof:
                    raise WitnessRefusal(422, "the proof from size 0 must be empty")
            elif not verify_consistency(old_size, cp.size, seen.root, cp.root, proof):
                raise WitnessRefusal(422, "consistency proof does not verify")
            self._seen[origin] = _Seen(cp.size, cp.root)
            self._save()
        return self.cosigner.cosign(cp.body(), int(self.clock()))


def serve_witness(witness: Witness, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server answering ``POST /add-checkpoint`` (call ``serve_forever``)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "cdg-witness"

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/add-checkpoint":
                self._answer(404, "not found\n")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY_BYTES:
                self._answer(400, "request body missing or too large\n")
                return
            try:
                old_size, proof, note = parse_add_checkpoint(self.rfile.read(length))
                lines = witness.add_checkpoint(old_size, proof, note)
            except WitnessRefusal as refusal:
                if refusal.status == 409 and refusal.size is not None:
                    self._answer(409, f"{refusal.size}\n", SIZE_MEDIA_TYPE)
                else:
                    self._answer(refusal.status, f"{refusal}\n")
                return
            self._answer(200, lines)

        def _answer(self, status: int, body: str, media: str = "text/plain") -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", f"{media}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return  # requests carry only public checkpoints; the caller logs outcomes

    return ThreadingHTTPServer((host, port), Handler)


def request_cosignature(
    url: str,
    note: str,
    witness_key: str,
    proof_from: Callable[[int], Sequence[bytes]],
    old_size: int,
    timeout: float,
) -> str:
    """Ask one witness to cosign ``note``; returns its verified cosignature line(s).

    ``proof_from(size)`` gives the consistency proof from ``size`` to the note's
    size. On 409 the witness says which size it holds: one retry from there.
    """
    if not url.startswith(("http://", "https://")):
        raise WitnessRefusal(400, "a witness URL must be http or https")
    for _ in range(2):
        if old_size > _note_size(note):
            raise WitnessRefusal(409, "the witness holds a larger tree than this checkpoint")
        proof = list(proof_from(old_size)) if old_size else []
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url.rstrip("/") + "/add-checkpoint",
            data=add_checkpoint_body(old_size, proof, note),
            method="POST",
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                lines = response.read(MAX_BODY_BYTES).decode("utf-8")
        except urllib.error.HTTPError as error:
            body = error.read(64).decode("utf-8", "replace").strip()
            if error.code == 409 and body.isdigit() and int(body) != old_size:
                old_size = int(body)
                continue
            raise WitnessRefusal(error.code, "the witness refused the checkpoint") from None
        cosigned = note.rstrip("\n") + "\n" + lines
        if not verified_cosigners(cosigned, [witness_key]):
            raise WitnessRefusal(502, "the witness answered without a valid cosignature")
        return "".join(line + "\n" for line in lines.splitlines() if line.startswith("— "))
    raise WitnessRefusal(409, "the witness holds a size the log cannot prove from")


def _note_size(note: str) -> int:
    lines = note.split("\n", 2)
    return int(lines[1]) if len(lines) > 2 and lines[1].isdigit() else 0
