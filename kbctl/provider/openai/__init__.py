"""The OpenAI vector-store provider: `OpenAIProvider` over `api` (endpoints) and `shapes`."""

from kbctl.provider.openai.provider import OpenAIProvider

__all__ = ["OpenAIProvider"]
