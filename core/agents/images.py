"""The ``make_image`` tool: the model draws a picture when the user asks for one in conversation."""

from __future__ import annotations

import logging
from typing import Any

from core.agents.base import AgentResult, failure
from core.llm import ModelError, OpenAIModel
from core.tools.registry import ToolBase, ToolContext, ToolInputError, ToolResult
from core.types import OutgoingFile

log = logging.getLogger(__name__)

SOURCE = "image tool"
MAX_PROMPT = 4000


class MakeImageTool(ToolBase):
    """Makes one image with the image model; the file is posted with the answer.

    The images endpoint's usage is not reported through ``OpenAIModel.generate_image``,
    so results carry no usage.
    """

    name = "make_image"
    description = (
        "Make a picture from a description when the user asks for an image, drawing, photo or illustration. "
        "The picture is posted to the user with your answer."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "prompt": {"type": "string", "description": "A detailed description of the picture to make."},
        },
        "required": ["prompt"],
    }
    status = "Drawing the picture…"

    quota = "images"  # each call counts against the user's daily images (core.limits, checked by the tool loop)

    def __init__(self, model: OpenAIModel, *, size: str = "1024x1024") -> None:
        self.model = model
        self.size = size

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        prompt = str(arguments.get("prompt") or "").strip()
        if not prompt:
            raise ToolInputError("describe the picture to make ('prompt').")
        if len(prompt) > MAX_PROMPT:
            raise ToolInputError(f"the description is too long ({len(prompt)} characters; at most {MAX_PROMPT}).")
        try:
            data = await self.model.generate_image(prompt, size=self.size)
        except ModelError as exc:
            log.warning("image tool failed: %s", exc)
            return failure(SOURCE, f"no picture was made. {exc.user_message}").as_tool_result()
        picture = OutgoingFile("image.png", "image/png", data, description=prompt[:200])
        result = AgentResult(SOURCE, "The picture was made and is posted to the user with your answer.")
        return result.as_tool_result(files=(picture,))
