"""Who may ask which corpus, through every entry point (mention, DM, assistant panel, /ask,
the share button, a thread follow-up), with the real app over signed HTTP and an access file
it re-reads as it changes. A refused user gets one line naming the closed corpus and whom to
speak to, and the fake Slack's record shows that nothing else reached Slack for them: no
quote, no reaction."""

from __future__ import annotations

import json
import os
import textwrap
import uuid

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.slack.state import SlackState
from retrieval.ingest.pipeline import ingest
from retrieval.settings import Settings
from tests.bot.test_slack import BOT_TOKEN, SECRET, _button_value, all_text, channel, serving
from tests.support.seed import SEED_CORPUS, SHOIGU_SENTENCE
from tests.support.slack_fake import TEAM, FakeSlack, app_mention, block_action, message, new_ts, slash_command

pytestmark = pytest.mark.integration

LEAVE = "Every employee gets 30 days of paid leave a year"
HR, STAFF, GROUPIE, GUEST = "U0HR", "U0STAFF", "U0GROUPIE", "U0GUEST"
RULES = f"""
external_users = false
admins = ["{HR}"]
contact = "#it-help"

[default]
corpus = "default"
users = ["{HR}", "{STAFF}", "{GROUPIE}", "{GUEST}"]

[channels.CHANDBOOK]
corpus = "handbook"
users = ["{HR}"]
usergroups = ["S0HRTEAM"]

[channels.CNEWS]
corpus = "default"

[prompts]
handbook = ["How many days of leave do I get?"]
"""
NO_DEFAULT = RULES.replace('[default]\ncorpus = "default"\n', "[default]\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory, model_cache):
    root = tmp_path_factory.mktemp("slack-access")
    (root / "handbook").mkdir()
    (root / "handbook" / "leave.txt").write_text(f"{LEAVE}, taken in days or half days.\n\nSick leave is separate.\n")
    access = root / "access.toml"
    access.write_text(RULES)
    fake = FakeSlack()
    fake.usergroups["S0HRTEAM"] = [GROUPIE]
    settings = Settings(data_dir=root / "data", model_cache=model_cache, slack_api_url=fake.api_url,
                        slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET, QA_SLACK_ACCESS=str(access))
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    ingest([str(root / "handbook")], "handbook", settings, progress=False)
    with serving(settings, fake) as world:
        yield world


@pytest.fixture(autouse=True)
def rules(world):
    """Each test starts from RULES; `rules(text)` rewrites the file the running app reads."""
    def write(text: str) -> None:
        path = world.settings.slack_access
        before = path.stat().st_mtime_ns
        path.write_text(textwrap.dedent(text))
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))  # a new mtime even within one clock tick
    write(RULES)
    yield write
    write(RULES)


def refusals(world, c: str) -> list[dict]:
    return world.fake.posts(c, method="chat.postEphemeral")


def assert_only_a_refusal(world, c: str, user: str, corpus_named: str) -> dict:
    """The one thing Slack saw about `c` is a single ephemeral line for `user`."""
    world.settle()
    calls = world.fake.calls_about(c)
    sent = [x for x in calls if x.method not in ("conversations.info",)]
    assert [x.method for x in sent] == ["chat.postEphemeral"], [x.method for x in calls]
    line = sent[0].body
    assert line["user"] == user and corpus_named in line["text"] and "#it-help" in line["text"]
    assert SHOIGU_SENTENCE not in json.dumps(line) and LEAVE not in json.dumps(line)
    return line


def test_a_listed_user_is_answered_from_the_channels_corpus(world):
    world.event(app_mention("How many days of paid leave do employees get?", "CHANDBOOK", user=HR))
    [post] = world.fake.wait_for(lambda: world.fake.posts("CHANDBOOK"))
    assert LEAVE in all_text(post)


def test_a_user_not_on_the_channels_list_gets_one_line_and_no_quote_or_reaction(world):
    c = "CHANDBOOK"
    before = len(world.fake.calls_about(c))
    world.event(app_mention("How many days of paid leave do employees get?", c, user=STAFF))
    world.settle()
    new = world.fake.calls_about(c)[before:]
    assert [x.method for x in new] == ["chat.postEphemeral"]
    assert new[0].body["user"] == STAFF and "'handbook'" in new[0].body["text"] and "#it-help" in new[0].body["text"]
    assert LEAVE not in json.dumps(new[0].body)


def test_a_usergroup_member_is_answered(world):
    world.event(app_mention("How many days of paid leave do employees get?", "CHANDBOOK", user=GROUPIE))
    world.fake.wait_for(lambda: [p for p in world.fake.posts("CHANDBOOK") if LEAVE in all_text(p)])
    assert any(c.method == "usergroups.users.list" and c.body["usergroup"] == "S0HRTEAM" for c in world.fake.calls)


