"""Agents: small specialists (vision, Wikipedia, web search, images) whose results go back, flagged, to the main model."""
