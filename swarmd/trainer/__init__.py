"""The trainer: a supervised worker process owning torch, transformers, peft and reasoning-gym."""
