"""The OMS service as bulkretry speaks to it: one call at a time, signed or token-authenticated, with typed
answers and no retry policy of its own.

- :mod:`~bulkretry.oms.client`: ``OmsClient`` (retry, show and list task groups) over one aiohttp session.
- :mod:`~bulkretry.oms.auth`: authenticators (AK/SK signing, a given token, an IAM password token).
- :mod:`~bulkretry.oms.signer`: ``SDK-HMAC-SHA256`` signing, as the official SDK signs.
- :mod:`~bulkretry.oms.credentials`: credential records and where they come from.
- :mod:`~bulkretry.oms.errorbody`: error bodies in every spelling the SDK reads; one-line texts.
- :mod:`~bulkretry.oms.codes`: what an error code means and what to do about it.
- :mod:`~bulkretry.oms.status`: task group statuses by number.

Nothing is imported here, so a module that needs only the statuses does not load aiohttp.
"""
