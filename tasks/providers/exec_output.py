"""What a command run in a workspace answers, and the capping of its output."""

from __future__ import annotations

from dataclasses import dataclass, field

OUTPUT_CAP_BYTES = 1024 * 1024  # per stream


@dataclass
class CappedOutput:
    """Keeps the first `cap` bytes written; remembers whether more came."""

    cap: int = OUTPUT_CAP_BYTES
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False

    def write(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if len(chunk) > room:
            self.truncated = True
            chunk = chunk[: max(room, 0)]
        self.data += chunk


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None  # None: timed out and the process could not be confirmed ended
    stdout: bytes
    stderr: bytes
    duration_ms: int
    timed_out: bool
    truncated: bool

    def to_json(self) -> dict[str, object]:
        return {
            "exit_code": self.exit_code,
            "stdout": self.stdout.decode("utf-8", errors="replace"),
            "stderr": self.stderr.decode("utf-8", errors="replace"),
            "duration_ms": self.duration_ms,
            "timed_out": self.timed_out,
            "truncated": self.truncated,
        }
