"""The demo's report: pure summaries of what the worker did, and how it did."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from worker.metrics import AccountSummary
from worker.tasks import Task
from worker.tiers import Tier, day_iso, day_start


@dataclass(frozen=True)
class LabelScore:
    """How drop alerts line up with dropout labels among ever-Power users."""

    ever_power: int
    dropouts: int
    alerted: int
    alerted_dropouts: int
    lead_days: list[float]

    @property
    def base_rate(self) -> float:
        """Share of ever-Power users who dropped out."""
        return self.dropouts / self.ever_power if self.ever_power else 0.0

    @property
    def precision(self) -> float:
        """Share of alerted users who dropped out."""
        return self.alerted_dropouts / self.alerted if self.alerted else 0.0

    @property
    def recall(self) -> float:
        """Share of ever-Power dropouts that were alerted."""
        return self.alerted_dropouts / self.dropouts if self.dropouts else 0.0


def score_labels(
    tasks: Sequence[Task],
    labels: Mapping[str, int],
    ever_power: Iterable[str],
    window_end: int,
) -> LabelScore:
    """Compare the users alerted for a drop with the data set's labels.

    `window_end` is the last observed day; lead time is measured from each
    user's first alert to the end of that day.
    """
    power = {u for u in ever_power if u in labels}
    first_alert: dict[str, datetime] = {}
    for task in sorted(tasks, key=lambda t: t.opened_at):
        if task.user_id in power:
            first_alert.setdefault(task.user_id, task.opened_at)
    dropouts = {u for u in power if labels[u] == 1}
    end = day_start(window_end + 1)
    return LabelScore(
        ever_power=len(power),
        dropouts=len(dropouts),
        alerted=len(first_alert),
        alerted_dropouts=len(dropouts & first_alert.keys()),
        lead_days=[
            (end - at).total_seconds() / 86_400
            for u, at in first_alert.items()
            if u in dropouts
        ],
    )


def read_tasks(lines: Iterable[bytes]) -> list[Task]:
    """Parse task records as read back from the touchpoints topic."""
    return [Task.model_validate(json.loads(line)) for line in lines]


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def account_lines(summary: AccountSummary) -> list[str]:
    """One account's metrics as a few lines of text."""
    month, counts = summary.month, summary.tiers
    shares = ", ".join(
        f"{t.label} {counts.get(t, 0)}"
        for t in (Tier.POWER, Tier.ACTIVE, Tier.PASSIVE, Tier.NONE)
    )
    target = "meets" if summary.meets_active_target else "below"
    return [
        f"Account {summary.account} on {day_iso(month.day)}",
        f"  users by window tier: {shares}",
        f"  DAU {month.dau}, MAU {month.mau}, average DAU {month.average_dau:.1f}, "
        f"DAU/MAU {_pct(month.stickiness)}",
        f"  Active or Power: {_pct(summary.active_share)} of MAU "
        f"({target} the 40% target)",
    ]


def render(
    *,
    source: str,
    counters: Mapping[str, int],
    published: int,
    accounts: Sequence[AccountSummary],
    tasks: Sequence[Task],
    score: LabelScore | None,
    tasks_file: str,
) -> str:
    """The report as text."""
    lines = [f"Pulse demo — {source}", ""]
    lines += [
        "Events",
        f"  published   {published:>9,}",
        f"  accepted    {counters.get('accepted', 0):>9,}",
        f"  duplicates  {counters.get('duplicate', 0):>9,}",
        f"  rejected    {counters.get('rejected', 0):>9,}  (to the dead-letter topic)",
        f"  ignored     {counters.get('ignored', 0):>9,}  (no rule gives them a tier)",
        "",
    ]
    for summary in sorted(accounts, key=lambda a: a.account):
        lines += account_lines(summary)
    lines += ["", f"Touchpoints opened: {len(tasks)}  (all written to {tasks_file})"]
    by_kind = Counter(t.kind.value for t in tasks)
    for kind, count in sorted(by_kind.items()):
        lines.append(f"  {kind:<18} {count:>6}")
        examples = [t for t in tasks if t.kind.value == kind][:3]
        lines += [
            f"    e.g. {t.summary} Due {t.due_at:%Y-%m-%d %H:%M} UTC." for t in examples
        ]
    if score is not None:
        lines += ["", *_score_lines(score)]
    return "\n".join(lines)


def _score_lines(score: LabelScore) -> list[str]:
    lead = (
        f"median {statistics.median(score.lead_days):.1f} days, "
        f"range {min(score.lead_days):.1f}-{max(score.lead_days):.1f}"
        if score.lead_days
        else "n/a"
    )
    return [
        "Against the dropout labels (users ever in the Power tier)",
        f"  ever-Power users            {score.ever_power:>6}",
        f"  of whom dropped out         {score.dropouts:>6}  "
        f"(base rate {_pct(score.base_rate)})",
        f"  alerted for a drop          {score.alerted:>6}",
        f"  alerted and dropped out     {score.alerted_dropouts:>6}  "
        f"(precision {_pct(score.precision)}, recall {_pct(score.recall)})",
        f"  alert lead before window end: {lead}",
    ]
