"""``bulkretry merge``: one report from the shard folders of one manifest (the library half is
:mod:`bulkretry.run.merge`)."""

from __future__ import annotations

import argparse
from typing import TextIO

from bulkretry.cli.common import add_command, add_report_options, lang_of

MERGE_HELP = """\
Join the run folders of the shards of one manifest (each a `bulkretry run --shard I/N`) into one report:
report.csv, report.xlsx, report.json and report.html (the first shard's formats, or --format) and one
summary.json in --out, every row in manifest order with its own row number, as one run of the whole manifest
would have written them. Calls nothing; the shards' journals are only read.

Refused (exit 2, nothing written): a folder that is not a shard, shards of different manifests or actions, a
shard given twice or missing (named), a shard still running (its run holds the folder's lock) or stopped before
every row had a result (resume it first). Exit status as a run's: 0 every row succeeded or was skipped, 1 some
row failed, was invalid or interrupted, 3 a shard halted on a systematic failure.

examples:
  bulkretry merge runs/shard-0 runs/shard-1 runs/shard-2 --out runs/merged
  bulkretry merge runs/shard-* --out runs/merged --format csv,html
"""


def add_merge_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "merge", "one report from the shard folders of one manifest", MERGE_HELP)
    p.add_argument("shard_dirs", nargs="+", metavar="DIR", help="the run folder of each shard (--shard I/N)")
    p.add_argument("--out", required=True, metavar="DIR", help="where the merged report goes (a folder of its own)")
    add_report_options(p, "the first shard's")
    p.set_defaults(handler=_cmd_merge)


def _cmd_merge(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from pathlib import Path

    from bulkretry.cli.ending import summary_line
    from bulkretry.i18n import translation
    from bulkretry.i18n.messages import translate
    from bulkretry.i18n.times import Locale
    from bulkretry.report.common import run_action
    from bulkretry.run.merge import merge_runs

    lang = lang_of(args)
    result = merge_runs([Path(d) for d in args.shard_dirs], Path(args.out), args.format, Locale(lang, args.tz))
    _ = translation(lang).gettext
    shards = ", ".join(str(shard.shard) for shard in sorted(result.shards, key=lambda s: s.shard.index))
    merged = _("merged shards {shards} of {manifest} into {folder}")
    print(merged.format(shards=shards, manifest=result.summary.manifest, folder=result.out_dir), file=out)
    print(summary_line(result.summary, result.files, lang, run_action(result.summary), args.tz), file=out)
    if result.summary.halted:
        print(_("halted: {why}").format(why=translate(result.summary.halted, lang)), file=err)
    return result.exit_status
