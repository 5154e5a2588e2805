"""embodied: embodied agents whose brain is a multimodal large language model.

``import embodied`` stays cheap: heavy libraries (torch, transformers) load where they are used. Importing
``embodied.models`` registers the model with ``transformers.AutoConfig`` / ``AutoModel``.
"""

__version__ = "0.1.0"
