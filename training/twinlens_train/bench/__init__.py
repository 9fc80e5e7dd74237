"""PyTorch timings: reference.py (the engine's stages, for `twinlens bench`), reader_step.py (a stage-2 step in
float32 and bfloat16, recipe v3 vs v4), torch_ref.py (training
steps of the mini-world stages in two torch builds)."""
