"""The App Home tab over signed HTTP against the simulator: `app_home_opened` publishes the person's tab (Block Kit
checked by the simulator), it lists the open incidents with the person's role and their unacknowledged pages, its
Acknowledge buttons (incident page and alert page) work from the tab, its Declare incident button opens the declare
form, and a burst of events and changes publishes a bounded number of times."""
from __future__ import annotations

import time
from typing import Any

from sqlalchemy import update

from bot.db.models import Incident, Page
from bot.ids import ActionId, CallbackId, DeclareBlock
from bot.slack_sim.blockkit import validate_view
from bot.slack_sim.state import View
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.home.refresh import HomeRefresher
from bot.home.viewers import ViewerStore
from bot.settings import load_settings
from commands.clicks import Click
from tests.alerts_harness import am_payload, post_alert
from tests.harness import Bot, wait_for


# ---- helpers -----------------------------------------------------------------------------------------------------

def publishes(bot: Bot, user: str) -> list[dict[str, Any]]:
    """The views.publish calls the bot made for `user` (Slack answered ok)."""
    return [c.args for c in bot.sim.calls_to("views.publish") if c.args.get("user_id") == user]


def open_home(bot: Bot, user: str, after: int | None = None, timeout: float = 10.0) -> View:
    """Open the Home tab as `user` and wait for the publish it causes (the one after the `after`-th)."""
    before = len(publishes(bot, user)) if after is None else after
    response = bot.slack.app_home_opened(user)
    assert response.status == 200, response.text
    wait_for(lambda: len(publishes(bot, user)) > before, timeout, f"the Home tab of {user} published")
    home = bot.slack.home_view(user)
    assert home is not None
    return home


def text_of(view: View) -> str:
    return str(view.view["blocks"])


def section(view: View, block_id: str) -> str:
    block = next((b for b in view.view["blocks"] if b.get("block_id") == block_id), None)
    assert block is not None, f"no block {block_id} on the Home tab: {[b.get('block_id') for b in view.view['blocks']]}"
    return str(block["text"]["text"])


def action_ids(view: View) -> list[str]:
    ids = []
    for block in view.view["blocks"]:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if isinstance(element, dict) and element.get("action_id"):
                ids.append(element["action_id"])
    return ids


def declare(bot: Bot, user: str, text: str) -> int:
    before = len(bot.incidents())
    response = bot.slack.slash_command(user, f"declare {text}")
    assert response.status == 200, response.text
    incident = wait_for(lambda: len(bot.incidents()) > before and bot.incidents()[-1], what="the incident recorded")
    return int(incident.id)


# ---- the tab -----------------------------------------------------------------------------------------------------

def test_opening_the_tab_publishes_open_incidents_by_severity_with_your_role(alert_bot: Bot) -> None:
    bot = alert_bot
    low = declare(bot, "U0IC", "sev3 Slow dashboard exports")
    high = declare(bot, "U0EXEC", "sev2 Search results are stale")
    closed = declare(bot, "U0IC", "sev3 Old typo on the status page")
    for incident_id in (low, high, closed):
        bot.wait_provisioned(incident_id)
    with bot.db.unit_of_work() as session:
        session.execute(update(Incident).where(Incident.id == closed).values(status=bot.runtime.deps.config.closed_status))
    bot.settled()

    home = open_home(bot, "U0IC")
    assert validate_view(home.view) == []
    assert bot.sim.violations == []
    assert home.view["type"] == "home"
    assert len(publishes(bot, "U0IC")) == 1
    blocks = [b.get("block_id") for b in home.view["blocks"]]
    # Open incidents, highest severity first; the closed one is not listed.
    assert blocks.index(f"home_incident_{high}") < blocks.index(f"home_incident_{low}")
    assert f"home_incident_{closed}" not in blocks
    assert "Your role: *Incident Commander*" in section(home, f"home_incident_{low}")
    assert "No role for you" in section(home, f"home_incident_{high}")
    assert "Search results are stale" in section(home, f"home_incident_{high}")
    # On call: tier 1 of the escalation policy, labelled as such (no schedules exist).
    assert "tier 1 of each escalation policy" in text_of(home) and "<!subteam^S0ONCALL>" in text_of(home)
    assert ActionId.HOME_DECLARE in action_ids(home)
    # Only the person who opened the tab had one published.
    assert publishes(bot, "U0L1") == []


def test_messages_tab_publishes_nothing(alert_bot: Bot) -> None:
    bot = alert_bot
    assert bot.slack.app_home_opened("U0L1", tab="messages").status == 200
    open_home(bot, "U0L2")  # the bot answered events after it; the Messages tab still has nothing published
    assert publishes(bot, "U0L1") == []


# ---- Acknowledge from the tab ------------------------------------------------------------------------------------

