import onnx
import torch

from twinlens_train.export import (attention_softmax_tensor, export_onnx, initializers_to_fp16, io_signature,
                                   module_output_tensor, module_scope, with_extra_outputs)
from twinlens_train.models import (FusedProjectorConfig, FusedXAttnProjector, MlpProjector, ProjectorConfig,
                                   UNet2DConditionModel, UNetConfig)
from twinlens_train.pipeline import SD_TAPS


def test_module_scope():
    assert module_scope("up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_q") == \
        "/up_blocks.1/attentions.1/transformer_blocks.0/attn2/to_q/"
    assert module_scope("vision_model.encoder.layers.1") == "/vision_model/encoder/layers.1/"
    assert module_scope("attn2.to_out.0") == "/attn2/to_out.0/"


def test_projector_exports(tmp_path):
    p = str(tmp_path / "clip.onnx")
    export_onnx(MlpProjector(ProjectorConfig(8, 12)), (torch.zeros(1, 4, 8),), p, ["features"], ["embeds"],
                {"features": {0: "b", 1: "n"}, "embeds": {0: "b", 1: "n"}})
    s = io_signature(p)
    assert s["inputs"] == [("features", "float", ["b", "n", 8])]
    assert s["outputs"] == [("embeds", "float", ["b", "n", 12])]
    p2 = str(tmp_path / "fused.onnx")
    export_onnx(FusedXAttnProjector(FusedProjectorConfig(8, 6, 12)), (torch.zeros(1, 4, 8), torch.zeros(1, 3, 6)), p2,
                ["clip_features", "diffusion_features"], ["embeds"])
    s = io_signature(p2)
    assert [i[0] for i in s["inputs"]] == ["clip_features", "diffusion_features"]
    assert [o[0] for o in s["outputs"]] == ["embeds"]


def test_unet_export_names_and_external_data(tmp_path):
    cfg = UNetConfig(block_out_channels=(8, 8, 8, 8), cross_attention_dim=8, norm_num_groups=4, ff_mult=1,
                     layers_per_block=1)
    torch.manual_seed(0)
    m = UNet2DConditionModel(cfg)
    path = str(tmp_path / "unet" / "model.onnx")
    export_onnx(m, (torch.zeros(2, 4, 8, 8), torch.tensor([50]), torch.zeros(2, 5, 8)), path,
                ["sample", "timestep", "encoder_hidden_states"], ["out_sample"], external_data="weights.pb",
                post=initializers_to_fp16)
    assert (tmp_path / "unet" / "weights.pb").stat().st_size > 0
    s = io_signature(path)
    assert [(n, t) for n, t, _ in s["inputs"]] == [("sample", "float"), ("timestep", "int64"),
                                                  ("encoder_hidden_states", "float")]
    assert [o[0] for o in s["outputs"]] == ["out_sample"]
    g = onnx.load(path, load_external_data=False)
    q = SD_TAPS["U-L1-R1-B0-Cross-Q"]  # up_blocks.1 has 2 attentions with layers_per_block=1
    assert module_output_tensor(g, q) == "/up_blocks.1/attentions.1/transformer_blocks.0/attn2/to_q/MatMul_output_0"
    assert attention_softmax_tensor(g, "up_blocks.1.attentions.1.transformer_blocks.0.attn2") == \
        "/up_blocks.1/attentions.1/transformer_blocks.0/attn2/Softmax_output_0"
    extra = with_extra_outputs(g, ["/up_blocks.1/attentions.1/transformer_blocks.0/attn2/Softmax_output_0"])
    assert len(extra.graph.output) == 2 and len(g.graph.output) == 1