def test_a_user_from_another_workspace_is_refused_even_when_listed(world):
    event = app_mention("What did Shoigu ask Wallace?", "CNEWS", user=GUEST)
    event["user_team"] = event["team"] = "T0OTHERORG"
    before = len(world.fake.calls_about("CNEWS"))
    world.event(event)
    world.settle()
    new = world.fake.calls_about("CNEWS")[before:]
    assert [x.method for x in new] == ["chat.postEphemeral"] and "outside this workspace" in new[0].body["text"]


def test_anyone_in_an_externally_shared_channel_is_refused_unless_the_file_allows_it(world, rules):
    c = channel()
    world.event(app_mention("What did Shoigu ask Wallace?", c, user=STAFF), is_ext_shared_channel=True)
    assert_only_a_refusal(world, c, STAFF, "'default'")
    rules("external_users = true\n" + RULES.replace("external_users = false\n", ""))
    world.event(app_mention("What did Shoigu ask Wallace?", c, user=STAFF), is_ext_shared_channel=True)
    world.fake.wait_for(lambda: world.fake.posts(c))


def test_a_dm_from_a_user_on_the_default_list_is_answered_from_the_default_corpus(world):
    dm = "D" + uuid.uuid4().hex[:10].upper()
    world.event(message("What did Shoigu ask Wallace?", dm, "im", user=STAFF))
    [post] = world.fake.wait_for(lambda: world.fake.posts(dm))
    assert SHOIGU_SENTENCE in all_text(post)


def test_a_dm_from_a_user_not_on_the_default_list_gets_a_refusal_and_no_quote(world):
    dm = "D" + uuid.uuid4().hex[:10].upper()
    world.event(message("What did Shoigu ask Wallace?", dm, "im", user="U0NOTLISTED"))
    world.settle()
    calls = world.fake.calls_about(dm)
    assert [x.method for x in calls] == ["chat.postMessage"]  # the refusal, in the user's own DM
    assert "'default'" in calls[0].body["text"] and SHOIGU_SENTENCE not in json.dumps(calls[0].body)


def test_ask_in_an_unlisted_channel_with_no_default_corpus_is_refused(world, rules):
    rules(NO_DEFAULT)
    c = channel()
    world.form(slash_command("What did Shoigu ask Wallace?", c, world.fake.response_url(c), user=STAFF))
    world.settle()
    [line] = world.fake.responses(c)
    assert line["response_type"] == "ephemeral" and "no corpus is open" in line["text"] and "#it-help" in line["text"]
    assert "blocks" not in line and world.fake.posts(c) == []
    assert world.fake.calls_about(c) == []  # not even a conversations.info lookup: nobody may ask here


def test_ask_in_a_channel_shared_with_another_organisation_is_refused(world):
    c = channel()
    world.fake.shared_channels.add(c)
    world.form(slash_command("What did Shoigu ask Wallace?", c, world.fake.response_url(c), user=STAFF))
    world.settle()
    [line] = world.fake.responses(c)
    assert "outside this workspace" in line["text"] and SHOIGU_SENTENCE not in json.dumps(line)


def test_a_follow_up_from_a_user_not_admitted_gets_a_line_not_an_answer(world):
    first = app_mention("How many days of paid leave do employees get?", "CHANDBOOK", user=HR)
    world.event(first)
    world.fake.wait_for(lambda: [p for p in world.fake.posts("CHANDBOOK") if p.get("thread_ts") == first["ts"]])
    world.event(message("and what about sick leave?", "CHANDBOOK", "channel", user=STAFF, thread_ts=first["ts"]))
    world.settle()
    answers = [p for p in world.fake.posts("CHANDBOOK") if p.get("thread_ts") == first["ts"]]
    assert len(answers) == 1
    assert any(r["user"] == STAFF and r.get("thread_ts") == first["ts"] for r in refusals(world, "CHANDBOOK"))


def test_the_share_button_is_checked_again_when_clicked(world, rules):
    c = "CNEWS"
    world.form(slash_command("What did Shoigu ask Wallace?", c, world.fake.response_url("share-1"), user=STAFF))
    [private] = world.fake.wait_for(lambda: world.fake.responses("share-1"))
    answer_id = _button_value(private["blocks"], "post_answer")
    rules(RULES.replace('[channels.CNEWS]\ncorpus = "default"', f'[channels.CNEWS]\ncorpus = "default"\nusers = ["{HR}"]'))
    before = len(world.fake.posts(c))
    world.action(block_action("post_answer", answer_id, c, world.fake.response_url("share-2"), user=STAFF))
    world.settle()
    assert len(world.fake.posts(c)) == before
    [line] = world.fake.responses("share-2")
    assert "closed to you" in line["text"] and line["response_type"] == "ephemeral"


