"""The worker's engine in-process on the tiny model: sampling, log-probs, training, checkpoints.

The tiny model (a random 2-layer Qwen2, see swarmd/trainer/tiny.py) stands in
for a real one so these run on a CPU in seconds; the code paths are the ones
a hub model takes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from swarmd import tasks
from swarmd.trainer import sampling, verifier
from swarmd.trainer.config import TrainerConfig
from swarmd.trainer.decisions import plan_chunks
from swarmd.trainer.policy import ADAPTER_FILE, BadInput, Policy
from swarmd.trainer.protocol import ScoreItem, TrainGroup
from tests.trainer.conftest import tiny_config


def make_policy(model_cache: Path, **overrides) -> Policy:
    return Policy(TrainerConfig.model_validate(tiny_config(**overrides)), model_cache)


def prompts(n: int, seed: int = 1) -> list[list[dict[str, str]]]:
    return [tasks.build_prompt(verifier.materialize(r)[0]) for r in tasks.draw_refs(tasks.EASY_TASKS, seed, n)]


def perturb_adapter(policy: Policy, seed: int = 0) -> None:
    """LoRA's B starts at zero (adapter = identity); give it weights so merging matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in policy.model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def groups_for(policy: Policy, msgs, rewards_of, n: int = 4) -> list[TrainGroup]:
    samples = policy.sample([policy.prompt_ids(m) for m in msgs], n, 0)
    texts = [policy.decode(t) for t in samples.tokens]
    return [TrainGroup(m, texts[i * n:(i + 1) * n], [rewards_of(t) for t in texts[i * n:(i + 1) * n]])
            for i, m in enumerate(msgs)]


@pytest.mark.parametrize("merge", [True, False])
def test_sampler_logprobs_match_training_logprobs(model_cache, merge) -> None:
    # Left padding (prompts of different lengths), temperature ≠ 1, adapter merged for sampling
    # and unmerged for training: the recomputed log-probs must agree with the sampler's.
    policy = make_policy(model_cache, sampling={"max_new_tokens": 16, "temperature": 0.7, "merge_lora": merge})
    perturb_adapter(policy)
    ids = [policy.prompt_ids(m) for m in prompts(3)]
    assert len({len(i) for i in ids}) > 1
    torch.manual_seed(3)
    samples = policy.sample(ids, 3, 0)
    recomputed = policy.logprobs(ids, [u for u in range(3) for _ in range(3)], samples.tokens)  # [B, T]
    for b, (toks, lps) in enumerate(zip(samples.tokens, samples.logprobs, strict=True)):
        assert len(toks) == len(lps) > 0
        assert torch.allclose(recomputed[b, :len(toks)], torch.tensor(lps), atol=1e-4), b
    for toks, done in zip(samples.tokens, samples.finished, strict=True):
        assert done == (toks[-1] in policy.eos_ids) and (done or len(toks) == 16)
        assert not any(t in policy.eos_ids for t in toks[:-1])  # nothing after the end


def test_shared_prompt_pass_equals_one_pass_per_row(model_cache) -> None:
    # The prompt is run once per group and its cache copied to the rows; the result must be
    # what running every row's whole sequence (left-padded prompt + completion) gives.
    policy = make_policy(model_cache)
    perturb_adapter(policy)
    prompts_ = [policy.prompt_ids(m) for m in prompts(2)]
    completions = [[5, 6, 7], [8, 9, 10, 11, 12], [13], [14, 15]]
    row_prompt = [0, 0, 1, 1]
    shared = policy.logprobs(prompts_, row_prompt, completions)
    for b, (u, comp) in enumerate(zip(row_prompt, completions, strict=True)):
        ids = torch.tensor([prompts_[u] + comp])
        with torch.no_grad():
            logits = policy.model(input_ids=ids).logits[0, len(prompts_[u]) - 1:-1]  # [T, V]
        want = torch.log_softmax(logits, -1).gather(-1, torch.tensor(comp)[:, None]).squeeze(-1)
        assert torch.allclose(shared[b, :len(comp)], want, atol=1e-5), b


