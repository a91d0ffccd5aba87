"""The Slack adapter: slack-bolt (async) in Socket Mode or HTTP mode, through the shared renderer."""

from adapters.slack.service import SlackService
from adapters.slack.workspace import SlackRateLimits

__all__ = ["SlackRateLimits", "SlackService"]