def test_an_answer_is_not_posted_where_the_channel_now_searches_another_corpus(world, rules):
    c = "CHANDBOOK"
    world.form(slash_command("How many days of paid leave do employees get?", c, world.fake.response_url("moved-1"), user=HR))
    [private] = world.fake.wait_for(lambda: world.fake.responses("moved-1"))
    assert LEAVE in all_text(private)
    rules(RULES.replace('[channels.CHANDBOOK]\ncorpus = "handbook"', '[channels.CHANDBOOK]\ncorpus = "default"'))
    before = len(world.fake.posts(c))
    world.action(block_action("post_answer", _button_value(private["blocks"], "post_answer"), c,
                              world.fake.response_url("moved-2"), user=HR))
    world.settle()
    assert len(world.fake.posts(c)) == before
    [line] = world.fake.responses("moved-2")
    assert "comes from the corpus 'handbook'" in line["text"] and line["response_type"] == "ephemeral"


def test_a_post_slack_refuses_is_one_ephemeral_line(world):
    c = "CNEWS"
    world.fake.closed_channels.add(c)
    try:
        world.form(slash_command("What did Shoigu ask Wallace?", c, world.fake.response_url("closed-1"), user=STAFF))
        [private] = world.fake.wait_for(lambda: world.fake.responses("closed-1"))
        world.action(block_action("post_answer", _button_value(private["blocks"], "post_answer"), c,
                                  world.fake.response_url("closed-2"), user=STAFF))
        world.settle()
        [line] = world.fake.responses("closed-2")
        assert "/invite" in line["text"] and line["response_type"] == "ephemeral"
        assert "not_in_channel" not in line["text"]
    finally:
        world.fake.closed_channels.discard(c)


def test_the_panel_searches_the_viewed_channels_corpus_when_allowed_and_says_so(world):
    dm, thread = "D" + uuid.uuid4().hex[:10].upper(), new_ts()
    world.event({"type": "assistant_thread_started", "event_ts": new_ts(),
                 "assistant_thread": {"user_id": HR, "channel_id": dm, "thread_ts": thread,
                                      "context": {"channel_id": "CHANDBOOK", "team_id": TEAM, "enterprise_id": None}}})
    world.settle()
    [greeting] = world.fake.posts(dm)
    assert "'handbook'" in greeting["text"]
    prompts = [b for b in world.fake.posts(method="assistant.threads.setSuggestedPrompts") if b.get("channel_id") == dm]
    assert "How many days of leave do I get?" in json.dumps(prompts)
    world.event(message("How many days of paid leave do employees get?", dm, "im", user=HR, thread_ts=thread))
    world.settle()
    answer = world.fake.posts(dm)[-1]
    assert LEAVE in all_text(answer) and "Searched the corpus 'handbook'" in all_text(answer)
    titles = [b for b in world.fake.posts(method="assistant.threads.setTitle") if b.get("channel_id") == dm]
    assert titles and titles[0]["title"].startswith("How many days")
    # the viewed channel is in the state file, so a restarted bot still knows it
    stored = SlackState.in_data_dir(world.settings.data_dir).thread_contexts.find(channel_id=dm, thread_ts=thread)
    assert stored.channel_id == "CHANDBOOK"


def test_the_panel_follows_the_user_to_another_channel_and_falls_back_where_refused(world):
    dm, thread = "D" + uuid.uuid4().hex[:10].upper(), new_ts()
    world.event({"type": "assistant_thread_started", "event_ts": new_ts(),
                 "assistant_thread": {"user_id": STAFF, "channel_id": dm, "thread_ts": thread,
                                      "context": {"channel_id": "CNEWS", "team_id": TEAM, "enterprise_id": None}}})
    world.event({"type": "assistant_thread_context_changed", "event_ts": new_ts(),
                 "assistant_thread": {"user_id": STAFF, "channel_id": dm, "thread_ts": thread,
                                      "context": {"channel_id": "CHANDBOOK", "team_id": TEAM, "enterprise_id": None}}})
    world.settle()
    stored = SlackState.in_data_dir(world.settings.data_dir).thread_contexts.find(channel_id=dm, thread_ts=thread)
    assert stored.channel_id == "CHANDBOOK"
    world.event(message("What did Shoigu ask Wallace?", dm, "im", user=STAFF, thread_ts=thread))
    world.settle()
    answer = world.fake.posts(dm)[-1]  # STAFF may not ask the handbook: the [default] corpus answers
    assert SHOIGU_SENTENCE in all_text(answer) and "Searched the corpus 'default'" in all_text(answer)


