"""Feature units: each capability declares what it adds and installs against one narrow context."""

from core.features.context import FeatureContext, SettingsFields, Speak
from core.features.host import install, install_all
from core.features.unit import Feature, FeatureParts, Subscription

__all__ = [
    "Feature",
    "FeatureContext",
    "FeatureParts",
    "SettingsFields",
    "Speak",
    "Subscription",
    "install",
    "install_all",
]
