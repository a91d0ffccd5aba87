"""Attachments in and out: images prepared for the vision model, voice transcribed and spoken."""