def test_pruning_finished_rows_does_not_change_samples(model_cache) -> None:
    # Near-greedy sampling is deterministic per row whatever the batch holds, so dropping
    # finished rows from the cache (or not) must give the same completions.
    policy = make_policy(model_cache, sampling={"temperature": 1e-4})
    ids, mask = sampling.left_pad([policy.prompt_ids(m) for m in prompts(4)], policy.tokenizer.pad_token_id)
    probe = sampling.sample(policy.model, ids, mask, [1, 1, 1, 1], 10, [-1], 1e-4)
    stop = [probe.tokens[0][2], probe.tokens[2][5]]  # make some rows end early, at different steps
    eager = sampling.sample(policy.model, ids, mask, [1, 1, 1, 1], 10, stop, 1e-4, prune_fraction=0.0)
    never = sampling.sample(policy.model, ids, mask, [1, 1, 1, 1], 10, stop, 1e-4, prune_fraction=2.0)
    assert eager.tokens == never.tokens and any(eager.finished) and not all(eager.finished)
    for a, b in zip(eager.logprobs, never.logprobs, strict=True):
        assert torch.allclose(torch.tensor(a), torch.tensor(b), atol=1e-5)


def test_plan_chunks_keeps_groups_whole_where_they_fit() -> None:
    assert plan_chunks([4, 4, 4], 0) == [[(0, 0, 4), (1, 0, 4), (2, 0, 4)]]
    assert plan_chunks([4, 4, 4], 8) == [[(0, 0, 4), (1, 0, 4)], [(2, 0, 4)]]
    assert plan_chunks([3, 4], 5) == [[(0, 0, 3)], [(1, 0, 4)]]  # not split across passes
    assert plan_chunks([10], 4) == [[(0, 0, 4)], [(0, 4, 4)], [(0, 8, 2)]]  # too big: split
    assert plan_chunks([2, 10], 4) == [[(0, 0, 2), (1, 0, 2)], [(1, 2, 4)], [(1, 6, 4)]]
    assert plan_chunks([], 4) == [] and plan_chunks([0, 0], 0) == []


def test_merged_sampling_restores_the_exact_weights(model_cache) -> None:
    policy = make_policy(model_cache)
    perturb_adapter(policy)
    before = {k: v.clone() for k, v in policy.model.state_dict().items()}
    policy.sample([policy.prompt_ids(prompts(1)[0])], 2, 0)
    after = policy.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_generation_batch_limit_gives_the_same_shapes(model_cache) -> None:
    policy = make_policy(model_cache)
    msgs = prompts(3)
    out = policy.generate(msgs, 2, gen_batch=1)
    assert [len(c) for c in out] == [2, 2, 2] and all(isinstance(t, str) for c in out for t in c)


def test_rollouts_are_scored_by_the_verifier(model_cache) -> None:
    policy = make_policy(model_cache)
    refs = tasks.draw_refs(tasks.EASY_TASKS, 4, 3)
    groups, stats = policy.rollouts(refs, 4, 0)
    assert [g.ref for g in groups] == refs and stats["generated_tokens"] > 0
    for g in groups:
        assert len(g.completions) == len(g.rewards) == len(g.completion_tokens) == 4
        assert g.prompt == tasks.build_prompt(g.question)
        assert all(0.0 <= r <= 1.0 for r in g.rewards)
        _, entry = verifier.materialize(g.ref)
        right = policy.score([ScoreItem(g.ref, g.question, [f"<answer>{entry['answer']}</answer>"])])
        assert right[0].rewards == [1.0] and right[0].error == ""
    with pytest.raises(BadInput, match="unknown dataset"):
        policy.rollouts([tasks.TaskRef("nope", {}, 1, 1)], 2, 0)


def test_score_errors_never_raise(model_cache) -> None:
    ref = tasks.draw_refs(tasks.EASY_TASKS, 4, 1)[0]
    question, _ = verifier.materialize(ref)
    results = Policy.score([
        ScoreItem(ref, question + " (edited)", ["x"]),
        ScoreItem(tasks.TaskRef("basic_arithmetic", {"bogus": 1}, 1, 1), "q", ["x"]),
        ScoreItem(tasks.TaskRef("basic_arithmetic", {}, 1, 2**40), "q", ["x"]),
        ScoreItem(ref, question, ["<answer>x</answer>", "nothing"]),
    ])
    assert results[0].error == "question_mismatch" and results[0].rewards == []
    assert "bad config for basic_arithmetic" in results[1].error
    assert "out of range" in results[2].error
    assert results[3].error == "" and results[3].rewards == [0.0, 0.0]


