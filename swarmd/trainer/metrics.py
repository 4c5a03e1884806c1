"""The trainer's Prometheus metrics (in the daemon's registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from swarmd.metrics import REGISTRY

READY = Gauge("swarmd_trainer_ready", "1 while the trainer worker is up with its model loaded.", registry=REGISTRY)
POLICY_VERSION = Gauge(
    "swarmd_trainer_policy_version", "Optimizer steps taken by this node's adapter.", registry=REGISTRY
)
REWARD = Gauge("swarmd_trainer_reward_mean", "Mean reward of the last training batch.", registry=REGISTRY)
LOSS = Gauge("swarmd_trainer_loss", "GRPO loss of the last training step.", registry=REGISTRY)
KL = Gauge("swarmd_trainer_kl", "KL to the base model in the last step (0 unless kl_beta > 0).", registry=REGISTRY)
STEP_SECONDS = Histogram(
    "swarmd_trainer_step_seconds",
    "Wall time of a training step in the worker.",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)
TRAIN_TOKENS_PER_S = Gauge(
    "swarmd_trainer_train_tokens_per_second", "Completion tokens per second in the last step.", registry=REGISTRY
)
GENERATE_TOKENS_PER_S = Gauge(
    "swarmd_trainer_generate_tokens_per_second", "Sampled tokens per second in the last rollouts.", registry=REGISTRY
)
STEPS = Counter("swarmd_trainer_steps", "Optimizer steps taken since the daemon started.", registry=REGISTRY)
RESTARTS = Counter("swarmd_trainer_worker_restarts", "Times the trainer worker was restarted.", registry=REGISTRY)
OOMS = Counter(
    "swarmd_trainer_oom", "Out-of-memory errors in the worker (each halves a batch size).", registry=REGISTRY
)
WORKER_RSS = Gauge("swarmd_trainer_worker_rss_bytes", "Resident memory of the trainer worker.", registry=REGISTRY)
