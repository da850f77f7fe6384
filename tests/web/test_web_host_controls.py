"""What a host does from the meeting page, and what the others see: a poll created in the Polls
panel and voted on by clicking an option, a participant kicked from the Participants panel, and
"End meeting for all" from the leave menu."""

from __future__ import annotations

import asyncio
from typing import Any

from web_helpers import open_meeting, open_panel, wait_participants

# JS: the options of the poll `question` as the Polls panel shows them: [text, shown count].
POLL_OPTIONS = """(question) => {
  const poll = [...document.querySelectorAll('rtk-polls li.rtk-poll')]
    .find((li) => li.querySelector('h4').textContent === question);
  if (!poll) return null;
  return [...poll.querySelectorAll('.rtk-poll-options > li')].map((li) => [
    li.querySelector('.rtk-poll-option-text').textContent,
    li.querySelector('.rtk-poll-count') ? li.querySelector('.rtk-poll-count').textContent : null]);
}"""

# JS: the names in the "In the meeting" list of the Participants panel (without "(you)").
LISTED = """() => [...document.querySelectorAll('rtk-participants section[aria-label="In the meeting"] .rtk-row-name')]
  .map((el) => el.firstChild.textContent.replace(/ \\(you\\)$/, ''))"""


async def _poll_shows(page: Any, question: str, expected: list[list[Any]]) -> None:
    """Wait until `page`'s Polls panel shows `question` with these [option, count] rows."""
    await page.wait_for(f"({{question, expected}}) => JSON.stringify(({POLL_OPTIONS})(question)) === JSON.stringify(expected)",
                        {"question": question, "expected": expected})


async def test_host_runs_a_poll_kicks_a_participant_and_ends_the_meeting(browser: Any, pages: list[Any], stack: Any,
                                                                        api: Any) -> None:
    meeting_id = await api.meeting("host controls")
    tokens = await asyncio.gather(api.token(meeting_id, "group_call_host", "Ada"),
                                  api.token(meeting_id, "group_call_participant", "Bob"),
                                  api.token(meeting_id, "group_call_participant", "Cal"))
    # No camera or microphone: this test is about the panels, not media.
    ada, bob, cal = [await open_meeting(browser, pages, stack, name, token, audio="false", video="false")
                     for name, token in zip(("ada", "bob", "cal"), tokens, strict=True)]
    for page in (ada, bob, cal):
        await wait_participants(page, 2)

    # Ada creates a poll in the Polls panel.
    await open_panel(ada, "Polls")
    await ada.fill('rtk-polls >> role=textbox[name="Question"]', "Lunch?")
    await ada.fill('rtk-polls >> role=textbox[name="Options"]', "Pizza\nSushi\n")
    await ada.click('rtk-polls >> role=button[name="Create poll"]')
    await _poll_shows(ada, "Lunch?", [["Pizza", "0"], ["Sushi", "0"]])

    # Bob is told about it (notification, and a badge on the closed Polls panel's button), opens
    # the panel and votes by clicking an option; he cannot vote twice.
    await bob.wait('rtk-notifications >> text="Ada started a poll: Lunch?"')
    assert await bob.attribute('rtk-meeting footer >> role=button[name="Polls"]', "aria-description") == "1 new"
    await open_panel(bob, "Polls")
    assert await bob.attribute('rtk-meeting footer >> role=button[name="Polls"]', "aria-description") == ""
    await bob.click('rtk-polls >> role=button[name="Vote Sushi"]')
    await _poll_shows(bob, "Lunch?", [["Pizza", "0 (0%)"], ["Sushi", "1 (100%)"]])
    assert await bob.count('rtk-polls >> role=button[name^="Vote "]') == 0
    # Ada sees the count and still has her own vote; Cal (who did not vote) sees the result too.
    await _poll_shows(ada, "Lunch?", [["Pizza", "0 (0%)"], ["Sushi", "1 (100%)"]])
    await ada.click('rtk-polls >> role=button[name="Vote Pizza"]')
    await open_panel(cal, "Polls")
    for page in (ada, bob, cal):
        await _poll_shows(page, "Lunch?", [["Pizza", "1 (50%)"], ["Sushi", "1 (50%)"]])

    # Ada kicks Cal from the Participants panel: Cal's page says so (no way back in), and
    # nobody's list has Cal any more.
    await open_panel(ada, "Participants")
    await open_panel(bob, "Participants")
    assert sorted(await ada.eval(LISTED)) == ["Ada", "Bob", "Cal"]
    assert await bob.count('rtk-participants >> role=button[name="Kick Ada"]') == 0  # not a host
    await ada.click('rtk-participants >> role=button[name="Kick Cal"]')
    await cal.wait('rtk-ended-screen >> role=heading[name="You were removed from the meeting"]')
    assert await cal.count('rtk-ended-screen >> role=button') == 0
    assert await cal.eval("() => window.meeting.self.roomState") == "kicked"
    for page in (ada, bob):
        await page.wait_for(f"() => ({LISTED})().sort().join() === 'Ada,Bob'")

    # "End meeting for all" from Ada's leave menu: both pages show that the meeting has ended.
    await ada.click('rtk-meeting footer >> role=button[name="Leave meeting"]')
    await ada.click('role=dialog[name="Leave or end the meeting"] >> role=button[name="End meeting for all"]')
    for page in (ada, bob):
        await page.wait('rtk-ended-screen >> role=heading[name="The meeting has ended"]')
        assert await page.eval("() => window.meeting.self.roomState") == "ended"
    # The session is over on the server too: the meeting has no live session.
    response = await api.http.get(f"{stack.base}/meetings/{meeting_id}/active-session")
    assert response.status_code == 404, response.text

    # No page logged an error on the way (uncaught exception, failed request, failed render).
    for page in (ada, bob, cal):
        errors = [line for line in page.logs() if line.startswith(("[pageerror]", "[error]"))]
        assert errors == [], (page.name, errors)