def test_zero_advantage_groups_are_skipped(model_cache) -> None:
    policy = make_policy(model_cache)
    msgs = prompts(2)
    before = policy.adapter_bytes()
    flat = [TrainGroup(m, ["a", "b", "c"], [0.5, 0.5, 0.5]) for m in msgs]
    stats = policy.train(flat, 8)
    assert not stats.stepped and stats.groups_skipped == 2 and stats.zero_adv_fraction == 1.0
    assert policy.step == 0 and policy.adapter_bytes() == before
    mixed = flat[:1] + [TrainGroup(msgs[1], ["1", "two", "3"], [1.0, 0.0, 1.0])]
    stats = policy.train(mixed, 8)
    assert stats.stepped and stats.groups_used == 1 and stats.groups_skipped == 1 and policy.step == 1
    assert stats.policy_version == 1 and stats.tokens > 0 and policy.adapter_bytes() != before


def test_kl_is_zero_against_an_untrained_adapter_then_grows(model_cache) -> None:
    # The reference is the same model with the adapter disabled: identical at initialization.
    policy = make_policy(model_cache, grpo={"kl_beta": 0.1, "learning_rate": 5e-2})
    msgs = prompts(2)
    groups = [TrainGroup(m, ["7 7 7", "abc", "1 2", "zz"], [1.0, 0.0, 0.5, 0.0]) for m in msgs]
    first = policy.train(groups, 8)
    assert first.kl == 0.0
    for _ in range(3):
        last = policy.train(groups, 8)
    assert last.kl > 0.0


def test_micro_batch_size_does_not_change_the_step(model_cache, tmp_path) -> None:
    policy = make_policy(model_cache)
    groups = groups_for(policy, prompts(3), lambda t: float(len(t) % 3))
    policy.checkpoint(tmp_path, {}, keep=1)
    policy.train(groups, 12)
    whole = policy.adapter_state()
    policy.restore(tmp_path, warn=lambda m: None)
    policy.train(groups, 1)
    for k, v in policy.adapter_state().items():
        assert torch.allclose(v, whole[k], atol=1e-6), k


def test_restart_resumes_bit_identically(model_cache, tmp_path) -> None:
    # Dropout on the adapter makes the step depend on the RNG, which the checkpoint carries.
    overrides = {"lora": {"dropout": 0.1}, "grpo": {"learning_rate": 1e-2}}
    a = make_policy(model_cache, **overrides)
    msgs = prompts(2)
    batches = [groups_for(a, msgs, lambda t: float(len(t) % 2)) for _ in range(3)]
    a.train(batches[0], 8)
    a.train(batches[1], 8)
    path = a.checkpoint(tmp_path, {"round": 7, "stage": 0}, keep=3)
    a.train(batches[2], 8)
    continued = a.adapter_bytes()

    b = make_policy(model_cache, **overrides)
    restored = b.restore(tmp_path, warn=pytest.fail)
    assert restored == {"path": str(path), "step": 2, "round_state": {"round": 7, "stage": 0}}
    assert b.adapter_bytes() == (path / ADAPTER_FILE).read_bytes()  # bit-identical after load
    assert b.step == 2
    b.train(batches[2], 8)
    assert b.adapter_bytes() == continued  # and training continues exactly where it left off


def test_corrupt_or_foreign_checkpoints_are_skipped(model_cache, tmp_path) -> None:
    a = make_policy(model_cache, grpo={"learning_rate": 1e-2})
    groups = [TrainGroup(m, ["a", "b"], [1.0, 0.0]) for m in prompts(2)]
    a.train(groups, 8)
    good = a.checkpoint(tmp_path, {"round": 1}, keep=5)
    a.train(groups, 8)
    bad = a.checkpoint(tmp_path, {"round": 2}, keep=5)
    data = bytearray((bad / ADAPTER_FILE).read_bytes())
    data[-1] ^= 0xFF
    (bad / ADAPTER_FILE).write_bytes(bytes(data))

    warnings: list[str] = []
    b = make_policy(model_cache, grpo={"learning_rate": 1e-2})
    assert b.restore(tmp_path, warn=warnings.append)["round_state"] == {"round": 1}
    assert b.adapter_bytes() == (good / ADAPTER_FILE).read_bytes() and b.step == 1
    assert len(warnings) == 1 and bad.name in warnings[0] and "does not match" in warnings[0]

    other = make_policy(model_cache, lora={"rank": 4})  # another adapter shape: not loadable
    warnings.clear()
    assert other.restore(tmp_path, warn=warnings.append) is None and other.step == 0
    assert len(warnings) == 2 and "another model or adapter" in warnings[1]


