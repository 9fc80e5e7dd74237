"""PyTorch timings: reference.py (the engine's stages, for `twinlens bench`), torch_ref.py (training
steps of the mini-world stages in two torch builds)."""
