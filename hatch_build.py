"""The package's long description: README.md with its relative links made absolute.

On a package index page a link such as ``docs/kubernetes.md`` or an image such as ``docs/images/x.png``
leads nowhere, so each one becomes a URL under ``[project.urls] Source`` (the one base URL): pages at
``<Source>/blob/main/<path>``, images at ``<Source>/raw/main/<path>``. The README in the checkout keeps
its relative links, which work on the repository's own page.
"""

from __future__ import annotations

import os
import re

from hatchling.metadata.plugin.interface import MetadataHookInterface

#: ``[text](target)`` and ``![alt](target)`` whose target is not a URL or an anchor of the page.
RELATIVE_LINK = re.compile(r"(?P<image>!?)\[(?P<text>[^\]]*)\]\((?P<target>(?![a-z][a-z0-9+.-]*:|#)[^)\s]+)\)")
BRANCH = "main"


def absolute_links(markdown: str, base: str) -> str:
    """``markdown`` with every relative link and image made absolute under ``base``."""
    base = base.rstrip("/")

    def absolute(match: re.Match) -> str:
        kind = "raw" if match["image"] else "blob"
        return f"{match['image']}[{match['text']}]({base}/{kind}/{BRANCH}/{match['target'].removeprefix('./')})"

    return RELATIVE_LINK.sub(absolute, markdown)


class ReadmeHook(MetadataHookInterface):
    PLUGIN_NAME = "custom"

    def update(self, metadata: dict) -> None:
        with open(os.path.join(self.root, "README.md"), encoding="utf-8") as readme:
            text = readme.read()
        metadata["readme"] = {
            "content-type": "text/markdown",
            "text": absolute_links(text, metadata["urls"]["Source"]),
        }