def test_export_is_a_plain_peft_directory(model_cache, tmp_path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    policy = make_policy(model_cache)
    perturb_adapter(policy)
    out = tmp_path / "adapter"
    policy.export(str(out))
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in out.iterdir()}
    base = AutoModelForCausalLM.from_pretrained(policy.loaded.source)
    loaded = PeftModel.from_pretrained(base, out)
    theirs = {k: v for k, v in loaded.state_dict().items() if "lora_" in k}
    ours = {k: v for k, v in policy.model.state_dict().items() if "lora_" in k}
    assert theirs.keys() == ours.keys() and all(torch.equal(theirs[k], ours[k]) for k in ours)
    with pytest.raises(BadInput, match="not empty"):
        policy.export(str(out))
    with pytest.raises(BadInput, match="absolute"):
        policy.export("relative/dir")


def test_adapter_bytes_round_trip(model_cache) -> None:
    a = make_policy(model_cache)
    perturb_adapter(a, seed=5)
    b = make_policy(model_cache)
    b.load_adapter_bytes(a.adapter_bytes())
    ids = [b.prompt_ids(prompts(1)[0])]
    completion = [[5, 6, 7, 8]]
    assert torch.equal(a.logprobs(ids, [0], completion), b.logprobs(ids, [0], completion))


def digit_share(text: str) -> float:
    """Dense synthetic reward: the share of non-space characters that are digits."""
    chars = [c for c in text if not c.isspace()]
    return sum(c.isdigit() for c in chars) / max(len(chars), 1)


@pytest.mark.slow  # about 30 s of training on an idle core
def test_reward_rises_with_grpo_on_a_dense_reward(model_cache) -> None:
    # The random tiny model writes about 1% digits; GRPO with this reward should push that up
    # by an order of magnitude within thirty steps.
    policy = make_policy(model_cache, seed=0, lora={"target_modules": ["all-linear"]},
                         sampling={"max_new_tokens": 16}, grpo={"learning_rate": 2e-2})
    msgs = prompts(4)
    torch.manual_seed(0)
    curve = []
    for _ in range(30):
        groups = groups_for(policy, msgs, digit_share, n=8)
        curve.append(sum(sum(g.rewards) for g in groups) / 32)
        policy.train(groups, 32)
    start, end = sum(curve[:4]) / 4, sum(curve[-4:]) / 4
    print("reward curve:", [round(c, 3) for c in curve])
    assert end > 0.1 and end > 10 * start, [round(c, 3) for c in curve]


def test_own_samples_train_on_the_sampled_token_ids(model_cache) -> None:
    policy = make_policy(model_cache, sampling={"max_new_tokens": 24})
    torch.manual_seed(5)
    groups, _ = policy.rollouts(tasks.draw_refs(tasks.EASY_TASKS, 4, 3), 4, 0)
    differs = 0
    for g in groups:
        for text, n_tokens in zip(g.completions, g.completion_tokens, strict=True):
            ids = policy.completion_ids(text)
            assert len(ids) == n_tokens  # the sampled sequence, end token included
            assert policy.tokenizer.decode(ids, skip_special_tokens=True) == text
            differs += ids[: len(ids)] != policy.tokenizer.encode(text, add_special_tokens=False)[: len(ids)]
    # the tiny BPE does not give random samples back when re-encoding them: that is the point
    assert differs > 0
    # a peer's text (never sampled here) is encoded
    peer = "a completion from another node"
    assert policy.tokenizer.decode(policy.completion_ids(peer), skip_special_tokens=True) == peer
