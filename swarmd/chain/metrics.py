"""Prometheus metrics of the chain subsystem."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from swarmd.metrics import REGISTRY

SUBMISSIONS_QUEUED = Counter(
    "swarmd_chain_submissions_queued", "Submissions appended to the on-disk queue.", ["kind"], registry=REGISTRY
)
SUBMISSIONS_SENT = Counter(
    "swarmd_chain_submissions_sent", "Submission transactions broadcast.", ["kind"], registry=REGISTRY
)
SUBMISSIONS_CONFIRMED = Counter(
    "swarmd_chain_submissions_confirmed", "Submissions found on chain (landed exactly once).", ["kind"],
    registry=REGISTRY,
)
SUBMISSIONS_FAILED = Counter(
    "swarmd_chain_submissions_failed", "Submissions dropped with a permanent, decoded reason.", ["kind"],
    registry=REGISTRY,
)
PENDING = Gauge("swarmd_chain_pending_submissions", "Submissions waiting in the queue.", registry=REGISTRY)
RPC_ERRORS = Counter(
    "swarmd_chain_rpc_errors", "Failed chain calls by class (unavailable, transient, unfunded, reverted).",
    ["kind"], registry=REGISTRY,
)
LAST_BLOCK = Gauge("swarmd_chain_last_block", "Latest block number seen on the chain.", registry=REGISTRY)
ROUND = Gauge("swarmd_chain_round", "The contract's current round.", registry=REGISTRY)
SUBMISSIONS_RESUBMITTED = Counter(
    "swarmd_chain_submissions_resubmitted",
    "Confirmed submissions the chain lost (a rollback) and that went back to the queue.", ["kind"],
    registry=REGISTRY,
)
UNFINAL = Gauge(
    "swarmd_chain_unfinal_submissions", "Submissions on chain, fewer than chain.confirmations blocks deep.",
    registry=REGISTRY,
)
ROLLBACKS = Counter(
    "swarmd_chain_rollbacks", "Times the chain went backwards (lower head, or a known block replaced).",
    registry=REGISTRY,
)
