"""Other assistants' history brought in (``captainslog import-chatgpt``)."""
