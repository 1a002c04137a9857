"""contenthub stats: outcomes per platform and account over a time range."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from contenthub.cli.context import (
    DEFAULT_USER,
    JsonOption,
    TimezoneOption,
    UserOption,
    _account_ids,
    _cli_time,
    _iso,
    open_as,
    out,
    print_counts,
)
from contenthub.clock import utcnow, zone_named
from contenthub.services import stats as stats_service

commands = typer.Typer()  # `contenthub stats`, at the root


@commands.command()
def stats(
    since: Annotated[
        str | None, typer.Option(help="Start of the range (default: 7 days ago).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="End of the range (default: now).")] = None,
    platform: Annotated[str | None, typer.Option(help="Only this platform.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account (id or name).")] = None,
    timezone: TimezoneOption = None,
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """Your tasks by status now, and per platform and account over a time range."""
    db, me = open_as(user)
    zone = zone_named(timezone)
    start, end = _cli_time(since, "since", zone), _cli_time(until, "until", zone)
    account_ids = _account_ids(db, [account] if account else None, me.user_id)
    account_id = account_ids[0] if account_ids else None

    def work(s: Any) -> tuple[dict[str, int], dict[str, Any]]:
        report = stats_service.stats_report(
            s,
            scope=me.scope,
            since=start,
            until=end,
            now=utcnow(),
            platform=platform,
            account_id=account_id,
        )
        return stats_service.status_counts(s, scope=me.scope), report

    counts, report = db.read(work)
    if as_json:
        out.print_json(json.dumps({"by_status_now": counts, **report}, default=_iso))
        return
    print_counts(dict(sorted(counts.items())), "tasks")
    _print_report(report)


def _print_report(report: dict[str, Any]) -> None:
    out.print(
        f"ended between {report['since']:%Y-%m-%d %H:%M} and {report['until']:%Y-%m-%d %H:%M} UTC"
    )
    table = Table("platform / account", *stats_service.ENDED, "success", "p50 s", "p95 s")
    groups = [("all", report["overall"])]
    for platform in report["platforms"]:
        groups.append((platform["platform"], platform))
        groups += [
            (f"  {account['account_name']}", account)
            for account in report["accounts"]
            if account["platform"] == platform["platform"]
        ]
    for label, g in groups:
        rate = "" if g["success_rate"] is None else f"{g['success_rate']:.0%}"
        table.add_row(
            label,
            *(str(g["by_status"][status]) for status in stats_service.ENDED),
            rate,
            str(g["duration_p50_seconds"] or ""),
            str(g["duration_p95_seconds"] or ""),
        )
    out.print(table)
    for reason in report["overall"]["failure_reasons"]:
        out.print(f"  {reason['count']:>5} × {reason['reason']}", highlight=False)
    queue = report["queue"]
    waited = queue["oldest_wait_seconds"]
    out.print(
        f"queue: {queue['depth']} waiting" + (f", oldest for {waited:.0f} s" if waited else "")
    )
