"""nn.Module definitions with diffusers / transformers module paths, so that
torch.onnx tensor names (/<module path>/<Op>_output_0) match real exports."""
from .unet import UNetConfig, UNet2DConditionModel, UNet2DConditionModelHalfIO
from .vae import VAEEncoderConfig, VAEEncoder
from .clip import CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, CLIPVisionModelWithProjection
from .llm import LLMConfig, LlamaForCausalLM
from .projectors import MlpProjector, FusedXAttnProjector, ProjectorConfig, FusedProjectorConfig

__all__ = [
    "UNetConfig", "UNet2DConditionModel", "UNet2DConditionModelHalfIO", "VAEEncoderConfig", "VAEEncoder",
    "CLIPTextConfig", "CLIPTextModel", "CLIPVisionConfig", "CLIPVisionModelWithProjection", "LLMConfig",
    "LlamaForCausalLM", "MlpProjector", "FusedXAttnProjector", "ProjectorConfig", "FusedProjectorConfig",
]
