"""The local leaderboard and round history, persisted atomically in DATA_DIR/swarm/state.json."""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from swarmd.paths import FILE_MODE, make_dir

log = logging.getLogger(__name__)


@dataclass
class BoardEntry:
    peer_id: str
    name: str = ""
    rounds: int = 0
    verified_reward: float = 0.0
    wins: int = 0
    last_round: int = -1


@dataclass
class GameState:
    """Everything the game keeps across restarts (the adapter lives in the trainer's checkpoints)."""

    last_done: tuple[int, int] | None = None
    peers: dict[str, BoardEntry] = field(default_factory=dict)
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=1000))
    coordinator_seq: int = 0
    coordinator_key: tuple[int, int] | None = None
    # Stages this node trained on, over its whole life (the history keeps only the recent ones).
    stages_trained: int = 0
    # Held-out evaluations (swarmd.trainer.evaluation.Result as JSON), oldest first.
    evaluations: list[dict[str, Any]] = field(default_factory=list)

    def record_round(
        self, round_: int, scores: dict[str, float], winners: list[str], names: dict[str, str]
    ) -> None:
        """Add one round's verified scores and this node's winner votes (once per round and peer)."""
        for peer, score in scores.items():
            rec = self.peers.setdefault(peer, BoardEntry(peer))
            if names.get(peer):
                rec.name = names[peer]
            if rec.last_round >= round_:
                continue
            rec.rounds += 1
            rec.verified_reward += score
            rec.last_round = round_
            if peer in winners:
                rec.wins += 1

    def leaderboard(self, query: str = "", limit: int = 0) -> list[BoardEntry]:
        q = query.lower()
        rows = [r for r in self.peers.values() if not q or q in r.peer_id.lower() or q in r.name.lower()]
        rows.sort(key=lambda r: (-r.verified_reward, -r.wins, r.peer_id))
        return rows[:limit] if limit else rows


def save(state: GameState, path: Path) -> None:
    data = {
        "last_done": list(state.last_done) if state.last_done else None,
        "peers": [asdict(p) for p in state.peers.values()],
        "history": list(state.history),
        "coordinator_seq": state.coordinator_seq,
        "coordinator_key": list(state.coordinator_key) if state.coordinator_key else None,
        "stages_trained": state.stages_trained,
        "evaluations": state.evaluations,
    }
    make_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # exactly, whatever the umask
    with open(fd, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: Path, history: int) -> GameState:
    """The saved state, or a fresh one when there is none or it is unreadable (logged)."""
    state = GameState(history=deque(maxlen=history))
    if not path.exists():
        return state
    try:
        data = json.loads(path.read_text())
        state.last_done = tuple(data["last_done"]) if data.get("last_done") else None
        state.peers = {p["peer_id"]: BoardEntry(**p) for p in data.get("peers", [])}
        state.history.extend(data.get("history", []))
        state.coordinator_seq = int(data.get("coordinator_seq", 0))
        key = data.get("coordinator_key")
        state.coordinator_key = tuple(key) if key else None
        trained_in_history = sum(1 for h in state.history if h.get("train"))
        state.stages_trained = max(int(data.get("stages_trained", 0)), trained_in_history)
        state.evaluations = [e for e in data.get("evaluations", []) if isinstance(e, dict)]
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("game state %s is unreadable (%s); starting a fresh leaderboard", path, e)
        return GameState(history=deque(maxlen=history))
    return state
