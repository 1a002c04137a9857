"""Which adapter serves which platform. The only code that names adapters."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # adapters (and what they import) load when a platform is looked up
    from contenthub.platforms.base import Publisher

_BUILT_IN = {
    "local": "contenthub.platforms.local:LocalPublisher",
    "zhihu": "contenthub.platforms.zhihu:ZhihuPublisher",
    "wordpress": "contenthub.platforms.wordpress:WordPressPublisher",
    "devto": "contenthub.platforms.devto:DevToPublisher",
    "juejin": "contenthub.platforms.juejin:JuejinPublisher",
    "wechat": "contenthub.platforms.wechat:WeChatPublisher",
    "csdn": "contenthub.platforms.csdn:CsdnPublisher",
    "toutiao": "contenthub.platforms.toutiao:ToutiaoPublisher",
    "metaweblog": "contenthub.platforms.metaweblog:MetaWeblogPublisher",
    "gitsite": "contenthub.platforms.gitsite:GitSitePublisher",
    "ghost": "contenthub.platforms.ghost:GhostPublisher",
    "yuque": "contenthub.platforms.yuque:YuquePublisher",
    "segmentfault": "contenthub.platforms.segmentfault:SegmentFaultPublisher",
    "jianshu": "contenthub.platforms.jianshu:JianshuPublisher",
    "bilibili": "contenthub.platforms.bilibili:BilibiliPublisher",
}
PLUGINS_SETTING = "CONTENTHUB_PLATFORM_MODULES"
_registered: dict[str, type[Publisher]] = {}
_not_yet_loaded: list[str] = []


def register(cls: type[Publisher]) -> type[Publisher]:
    """Class decorator for adapters that live outside this package (plugins, benchmarks)."""
    _registered[cls.platform] = cls
    return cls


def load_modules(modules: Iterable[str], *, when_needed: bool = False) -> None:
    """Import plugin modules, whose adapters register themselves. ``when_needed``: at the
    first lookup of a platform instead, so a command that never looks one up (listing
    tasks, say) never pays for importing adapters."""
    _not_yet_loaded.extend(modules)
    if not when_needed:
        _load_plugins()


def _load_plugins() -> None:
    while _not_yet_loaded:
        module = _not_yet_loaded[0]  # one that fails is tried again next time
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise SystemExit(f"{PLUGINS_SETTING}: cannot import {module!r}: {error}") from None
        _not_yet_loaded.pop(0)


def known_platforms() -> list[str]:
    _load_plugins()
    return sorted({*_BUILT_IN, *_registered})


def built_in_platforms() -> list[str]:
    """The platforms this package ships (without plugins loaded into this process)."""
    return sorted(_BUILT_IN)


def publisher_for(platform: str) -> Publisher:
    _load_plugins()
    if platform in _registered:
        return _registered[platform]()
    target = _BUILT_IN.get(platform)
    if target is None:
        raise LookupError(f"no adapter for platform {platform!r}")
    module, name = target.split(":")
    cls: type[Publisher] = getattr(importlib.import_module(module), name)
    return cls()
