"""The MM-LLM core. Importing this package registers ``MMLLMConfig``/``MMLLM`` with ``AutoConfig``/``AutoModel``."""

from transformers import AutoConfig, AutoModel

from embodied.models.config import MMLLMConfig
from embodied.models.mmllm import MMLLM, MMLLMOutput
from embodied.models.processor import MMLLMProcessor

AutoConfig.register(MMLLMConfig.model_type, MMLLMConfig, exist_ok=True)
AutoModel.register(MMLLMConfig, MMLLM, exist_ok=True)

__all__ = ["MMLLM", "MMLLMConfig", "MMLLMOutput", "MMLLMProcessor"]
