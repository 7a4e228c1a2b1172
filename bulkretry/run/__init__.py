"""A run: from a manifest to journalled results and reports.

- :mod:`~bulkretry.run.job`: a whole run after the manifest is read, to its ending and exit status (``run_job``).
- :mod:`~bulkretry.run.runner`: one session of a run, step by step (execute, finish, rebuild the reports).
- :mod:`~bulkretry.run.settings`: ``RunSettings`` as value objects, and a rerun's settings merged from the
  earlier run's.
- :mod:`~bulkretry.run.engine`: fans the calls out under a pacer and a concurrency cap, one result per row.
- :mod:`~bulkretry.run.pacing` and :mod:`~bulkretry.run.adaptive`: send slots at an exact or a learnt rate.
- :mod:`~bulkretry.run.policy`: what is worth another attempt, and how long to wait.
- :mod:`~bulkretry.run.journal`: the SQLite journal, the truth every report is made from.
- :mod:`~bulkretry.run.rundir` and :mod:`~bulkretry.run.runlock`: the run folder and its lock.
- :mod:`~bulkretry.run.rerun`: which rows of an earlier run a rerun takes.

Nothing is imported here, so ``bulkretry --help`` stays quick.
"""
