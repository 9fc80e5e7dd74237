"""The LLaVA recipe for real packs: data readers (data.py), a mini-world dataset in LLaVA's formats
(make_dataset.py), precomputed feature shards (shards.py), prompt tokenisation (prompt.py), the
projector + LLM model (model.py), the rank-sharded seeded sampler (sampler.py) and the torchrun/DDP
trainer (trainer.py, CLI in train.py)."""
