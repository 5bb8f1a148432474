"""Slack for alert groups (outbox handlers): the one living message, the page DMs, and the DMs' update once
somebody acknowledged.

The message is posted once. Whoever posts first marks the group (`message_ts = "posting:<time>"`), so two workers
or two replicas never both post; the post carries the group id as message metadata, so a worker that died after
Slack took the post is found out by the next one (it looks before posting again). After that every change is a
`chat.update` of the newest state: a sync renders, updates, records the version it showed, and renders again if
another change landed meanwhile (as the incident card does).
"""
from __future__ import annotations

import threading
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from bot.alerts.message import GroupView, fallback_text, load_group, message_blocks, page_dm_blocks, who
from bot.clock import Clock
from bot.db.engine import Database
from bot.db.models import AlertGroup, Page
from bot.paging.delivery import expand_targets
from bot.paging.steps import PAGING, mention
from bot.slack.gateway import CLOCK_SKEW, SlackError, SlackGateway
from bot.core.outbox import NotYet, post_for_item

MAX_ROUNDS = 5
METADATA = "sevbot_alert"
POSTING = "posting:"
# A worker that marked the group and then went silent this long is presumed dead: the next one looks, then posts.
POSTING_STALE = timedelta(seconds=30)


class AlertSlack:
    def __init__(self, db: Database, gateway: SlackGateway, clock: Clock) -> None:
        self.db = db
        self.gateway = gateway
        self.clock = clock
        self._locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)

    def sync(self, group_id: int) -> dict[str, Any]:
        """Outbox `alert_sync`: bring the group's message up to its newest version."""
        with self._locks[group_id]:
            for _ in range(MAX_ROUNDS):
                with self.db.reading() as session:  # outside SQLite's writer queue: a storm's pages need it
                    view = load_group(session, group_id)
                if view.channel_id is None:
                    return {"skipped": "no alert channel configured"}
                if view.message_synced_version >= view.message_version and view.message_ts and not view.message_ts.startswith(POSTING):
                    return {"version": view.message_synced_version}
                text, blocks = fallback_text(view), message_blocks(view, self.clock.now())
                if view.message_ts is None or view.message_ts.startswith(POSTING):
                    self._post_once(view, text, blocks)
                else:
                    self.gateway.update_message(view.channel_id, view.message_ts, text, blocks)
                with self.db.unit_of_work() as session:
                    session.execute(update(AlertGroup).where(AlertGroup.id == group_id,
                                                             AlertGroup.message_synced_version < view.message_version)
                                    .values(message_synced_version=view.message_version))
            return {"version": view.message_version}

    def _post_once(self, view: GroupView, text: str, blocks: list[dict[str, Any]]) -> None:
        assert view.channel_id is not None
        now = self.clock.now()
        mark = f"{POSTING}{now.timestamp():.3f}"
        stale = f"{POSTING}{(now - POSTING_STALE).timestamp():.3f}"
        with self.db.unit_of_work() as session:
            # Ours to post if nobody has, or if whoever marked it has been silent too long (lexical order of the
            # fixed-width marks is their time order).
            taken = session.execute(update(AlertGroup).where(
                AlertGroup.id == view.id,
                (AlertGroup.message_ts.is_(None)) | ((AlertGroup.message_ts.like(f"{POSTING}%")) & (AlertGroup.message_ts < stale)),
            ).values(message_ts=mark)).rowcount
        if not taken:
            raise NotYet()  # another worker is posting it right now: update once its ts is stored
        metadata = {"event_type": METADATA, "event_payload": {"group_id": view.id}}
        landed = None
        if view.message_ts is not None:  # a worker died mid-post: did its post land?
            landed = self.gateway.find_posted(view.channel_id, metadata, since=view.first_fired_at.timestamp() - CLOCK_SKEW)
        ts = landed or self.gateway.post_message(view.channel_id, text, blocks, metadata=metadata)
        with self.db.unit_of_work() as session:
            session.execute(update(AlertGroup).where(AlertGroup.id == view.id, AlertGroup.message_ts == mark)
                            .values(message_ts=ts))
        if landed is not None:
            self.gateway.update_message(view.channel_id, ts, text, blocks)

    def deliver_page(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Outbox `alert_page_dm`: DM the tier (groups expanded) with an Acknowledge button. The DMs are kept on the
        page so an acknowledgement can update them all."""
        group_id, page_id = int(payload["group_id"]), int(payload["page_id"])
        with self.db.reading() as session:
            view = load_group(session, group_id)
            page = session.get_one(Page, page_id)
            still_paging = page.state == PAGING
            dms_before = list(page.context.get("dms", []))
        if not still_paging:
            return {"skipped": "acknowledged or stopped before delivery"}
        people, failed = expand_targets(self.gateway, payload["targets"])
        text, blocks = page_dm_blocks(view, tier=int(payload["tier"]), timeout_s=float(payload["timeout_s"]))
        step = [int(payload["round"]), int(payload["tier"])]
        # A retry (Slack said "slow down" part-way) skips the people this step already reached.
        reached = {dm[0] for dm in dms_before if dm[3:5] == step}
        sent: list[list[Any]] = []
        slowed: SlackError | None = None
        for person in people:
            if person in reached:
                continue
            try:
                dm = post_for_item(self.gateway, payload, person, text, blocks)  # a retry after a crash adopts what landed
                sent.append([person, dm["channel"], dm["ts"], *step])
            except SlackError as exc:
                if exc.rate_limited:
                    slowed = exc
                    break
                failed.append((person, exc.code))
        with self.db.unit_of_work() as session:
            page = session.get_one(Page, page_id)
            page.context = {**page.context, "dms": [*page.context.get("dms", []), *sent]}
            acked_meanwhile = page.state != PAGING
        if slowed is not None:
            raise slowed  # the outbox waits as long as Slack asked, then this resumes with the rest
        if acked_meanwhile:
            self.update_dms({"group_id": group_id, "page_id": page_id})
        if failed and view.channel_id:
            # Once per step, in the alert's thread: a retry finds the warning it already posted there.
            post_for_item(self.gateway, payload, view.channel_id, ":warning: Could not page " + ", ".join(
                f"{mention(p)} ({code})" for p, code in failed) + ": page them another way.", thread_ts=_thread(view))
        return {"delivered": [dm[0] for dm in sent], "failed": failed}

    def update_dms(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Outbox `alert_dm_update`: the page's DMs lose their button and say who acknowledged (or why it stopped)."""
        group_id, page_id = int(payload["group_id"]), int(payload["page_id"])
        with self.db.unit_of_work() as session:
            view = load_group(session, group_id)
            page = session.get_one(Page, page_id)
            dms = list(page.context.get("dms", []))
            line = (f":white_check_mark: Acknowledged by {who(page.acked_by)}" if page.acked_by
                    else f"Paging stopped ({page.state}).")
            tier, timeout = page.tier + 1, page.policy["tiers"][page.tier]["ack_timeout_s"]
        text, blocks = page_dm_blocks(view, tier=tier, timeout_s=timeout, acked_line=line)
        for _person, channel, ts, *_step in dms:
            try:
                self.gateway.update_message(channel, ts, text, blocks)
            except SlackError as exc:
                if exc.code not in ("message_not_found", "cant_update_message", "channel_not_found"):
                    raise
        return {"updated": len(dms)}


def _thread(view: GroupView) -> str | None:
    return view.message_ts if view.message_ts and not view.message_ts.startswith(POSTING) else None