def test_a_panel_user_not_admitted_anywhere_gets_the_refusal_in_the_thread(world):
    dm, thread = "D" + uuid.uuid4().hex[:10].upper(), new_ts()
    world.event(message("What did Shoigu ask Wallace?", dm, "im", user="U0NOTLISTED", thread_ts=thread))
    world.settle()
    [line] = world.fake.posts(dm)
    assert line["thread_ts"] == thread and "closed to you" in line["text"] and SHOIGU_SENTENCE not in json.dumps(line)


def test_an_edited_file_applies_without_a_restart_and_a_broken_one_keeps_the_last_good_rules(world, rules, monkeypatch):
    c = "CHANDBOOK"
    rules(RULES.replace(f'users = ["{HR}"]\nusergroups', f'users = ["{HR}", "{STAFF}"]\nusergroups'))
    asked = app_mention("How many days of paid leave do employees get?", c, user=STAFF)
    world.event(asked)
    world.settle()
    [answer] = [p for p in world.fake.posts(c) if p.get("thread_ts") == asked["ts"]]
    assert LEAVE in all_text(answer)
    broken = RULES.replace("[channels.CHANDBOOK]", "[channels.CHANDBOOK]\nuser = ['U0ANYONE']")  # a typo
    rules(broken)
    ephemerals = len(refusals(world, c))
    world.event(app_mention("How many days of paid leave do employees get?", c, user="U0ANYONE"))
    world.settle()
    assert len(refusals(world, c)) == ephemerals + 1  # the last good rules still hold
    monkeypatch.setenv("QA_SLACK_ACCESS", str(world.settings.slack_access))
    result = CliRunner().invoke(cli, ["doctor", "--no-slack"])
    assert "access rules" not in result.output  # only checked with the Slack settings
    monkeypatch.setenv("SLACK_API_URL", world.fake.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1
    [line] = [x for x in result.output.splitlines() if "access rules" in x]
    assert line.startswith("FAIL") and "unknown key user" in line and str(world.settings.slack_access) in line


def test_a_thanks_in_a_thread_is_not_answered_but_a_question_is(world):
    c = channel()
    first = app_mention("What did Shoigu ask Wallace?", c, user=STAFF)
    world.event(first)
    world.fake.wait_for(lambda: world.fake.posts(c))
    world.event(message("thanks!", c, "channel", user=STAFF, thread_ts=first["ts"]))
    world.settle()
    assert len(world.fake.posts(c)) == 1
    world.event(message("and what did Wallace reply", c, "channel", user=STAFF, thread_ts=first["ts"]))
    world.settle()
    assert len(world.fake.posts(c)) == 2


def home_of(world, user: str) -> str:
    world.event({"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home", "event_ts": new_ts()})
    world.settle()
    [view] = [c.body["view"] for c in world.fake.calls if c.method == "views.publish" and c.body["user_id"] == user][-1:]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["type"] == "home"
    return json.dumps(view["blocks"])


def test_the_home_tab_lists_the_corpora_this_user_may_ask_and_the_feedback_only_for_admins(world):
    world.form(slash_command("What did Shoigu ask Wallace?", "CNEWS", world.fake.response_url("home-1"), user=STAFF))
    [private] = world.fake.wait_for(lambda: world.fake.responses("home-1"))
    world.action(block_action("feedback_not_helpful", _button_value(private["blocks"], "feedback_not_helpful"), "CNEWS",
                              world.fake.response_url("home-2"), user=STAFF))
    world.settle()
    admin = home_of(world, HR)
    assert "*handbook*: 1 documents, last ingest 20" in admin and "*default*: 1 documents" in admin
    assert "Feedback (admins)" in admin and "not helpful" in admin and "What did Shoigu ask Wallace?" in admin
    staff = home_of(world, STAFF)
    assert "*default*" in staff and "handbook" not in staff and "Feedback" not in staff and "/ask" in staff
    assert "<#CNEWS>" in staff and "<#CHANDBOOK>" not in staff
    stranger = home_of(world, "U0NOTLISTED")
    assert "<#CNEWS>" in stranger and "DMs and the assistant panel" not in stranger  # CNEWS is open to all members


@pytest.mark.parametrize("mode, answered", [
    ("mention", []),
    ("question", ["and what did Wallace reply", "Who is Shoigu?"]),
    ("all", ["and what did Wallace reply", "Who is Shoigu?", "thanks!", "great, that helps"]),
])
def test_qa_slack_followups_says_which_thread_messages_are_answered(mode, answered):
    from bot.slack.listeners.events.messages import wanted_followup

    said = ["and what did Wallace reply", "Who is Shoigu?", "thanks!", "great, that helps"]
    assert [text for text in said if wanted_followup(mode, text)] == answered
