"""TwinLens training package: reference modules, tokenizers, ONNX export and the
reference feature pipeline shared by the fixture builder and (later) pack training."""
