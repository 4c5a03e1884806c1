"""The worker's held-out pass: one greedy completion per question, scored by the verifier.

Greedy decoding (``do_sample=False``: the arg-max token at every step) makes
the result a function of the adapter alone: the same adapter on the same
questions gives the same answers, whichever node runs it and whatever the
sampler's random state (which this pass neither reads nor advances). The
questions go through in fixed chunks of ``batch`` (left-padded), so the
padding each question sees is fixed too.

Runs in the worker (imports torch and transformers through the policy).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from swarmd import tasks
from swarmd.trainer import sampling, verifier


def evaluate(policy, refs: list[tasks.TaskRef], max_new_tokens: int, batch: int) -> dict[str, Any]:
    """{"datasets": [...], "rewards": [...], "completions": [...], "seconds": s} in the order of ``refs``."""
    from swarmd.trainer.policy import BadInput

    if max_new_tokens < 1 or batch < 1:
        raise BadInput("max_new_tokens and batch must be >= 1")
    entries = []
    for ref in refs:
        try:
            question, entry = verifier.materialize(ref)
        except verifier.TaskError as e:
            raise BadInput(f"held-out reference {ref.dataset}[{ref.index}]: {e}") from None
        entries.append((ref, entry, policy.prompt_ids(tasks.build_prompt(question))))
    t0 = time.perf_counter()
    completions: list[str] = []
    pad = policy.tokenizer.pad_token_id
    with policy._sampling_weights(), torch.no_grad():
        for start in range(0, len(entries), batch):
            chunk = entries[start:start + batch]
            ids, mask = sampling.left_pad([e[2] for e in chunk], pad)
            out = policy.model.generate(
                input_ids=ids.to(policy.device), attention_mask=mask.to(policy.device),
                max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                temperature=None, top_p=None, top_k=None,
                eos_token_id=policy.eos_ids, pad_token_id=pad,
            )
            for row in out[:, ids.shape[1]:].tolist():
                # Cut at the first end-of-sequence token (generate pads finished rows after it).
                for k, tok in enumerate(row):
                    if tok in policy.eos_ids:
                        row = row[:k]
                        break
                completions.append(policy.decode(row))
    rewards = [verifier.score(ref, entry, text) for (ref, entry, _), text in zip(entries, completions, strict=True)]
    return {"datasets": [r.dataset for r, _, _ in entries], "rewards": rewards, "completions": completions,
            "seconds": time.perf_counter() - t0}
