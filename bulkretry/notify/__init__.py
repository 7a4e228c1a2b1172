"""Notifications at the end of a run (``--notify``): the text (:mod:`.message`), the sending through Apprise
(:mod:`.send`) and Huawei Cloud SMN as an Apprise plugin (:mod:`.smn`)."""

from __future__ import annotations
