"""A person's data out (``captainslog export-data``, ``/export-data``) and other assistants' history in."""
