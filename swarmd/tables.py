"""Plain-text tables shared by swarmctl and the demo (pure: protobuf messages in, text out).

Local and chain figures are shown in the same units: the contract stores
integer rewards (the reward times ``swarm.reward_scale``), so the chain column
is divided back by the scale the daemon reports.
"""

from __future__ import annotations

from swarmd._pb.swarm.v1 import control_pb2 as pb

# One line that says what the columns count; the dashboard and docs/dashboard.md say the same.
COLUMNS_NOTE = (
    "reward: sum of this node's verified scores of the peer · wins: rounds this node voted the peer a winner\n"
    "chain reward: the peer's own reports on chain, same units · chain wins: winner votes from every node on chain"
)


def chain_reward(entry: pb.LeaderboardEntry, scale: int) -> float:
    """The on-chain total in the units of ``verified_reward``."""
    return entry.chain_reward / scale if scale else float(entry.chain_reward)


def render(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = [i for i, c in enumerate(rows[0]) if c.strip() in NUMERIC]
    return "\n".join(
        "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
        for r in rows
    )


NUMERIC = {"#", "ROUNDS", "REWARD", "WINS", "CHAIN REWARD", "CHAIN WINS"}


def leaderboard(board: pb.Leaderboard, peer_ids: bool = True, note: bool = True) -> str:
    """The leaderboard as aligned columns, chain totals in local units, and the one-line legend."""
    if not board.entries:
        return "no entries"
    scale = board.chain_reward_scale
    head = ("#", "NAME", *(("PEER ID",) if peer_ids else ()), "ROUNDS", "REWARD", "WINS", "CHAIN REWARD", "CHAIN WINS")
    rows: list[tuple[str, ...]] = [head]
    for i, e in enumerate(board.entries, 1):
        rows.append((
            str(i),
            e.name or e.peer_id[:16],
            *((e.peer_id,) if peer_ids else ()),
            str(e.rounds),
            f"{e.verified_reward:.3f}",
            str(e.wins),
            f"{chain_reward(e, scale):.3f}" if e.has_chain_totals else "-",
            str(e.chain_wins) if e.has_chain_totals else "-",
        ))
    text = render(rows)
    return text + ("\n" + COLUMNS_NOTE if note else "")
