"""A run's ending as a notification, in the run's language, sent to every ``--notify`` target: the one place the
CLI calls once a run has ended, whatever the ending."""

from __future__ import annotations

from collections.abc import Sequence

from bulkretry.i18n import DEFAULT_LANG, translation
from bulkretry.i18n.messages import translate
from bulkretry.i18n.times import Locale, local_zone
from bulkretry.notify.message import Ending, render
from bulkretry.notify.send import DEFAULT_BUDGET, Target, send_notifications, signer_for
from bulkretry.oms.auth import Authenticator
from bulkretry.oms.network import Network
from bulkretry.report.charts import outcome_label

__all__ = ["notify_ending"]


def notify_ending(
    targets: Sequence[Target],
    ending: Ending,
    *,
    locale: Locale,
    network: Network,
    auth: Authenticator | None,
    budget: float = DEFAULT_BUDGET,
) -> list[str]:
    """Send *ending* to *targets* in *locale*'s language, its times in its zone (``smn://`` targets signed with
    *auth*), all within *budget* seconds; the warnings, one per target not reached, never an exception."""
    lang = locale.lang
    message = render(
        ending,
        gettext=translation(lang).gettext,
        outcome_name=(lambda k: k) if lang == DEFAULT_LANG else (lambda k: outcome_label(k, lang)),
        tz=locale.tz or local_zone(),
        message=lambda text: translate(text, lang),
    )
    return send_notifications(
        targets,
        message,
        network=network,
        failed=ending.failed,
        sign=signer_for(auth, network) if auth is not None else None,
        budget=budget,
    )