def test_an_incident_page_is_acknowledged_from_the_home_tab(alert_bot: Bot) -> None:
    bot = alert_bot
    incident_id = declare(bot, "U0IC", "sev1 Checkout failing for everyone")
    page = wait_for(lambda: next((p for p in _pages(bot) if p.incident_id == incident_id), None), what="the page")
    bot.settled()
    home = open_home(bot, "U0L1")  # U0L1 is in S0ONCALL, tier 1
    assert f"home_page_{page.id}" in [b.get("block_id") for b in home.view["blocks"]]
    assert ActionId.PAGE_ACK in action_ids(home)
    # Ines is not in tier 1: nothing is waiting for her acknowledgement.
    assert ActionId.PAGE_ACK not in action_ids(open_home(bot, "U0IC"))

    count = len(publishes(bot, "U0L1"))
    response = bot.slack.click_home("U0L1", ActionId.PAGE_ACK, block_id=f"home_page_{page.id}")
    assert response.status == 200, response.text
    acked = wait_for(lambda: next((p for p in _pages(bot) if p.id == page.id and p.state == "acked"), None), what="the page acknowledged")
    assert acked.acked_by == "U0L1"
    # The answer is shown on the tab (a Home tab click has no response_url), and the button is gone.
    after = wait_for(lambda: len(publishes(bot, "U0L1")) > count and "home_notice" in text_of(bot.slack.home_view("U0L1"))
                     and bot.slack.home_view("U0L1"), timeout=15, what="the tab showing the answer")
    assert "Acknowledged INC-" in section(after, "home_notice")
    assert ActionId.PAGE_ACK not in action_ids(after)


def test_an_alert_page_is_acknowledged_from_the_home_tab_but_not_from_a_modal(alert_bot: Bot) -> None:
    bot = alert_bot
    reply = post_alert(bot.runtime.url, "am", am_payload())
    assert reply.status == 200, reply.body
    page = wait_for(lambda: next((p for p in _pages(bot) if p.alert_group_id is not None), None), what="the alert page")
    bot.settled()
    home = open_home(bot, "U0L2")  # U0L2 is in S0ONCALL, tier 1
    assert ActionId.ALERT_ACK in action_ids(home)
    # The same button value sent from a modal's view container is refused: that is not the Home tab.
    modal_body = {"type": "block_actions", "user": {"id": "U0L2"}, "container": {"type": "view", "view_id": "V1"},
                  "view": {"type": "modal", "id": "V1"}, "trigger_id": "t", "actions": [{"action_id": ActionId.ALERT_ACK, "value": "1"}]}
    assert Click.of(modal_body).from_home is False
    assert Click.of({**modal_body, "view": {"type": "home", "id": "V1"}}).from_home is True

    response = bot.slack.click_home("U0L2", ActionId.ALERT_ACK, block_id=f"home_page_{page.id}")
    assert response.status == 200, response.text
    acked = wait_for(lambda: next((p for p in _pages(bot) if p.id == page.id and p.state == "acked"), None), what="the alert acknowledged")
    assert acked.acked_by == "U0L2"
    wait_for(lambda: "home_notice" in text_of(bot.slack.home_view("U0L2")), timeout=15, what="the answer on the tab")
    assert "Acknowledged" in section(bot.slack.home_view("U0L2"), "home_notice")  # type: ignore[arg-type]


def test_on_the_critical_path_the_escalation_contact_sees_the_page_too(alert_bot: Bot) -> None:
    bot = alert_bot
    incident_id = declare(bot, "U0EXEC", "sev0 Payments are down")
    page = wait_for(lambda: next((p for p in _pages(bot) if p.incident_id == incident_id), None), what="the page")
    bot.settled()
    # SEV0 pages tier 1 and the escalation contact (Ines) at once: her tab has the button; Erin's doesn't.
    assert f"home_page_{page.id}" in [b.get("block_id") for b in open_home(bot, "U0IC").view["blocks"]]
    assert ActionId.PAGE_ACK not in action_ids(open_home(bot, "U0EXEC"))


# ---- Declare ---------------------------------------------------------------------------------------------------

def test_the_declare_button_opens_the_declare_form(alert_bot: Bot) -> None:
    bot = alert_bot
    open_home(bot, "U0L2")
    response = bot.slack.click_home("U0L2", ActionId.HOME_DECLARE)
    assert response.status == 200, response.text
    view = wait_for(lambda: next((v for v in bot.sim.workspace.views.values()
                                  if v.view.get("callback_id") == CallbackId.DECLARE_MODAL and v.user_id == "U0L2"), None),
                    what="the declare form open")
    assert not view.closed
    # Submitting it declares, and the declarer's tab is redrawn by itself to list the incident with their role.
    values = {DeclareBlock.TITLE: {ActionId.DECLARE_TITLE: "Login times out"}, DeclareBlock.SEVERITY: {ActionId.DECLARE_SEVERITY: "sev3"},
              DeclareBlock.SCOPE: {ActionId.DECLARE_SCOPE: "one"}}
    submitted = bot.slack.submit_view("U0L2", view.id, values)
    assert submitted.status == 200 and not submitted.text.strip(), submitted.text
    incident = bot.wait_provisioned(1)
    assert incident.origin_channel_id is None
    wait_for(lambda: "home_incident_1" in text_of(bot.slack.home_view("U0L2")), timeout=15,  # type: ignore[arg-type]
             what="the new incident on the tab")
    assert "Your role: *Incident Commander*" in section(bot.slack.home_view("U0L2"), "home_incident_1")  # type: ignore[arg-type]


