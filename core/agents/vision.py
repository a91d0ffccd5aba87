"""The vision agent: looks at an image together with the user's words, for the main model.

The main chat model never needs to accept images: the vision model
(``VISION_MODEL``) receives the image as a base64 ``data:`` URL (downscaled
first when large) and the user's message, and its findings go back to the main
model flagged as coming from the vision agent.  :class:`LookAtImageTool` lets
the main model look again at an image stored earlier.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from core.agents.base import AgentRequest, AgentResult, failure
from core.llm import ModelError, OpenAIModel
from core.media.image_prep import DEFAULT_MAX_SIDE, prepare_image
from core.media.safe_image import ImageRejected, SafeImages
from core.tools.registry import ToolBase, ToolContext, ToolInputError, ToolResult

log = logging.getLogger(__name__)

SOURCE = "vision agent"
VISION_PROMPT = (
    "You are the eyes of a personal assistant. Look at the image and report what is useful for answering "
    "the user's message: describe what matters, read any text exactly, identify things when you can and say "
    "how sure you are. Be factual and concise; another assistant will write the reply."
)
NO_WORDS = "(The user sent the image without a message. Describe it.)"

ImageLoader = Callable[[int, str], Awaitable[bytes | None]]


class VisionAgent:
    """Sends one image and the user's words to the vision model; returns its findings.

    ``timeout`` bounds each call (seconds); ``max_side`` is the longest side, in
    pixels, of what is sent; ``images`` opens every image within the size limit
    (the process's one :class:`SafeImages`, shared with the daily PDF).
    """

    source = SOURCE

    def __init__(
        self,
        model: OpenAIModel,
        *,
        images: SafeImages,
        timeout: float = 60.0,
        max_side: int = DEFAULT_MAX_SIDE,
    ) -> None:
        self.model = model
        self.images = images
        self.timeout = timeout
        self.max_side = max_side

    def refusal(self, image: bytes) -> str | None:
        """Why ``image`` will not be looked at (too large, not an image), from its header alone; None if it may be."""
        try:
            self.images.header(image)
        except ImageRejected as exc:
            return str(exc)
        return None

    async def handle(self, request: AgentRequest) -> AgentResult:
        """Look at ``request.image`` with ``request.text`` in mind. Never raises."""
        if not request.image:
            return failure(SOURCE, "there is no image to look at.")
        return await self.look(request.image, request.text)

    async def look(self, image: bytes, words: str) -> AgentResult:
        """The vision model's findings about ``image`` for the user's ``words``. Never raises."""
        try:
            prepared = await asyncio.to_thread(prepare_image, image, images=self.images, max_side=self.max_side)
        except ImageRejected as exc:
            return failure(SOURCE, str(exc))
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": VISION_PROMPT},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": words.strip() or NO_WORDS},
                    {"type": "image_url", "image_url": {"url": prepared.data_url}},
                ],
            },
        ]
        try:
            completion = await self.model.complete(messages, model=self.model.models.vision, timeout=self.timeout)
        except ModelError as exc:
            log.warning("vision agent failed: %s", exc)
            return failure(SOURCE, f"could not look at the image. {exc.user_message}")
        if not completion.text.strip():
            return failure(SOURCE, "the vision model returned nothing.", completion.usage)
        return AgentResult(SOURCE, completion.text.strip(), usage=completion.usage)


class LookAtImageTool(ToolBase):
    """Lets the main model look again at an image the user sent earlier.

    ``image_loader(user_id, reference)`` returns the stored image's bytes, or None
    when the user has no image with that reference.
    """

    name = "look_at_image"
    private = True  # loads any stored image of the speaker's by number: not in places other people read
    description = (
        "Look again at an image the user sent earlier in this conversation, with a question about it. "
        "Use the image's reference as it appears in the conversation."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "image": {"type": "string", "description": "The stored image's reference, as shown in the conversation."},
            "question": {"type": "string", "description": "What to look for or answer about the image."},
        },
        "required": ["image", "question"],
    }
    status = "Looking at the image…"

    def __init__(self, agent: VisionAgent, image_loader: ImageLoader) -> None:
        self.agent = agent
        self.image_loader = image_loader

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        reference = str(arguments.get("image") or "").strip()
        question = str(arguments.get("question") or "").strip()
        if not reference:
            raise ToolInputError("say which image to look at ('image').")
        data = await self.image_loader(context.user_id, reference)
        if data is None:
            raise ToolInputError(f"there is no stored image {reference!r} for this user.")
        result = await self.agent.look(data, question)
        return result.as_tool_result()
