"""The TRL side of the trainer benchmark: ``python -m bench.trl_child`` (started by bench/trainer.py).

Runs TRL's ``GRPOTrainer`` one optimizer step at a time on command, so the
parent can interleave it with our trainer: the parent writes one JSON line
per step on stdin; after each step this process answers one JSON line
(step seconds, generated tokens) on the stdout it had at start. Everything
else TRL prints goes to stderr.

The same settings as ours: model directory, LoRA, prompts (the same task
references, every step), reward (``bench.trainer.bench_reward``), group size,
completion length, KL weight,
asymmetric clip, learning rate, threads. TRL runs without gradient
checkpointing (its default assumes a GPU short of memory; without it TRL is
faster on a CPU) and on the CPU in fp32 unless a GPU is present.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time


def main() -> int:
    from swarmd.trainer.worker import _die_with_parent

    _die_with_parent()  # an interrupted benchmark leaves nothing running
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    spec = json.loads(sys.stdin.readline())

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from bench.trainer import bench_reward
    from swarmd import tasks
    from swarmd.trainer import verifier

    torch.set_num_threads(spec["threads"])
    gpu = torch.cuda.is_available()
    refs = [tasks.TaskRef.from_json(r) for r in spec["refs"]]
    entries = {json.dumps(r.to_json(), sort_keys=True): verifier.materialize(r) for r in refs}
    dataset = Dataset.from_list([
        {"prompt": tasks.build_prompt(entries[json.dumps(r.to_json(), sort_keys=True)][0]),
         "ref": json.dumps(r.to_json(), sort_keys=True)}
        for r in refs
    ])
    tokens_this_step = [0]

    def reward(completions, completion_ids, ref, **_):
        tokens_this_step[0] += sum(len(ids) for ids in completion_ids)
        scores = []
        for completion, key in zip(completions, ref, strict=True):
            text = completion[-1]["content"] if isinstance(completion, list) else completion
            r = tasks.TaskRef.from_json(json.loads(key))
            scores.append(bench_reward(verifier.score(r, entries[key][1], text), text))
        return scores

    class Lockstep(TrainerCallback):
        """Blocks before each step until the parent says go; reports after it."""

        def on_step_begin(self, args, state, control, **kwargs):
            if not sys.stdin.readline():
                raise SystemExit(0)
            tokens_this_step[0] = 0
            self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if gpu:
                torch.cuda.synchronize()
            out.write(json.dumps({"step_s": time.perf_counter() - self.t0, "tokens": tokens_this_step[0],
                                  "peak_gpu": torch.cuda.max_memory_allocated() if gpu else 0}) + "\n")

    n = len(refs) * spec["group_size"]
    with tempfile.TemporaryDirectory() as tmp:
        config = GRPOConfig(
            output_dir=tmp,
            report_to="none",
            save_strategy="no",
            logging_steps=10_000,
            disable_tqdm=True,
            max_steps=spec["steps"],
            per_device_train_batch_size=n,
            gradient_accumulation_steps=1,
            num_generations=spec["group_size"],
            max_completion_length=spec["max_new_tokens"],
            temperature=spec["temperature"],
            top_p=1.0,
            learning_rate=spec["learning_rate"],
            beta=spec["kl_beta"],
            epsilon=0.2,
            epsilon_high=0.28,
            gradient_checkpointing=False,
            use_cpu=not gpu,
            bf16=gpu,
            seed=spec["seed"],
            shuffle_dataset=False,
            dataloader_num_workers=0,
        )
        tokenizer = AutoTokenizer.from_pretrained(spec["source"])
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(spec["source"], dtype=torch.bfloat16 if gpu else torch.float32)
        lora = LoraConfig(r=spec["lora"]["rank"], lora_alpha=spec["lora"]["alpha"], lora_dropout=spec["lora"]["dropout"],
                          target_modules=spec["lora"]["target_modules"], task_type="CAUSAL_LM")
        trainer = GRPOTrainer(model=model, reward_funcs=reward, args=config, train_dataset=dataset,
                              processing_class=tokenizer, peft_config=lora, callbacks=[Lockstep()])
        out.write(json.dumps({"ready": True}) + "\n")
        trainer.train()
    return 0


if __name__ == "__main__":
    sys.exit(main())
