"""Installs features: builds each against the context and plugs its declared parts in, in list order."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from core.features.context import FeatureContext
from core.features.unit import Feature, FeatureParts

log = logging.getLogger(__name__)


def install(context: FeatureContext, feature: Feature) -> FeatureParts:
    """Install one feature: its steps, tools, commands, settings fields and subscriptions, then its work."""
    parts = feature.install(context)
    for step in parts.before_model:
        context.pipeline.add_before_model(step)
    for after in parts.after_answer:
        context.pipeline.add_after_answer(after)
    for listener in parts.history_listeners:
        context.pipeline.add_history_listener(listener)
    for tool in parts.tools:
        context.tools.register(tool)
    for command in parts.commands:
        context.commands.add(command)
    if parts.settings:
        if context.settings is None:
            raise ValueError(f"the feature {feature.name} has settings fields but there is no settings registry")
        for field in parts.settings:
            context.settings.add(field)
    for subscription in parts.subscriptions:
        context.events.subscribe(subscription.kind, subscription.handler)
    for name, work in parts.tasks:
        context.tasks.spawn(name, work)
    for name, loop in parts.loops:
        context.tasks.spawn_loop(name, loop)
    log.debug("feature %s installed", feature.name)
    return parts


def install_all(context: FeatureContext, features: Iterable[Feature]) -> None:
    """Install ``features`` in order (a later one may build on an earlier one's command)."""
    for feature in features:
        install(context, feature)