# ---- bounded rate ------------------------------------------------------------------------------------------------

def test_a_burst_of_opens_and_changes_publishes_a_bounded_number_of_times(alert_bot: Bot) -> None:
    bot = alert_bot
    interval = bot.runtime.core.home.interval  # type: ignore[union-attr]
    started = time.monotonic()
    for _ in range(15):
        assert bot.slack.app_home_opened("U0L1").status == 200
    ids = [declare(bot, "U0IC", f"sev3 Burst incident {n}") for n in range(6)]
    for _ in range(15):
        assert bot.slack.app_home_opened("U0L1").status == 200
    # The tab catches up with every change…
    wait_for(lambda: all(f"home_incident_{i}" in text_of(bot.slack.home_view("U0L1")) for i in ids)  # type: ignore[arg-type]
             and len(publishes(bot, "U0L1")) > 0, timeout=30, what="the tab listing every incident")
    time.sleep(interval + 1)  # …and a publish still owed lands
    elapsed = time.monotonic() - started
    count = len(publishes(bot, "U0L1"))
    # …but with at most one publish per interval (plus the first), not one per event or per commit (36 of them).
    assert 1 <= count <= 1 + int(elapsed // interval) + 1, (count, elapsed)
    assert count < 10
    assert bot.sim.violations == []


def _pages(bot: Bot) -> list[Page]:
    with bot.db.unit_of_work() as session:
        return list(session.query(Page).order_by(Page.id))


def test_the_refresher_coalesces_skips_repeats_and_shows_answers(database_url: str) -> None:
    """The refresher on its own, synchronously (`run_later` runs the work at once), on each backend."""
    published: list[tuple[str, dict[str, Any]]] = []
    state = {"version": 0}

    def render(user: str, notice: str | None) -> dict[str, Any]:
        return {"type": "home", "blocks": [{"v": state["version"], "notice": notice}]}

    url = load_settings(database_url=database_url).database_url
    upgrade(url)
    db = Database(url)
    refresher = HomeRefresher(ViewerStore(db), render, lambda user, view: published.append((user, view)),
                              lambda work, *args: work(*args), interval=0.3)
    try:
        refresher.opened("U1", shown=False)
        assert len(published) == 1  # the first open publishes at once
        for _ in range(20):
            refresher.changed()
        # The owed run comes at ~0.3 s and restarts the interval (even unsent); 1 s leaves a loaded box room for both.
        time.sleep(1.0)
        assert len(published) == 1  # nothing changed: the publish owed was the same view, so it was not sent
        state["version"] = 1
        refresher.changed()
        assert len(published) == 2  # the interval since the last publish is over: at once
        started = time.monotonic()
        state["version"] = 2
        for _ in range(20):
            refresher.changed()
            refresher.changed(["U2"])  # never opened the tab: nothing to refresh
        assert len(published) == 2  # held back…
        wait_for(lambda: len(published) == 3, timeout=2, what="one publish for twenty changes")
        assert time.monotonic() - started >= 0.25  # …to one interval after the last publish
        time.sleep(0.5)
        assert len(published) == 3 and {user for user, _ in published} == {"U1"}
        assert published[-1][1]["blocks"][0]["v"] == 2
        refresher.answer("U1", "done")
        wait_for(lambda: len(published) == 4, timeout=2, what="the answer published")
        assert published[-1][1]["blocks"][0]["notice"] == "done"
    finally:
        refresher.stop()
        db.dispose()


def test_viewers_not_seen_for_keep_are_neither_refreshed_nor_kept(database_url: str) -> None:
    """The viewers are rows every replica shares; one not seen for `keep` (12 h) gets no publish and is forgotten,
    and past `max_viewers` the least recently seen go first."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import select

    from bot.db.models import HomeViewer

    published: list[str] = []
    at = {"now": datetime.now(timezone.utc) - timedelta(hours=13)}
    url = load_settings(database_url=database_url).database_url
    upgrade(url)
    db = Database(url)
    refresher = HomeRefresher(ViewerStore(db), lambda user, notice: {"type": "home", "blocks": [{"at": str(at["now"])}]},
                              lambda user, view: published.append(user), lambda work, *args: work(*args),
                              interval=0.0, max_viewers=2, now=lambda: at["now"])
    try:
        refresher.opened("UOLD", shown=False)
        at["now"] += timedelta(hours=13)
        for user in ("U1", "U2", "U3"):
            refresher.opened(user, shown=False)
            at["now"] += timedelta(seconds=1)
        assert published == ["UOLD", "U1", "U2", "U3"]
        refresher.changed()
        assert sorted(published[4:]) == ["U1", "U2", "U3"]  # not UOLD: 13 h since they opened the tab
        ViewerStore(db).forget(at["now"] - timedelta(hours=12), 2)
        with db.reading() as session:
            assert sorted(session.scalars(select(HomeViewer.user_id))) == ["U2", "U3"]
    finally:
        refresher.stop()
        db.dispose()
