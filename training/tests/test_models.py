import torch

from twinlens_train.models import (CLIPVisionConfig, CLIPVisionModelWithProjection, LLMConfig, LlamaForCausalLM,
                                   UNet2DConditionModel, UNet2DConditionModelHalfIO, UNetConfig, VAEEncoder,
                                   VAEEncoderConfig)
from twinlens_train.pipeline import SD_TAPS, normalise_tap

SMALL = UNetConfig(block_out_channels=(8, 8, 16, 16), cross_attention_dim=16, norm_num_groups=4, ff_mult=1)


def test_unet_module_names_contain_study_taps():
    names = set(n for n, _ in UNet2DConditionModel(SMALL).named_modules())
    for path in SD_TAPS.values():
        assert path in names, path
    for extra in ("conv_in", "time_proj", "time_embedding.linear_1", "time_embedding.linear_2",
                  "down_blocks.0.downsamplers.0.conv", "down_blocks.3.resnets.1", "mid_block.attentions.0",
                  "up_blocks.0.upsamplers.0.conv", "up_blocks.3.attentions.2.transformer_blocks.0.ff",
                  "up_blocks.1.attentions.1.proj_in", "up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_out.0",
                  "conv_norm_out", "conv_out", "up_blocks.2.resnets.0.conv_shortcut"):
        assert extra in names, extra
    assert "up_blocks.3.upsamplers.0.conv" not in names
    m = UNet2DConditionModel(SMALL)
    assert m.get_submodule(SD_TAPS["U-L1-R1-B0-Cross-Q"]).bias is None


def test_unet_forward_and_cross_attention_capture():
    torch.manual_seed(0)
    m = UNet2DConditionModel(SMALL).eval()
    attn = m.get_submodule("up_blocks.1.attentions.1.transformer_blocks.0.attn2")
    attn.capture_probs = True
    with torch.no_grad():
        out = m(torch.randn(2, 4, 16, 16), torch.tensor([50]), torch.randn(2, 7, 16))
    assert out.shape == (2, 4, 16, 16)
    assert attn.last_probs.shape == (2 * 2, 4 * 4, 7)  # [batch*heads, HW, L] at 4x4
    torch.testing.assert_close(attn.last_probs.sum(-1), torch.ones(4, 16))
    half = UNet2DConditionModelHalfIO(SMALL)
    half.load_state_dict(m.state_dict())
    with torch.no_grad():
        o16 = half.eval()(torch.zeros(2, 4, 16, 16, dtype=torch.float16), torch.tensor([50.0], dtype=torch.float16),
                          torch.zeros(2, 7, 16, dtype=torch.float16))
    assert o16.dtype == torch.float16


def test_normalise_tap_layouts():
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    t = normalise_tap(x, 1)
    assert t.shape == (4, 3) and t[1, 2] == x[1, 2, 0, 1]
    y = torch.randn(2, 5, 3)
    assert (normalise_tap(y, 0) == y[0].numpy()).all()


def test_vae_and_clip_shapes():
    v = VAEEncoder(VAEEncoderConfig(block_out_channels=(8, 16, 16), norm_num_groups=4)).eval()
    with torch.no_grad():
        assert v(torch.zeros(1, 3, 32, 32)).shape == (1, 4, 8, 8)
    c = CLIPVisionModelWithProjection(CLIPVisionConfig(image_size=32, patch_size=16)).eval()
    with torch.no_grad():
        last, emb = c(torch.zeros(2, 3, 32, 32))
    assert last.shape == (2, 5, 32) and emb.shape == (2, 16)


def test_llm_kv_cache_matches_full_recompute():
    torch.manual_seed(0)
    m = LlamaForCausalLM(LLMConfig(vocab_size=20, hidden_size=16, intermediate_size=32, num_attention_heads=4,
                                   num_key_value_heads=2)).eval()
    x = torch.randn(1, 7, 16)
    with torch.no_grad():
        full, _ = m(x)
        a, past = m(x[:, :4])
        b, past = m(x[:, 4:6], torch.ones(1, 6, dtype=torch.long), torch.tensor([[4, 5]]), past)
        c, past = m(x[:, 6:], torch.ones(1, 7, dtype=torch.long), torch.tensor([[6]]), past)
    torch.testing.assert_close(torch.cat([a, b, c], 1), full, atol=1e-5, rtol=1e-5)
    assert past[0][0].shape == (1, 2, 7, 4)
