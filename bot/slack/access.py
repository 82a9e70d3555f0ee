"""Who may ask which corpus in Slack. The rules come from the access file (QA_SLACK_ACCESS,
TOML), re-read whenever it changes; without one, QA_SLACK_CHANNEL_CORPORA and the default
corpus for everyone, as before the file existed. `AccessControl.decide` is the decision;
`Replier.admit` is the one place that calls it, and every entry point goes through there.

    external_users = false        # people from other workspaces, or anyone in a shared channel
    admins = ["U0123"]            # see the feedback on the App Home tab
    contact = "#it-help"          # named in refusals (default: the admins)

    [default]                     # DMs, the assistant panel, channels not listed below
    corpus = "news"               # omit: such questions are refused
    users = ["U0123"]             # optional allowlist; omit: every member of the workspace
    usergroups = ["S0456"]        # optional; members looked up with usergroups.users.list

    [channels.C0789]
    corpus = "handbook"

    [prompts]                     # assistant-panel suggestions per corpus
    handbook = ["How many days of leave do I get?"]

Several workspaces (bot/slack/install.py): a `{team}` in QA_SLACK_ACCESS is replaced by the
workspace's team ID, one file per workspace (`/etc/qa-bot/access-{team}.toml`); a workspace
whose file does not exist (yet) has every question refused, never another workspace's rules.
Without `{team}`, one file (or none) applies to every workspace. Lookups (usergroup members,
a channel's shared flag) use the asking workspace's own token, and are cached per workspace.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from slack_sdk.errors import SlackApiError

from retrieval.settings import CORPUS_NAME_PATTERN, Settings

from .blocks import escape

LOOKUP_TTL = 300.0  # seconds a usergroup's members or a channel's shared flag are trusted
TEAM = "{team}"  # in QA_SLACK_ACCESS: the workspace's team ID (one access file per workspace)
TEAM_ID = re.compile(r"[TE][A-Z0-9]{2,}")
log = logging.getLogger(__name__)


class AccessFileError(ValueError):
    """The access file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Rule:
    corpus: str | None  # None: questions here are not answered
    users: frozenset[str] = frozenset()
    usergroups: tuple[str, ...] = ()

    @property
    def open_to_all_members(self) -> bool:
        return not self.users and not self.usergroups


@dataclass(frozen=True)
class Policy:
    default: Rule
    channels: dict[str, Rule] = field(default_factory=dict)
    external_users: bool = False
    admins: frozenset[str] = frozenset()
    contact: str = ""
    prompts: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def rule_for(self, channel: str | None) -> Rule:
        return self.channels.get(channel or "", self.default)

    @property
    def corpora(self) -> set[str]:
        return {r.corpus for r in [self.default, *self.channels.values()] if r.corpus}

    def whom_to_ask(self) -> str:
        if self.contact:
            return escape(self.contact)
        if self.admins:
            return ", ".join(f"<@{a}>" for a in sorted(self.admins))
        return "your Slack admin"


CLOSED = Policy(default=Rule(None), contact="the person who runs this bot")  # no good access file yet


def settings_policy(settings: Settings) -> Policy:
    """No access file: everyone may ask, each channel its QA_SLACK_CHANNEL_CORPORA corpus."""
    return Policy(default=Rule(settings.corpus), channels={c: Rule(k) for c, k in settings.channel_corpora.items()},
                  external_users=True)


def parse_policy(text: str) -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AccessFileError(f"not valid TOML: {exc}") from None
    _only(data, {"external_users", "admins", "contact", "default", "channels", "prompts"}, "the top level")
    channels = data.get("channels", {})
    if not isinstance(channels, dict):
        raise AccessFileError("[channels] must be a table of [channels.CHANNEL_ID] tables")
    prompts = data.get("prompts", {})
    if not isinstance(prompts, dict) or not all(_strings(v) for v in prompts.values()):
        raise AccessFileError("[prompts] must map corpus names to lists of questions")
    external = data.get("external_users", False)
    if not isinstance(external, bool):
        raise AccessFileError("external_users must be true or false")
    contact = data.get("contact", "")
    if not isinstance(contact, str):
        raise AccessFileError("contact must be a string, e.g. \"#it-help\"")
    for channel in channels:
        if not re.fullmatch(r"[CGD][A-Z0-9]{2,}", channel):
            raise AccessFileError(f"[channels.{channel}]: expected a channel ID such as C0123ABC")
    return Policy(
        default=_rule(data.get("default", {}), "[default]"),
        channels={c: _rule(r, f"[channels.{c}]") for c, r in channels.items()},
        external_users=external,
        admins=frozenset(_ids(data.get("admins", []), "admins", "UW")),
        contact=contact,
        prompts={corpus: tuple(p) for corpus, p in prompts.items()},
    )


def _rule(table, where: str) -> Rule:
    if not isinstance(table, dict):
        raise AccessFileError(f"{where} must be a table")
    _only(table, {"corpus", "users", "usergroups"}, where)  # a typo must not open a corpus to everyone
    corpus = table.get("corpus")
    if corpus is not None and not (isinstance(corpus, str) and re.match(CORPUS_NAME_PATTERN, corpus)):
        raise AccessFileError(f"{where}: corpus must be a corpus name, got {corpus!r}")
    return Rule(corpus, frozenset(_ids(table.get("users", []), f"{where} users", "UW")),
                tuple(_ids(table.get("usergroups", []), f"{where} usergroups", "S")))


def _ids(value, where: str, prefixes: str) -> list[str]:
    if not _strings(value) or not all(re.fullmatch(rf"[{prefixes}][A-Z0-9]{{2,}}", v) for v in value):
        raise AccessFileError(f"{where}: expected a list of Slack IDs starting with {' or '.join(prefixes)}, got {value!r}")
    return value


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _only(table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise AccessFileError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                              f"(allowed: {', '.join(sorted(allowed))})")


def per_workspace(settings: Settings) -> bool:
    """QA_SLACK_ACCESS names one file per workspace (it holds `{team}`)."""
    return settings.slack_access is not None and TEAM in str(settings.slack_access)


def access_path(settings: Settings, workspace: str | None) -> Path | None:
    """The access file for `workspace` (per_workspace: QA_SLACK_ACCESS with its `{team}`
    replaced by the team ID), or None when there is none: a request naming no workspace, or
    something that is not a team ID."""
    if not workspace or not TEAM_ID.fullmatch(workspace):
        return None
    return Path(str(settings.slack_access).replace(TEAM, workspace))


def access_files(settings: Settings) -> dict[str, Path]:
    """The per-workspace access files there are now, by team ID (`{team}` in QA_SLACK_ACCESS)."""
    pattern = settings.slack_access
    if not per_workspace(settings):
        return {}
    head, _, tail = pattern.name.partition(TEAM)
    if TEAM in str(pattern.parent):
        return {}  # only the file name may vary per workspace
    found = {}
    for path in sorted(pattern.parent.glob(f"{head}*{tail}")):
        team = path.name[len(head):len(path.name) - len(tail)]
        if TEAM_ID.fullmatch(team):
            found[team] = path
    return found


def configured_corpora(settings: Settings) -> set[str]:
    """Every corpus some question may be answered from (to warm up and to check)."""
    if settings.slack_access is None:
        return settings_policy(settings).corpora
    paths = list(access_files(settings).values()) if per_workspace(settings) else [settings.slack_access]
    corpora: set[str] = set()
    for path in paths:
        try:
            corpora |= read_policy(path).corpora
        except AccessFileError:
            pass
    return corpora


def read_policy(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AccessFileError(f"cannot read it ({type(exc).__name__}: {exc})") from None
    return parse_policy(text)


class AccessFile:
    """The policy in force. The file is stat'ed on each request and re-read when its mtime or
    size changed; a file that no longer parses keeps the last good policy (and says so in
    the log, and in `qa doctor`)."""

    def __init__(self, settings: Settings, path: Path | None = None):
        self.path = path if path is not None else settings.slack_access
        self._fallback = settings_policy(settings)
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._policy = CLOSED
        self.error: str | None = None
        self.policy()

    def policy(self) -> Policy:
        if self.path is None:
            return self._fallback
        with self._lock:
            try:
                stat = self.path.stat()
                seen = (stat.st_mtime_ns, stat.st_size)
            except OSError as exc:
                seen = None
                error = f"cannot read it ({type(exc).__name__}: {exc})"
                if error != self.error:  # once, not on every request
                    log.error("access file %s: %s; %s", self.path, error, "keeping the rules in force" if self._seen
                              else "every question it covers is refused until it can be read")
                self.error = error
            if seen is not None and seen != self._seen:
                self._seen = seen
                try:
                    self._policy, self.error = read_policy(self.path), None
                    log.info("access rules loaded from %s", self.path)
                except AccessFileError as exc:
                    self.error = str(exc)
                    log.error("access file %s: %s; keeping the rules in force", self.path, exc)
            return self._policy


@dataclass(frozen=True)
class Asker:
    """Who asks, and where. `rules_channel` is the channel whose rule applies (the panel's:
    the channel the user is viewing; a DM's: none, so [default])."""

    user: str
    team: str | None  # the user's own workspace, as the payload says
    workspace: str | None  # the app's workspace
    channel: str  # where the answer would be posted
    rules_channel: str | None
    shared: bool | None = None  # the channel is externally shared; None: ask conversations.info
    direct: bool = False  # a DM or the assistant panel: nobody else is in the conversation
    panel: bool = False  # the assistant panel: refused in the viewed channel, it falls back to [default]


@dataclass(frozen=True)
class Admission:
    corpus: str | None
    refusal: str | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


class _Cache:
    def __init__(self, ttl: float):
        self.ttl, self._items, self._lock = ttl, {}, threading.Lock()

    def get(self, key: str, load: Callable[[], object]):
        with self._lock:
            hit = self._items.get(key)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        value = load()
        with self._lock:
            self._items[key] = (time.monotonic(), value)
        return value


class AccessControl:
    """The decision, for every workspace: each workspace's policy (its access file), and the
    lookups it needs made with that workspace's own client (bot/slack/workspaces.py)."""

    def __init__(self, settings: Settings, workspaces):
        self.settings, self.workspaces = settings, workspaces
        self._files: dict[Path | None, AccessFile] = {}
        self._files_lock = threading.Lock()
        self._members = _Cache(LOOKUP_TTL)
        self._shared = _Cache(LOOKUP_TTL)
        if not per_workspace(settings):
            self.file(settings.slack_access)  # read now: a broken file is logged at start

    def file(self, path: Path | None) -> AccessFile:
        with self._files_lock:
            if path not in self._files:
                self._files[path] = AccessFile(self.settings, path)
            return self._files[path]

    def policy(self, workspace: str | None = None) -> Policy:
        """The rules in force in `workspace` (the app's workspace a request came from)."""
        if not per_workspace(self.settings):
            return self.file(self.settings.slack_access).policy()
        path = access_path(self.settings, workspace)
        return self.file(path).policy() if path is not None else CLOSED

    def decide(self, asker: Asker) -> Admission:
        admission = self._decide(asker, asker.rules_channel)
        if not admission.allowed and asker.panel and asker.rules_channel:
            # the panel, viewing a channel whose corpus this user may not ask: the [default] one
            fallback = self._decide(asker, None)
            return fallback if fallback.allowed else admission
        return admission

    def decide_post(self, asker: Asker, corpus: str) -> Admission:
        """Whether `asker` may post an answer from `corpus` into `asker.channel`: admitted
        there, to that same corpus, so nobody there reads a corpus they may not ask."""
        admission = self.decide(asker)
        if admission.allowed and admission.corpus != corpus:
            return Admission(None, f"Sorry, this answer comes from the corpus '{corpus}', which this channel does not search.")
        return admission

    def _decide(self, asker: Asker, rules_channel: str | None) -> Admission:
        policy = self.policy(asker.workspace)
        rule = policy.rule_for(rules_channel)
        closed = f"the corpus '{rule.corpus}'"
        if rule.corpus is None:  # first: refused whoever asks, with no lookup
            return Admission(None, f"Sorry, no corpus is open for questions here. Speak to {policy.whom_to_ask()} "
                                   "to have one opened.")
        if not policy.external_users and self._external(asker):
            return Admission(None, f"Sorry, {closed} is not open to people outside this workspace or in channels "
                                   f"shared with other organisations. Speak to {policy.whom_to_ask()} for access.")
        if not (rule.open_to_all_members or asker.user in rule.users
                or self._in_usergroups(asker.workspace, asker.user, rule.usergroups)):
            return Admission(None, f"Sorry, {closed} is closed to you here. Speak to {policy.whom_to_ask()} for access.")
        return Admission(rule.corpus)

    def _external(self, asker: Asker) -> bool:
        if asker.team and asker.workspace and asker.team != asker.workspace:
            return True
        if asker.direct:
            return False
        if asker.shared is not None:
            return asker.shared
        return self._shared.get(f"{asker.workspace}/{asker.channel}",
                                lambda: self._is_shared(asker.workspace, asker.channel))

    def _is_shared(self, workspace: str | None, channel: str) -> bool:
        client = self.workspaces.client_for(workspace)
        if client is None:  # the workspace is not installed (any more): nothing to ask with
            log.warning("no token for workspace %s; treating channel %s as shared", workspace, channel)
            return True
        try:
            info = client.conversations_info(channel=channel)["channel"]
        except SlackApiError as exc:  # unknown is treated as shared: a guest must not slip through
            log.warning("conversations.info for %s failed (%s); treating the channel as shared", channel,
                        exc.response.get("error"))
            return True
        return bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared"))

    def _in_usergroups(self, workspace: str | None, user: str, usergroups: tuple[str, ...]) -> bool:
        return any(user in self._members.get(f"{workspace}/{g}", lambda g=g: self._usergroup_members(workspace, g))
                   for g in usergroups)

    def _usergroup_members(self, workspace: str | None, usergroup: str) -> frozenset[str]:
        client = self.workspaces.client_for(workspace)
        if client is None:  # fail closed, as below
            log.warning("no token for workspace %s; usergroup %s counted as empty", workspace, usergroup)
            return frozenset()
        try:
            return frozenset(client.usergroups_users_list(usergroup=usergroup)["users"])
        except SlackApiError as exc:  # fail closed: nobody is a member of a group we cannot read
            log.warning("usergroups.users.list for %s failed (%s)", usergroup, exc.response.get("error"))
            return frozenset()


def asker_from_event(user: str, team: str | None, workspace: str | None, channel: str, channel_type: str | None,
                     shared: bool | None) -> Asker:
    """A mention or a message. `shared`: the envelope's is_ext_shared_channel (None: look it up)."""
    direct = channel_type == "im"
    return Asker(user=user, team=team, workspace=workspace, channel=channel, rules_channel=None if direct else channel,
                 shared=shared, direct=direct)


def asker_from_interaction(user: str, team: str | None, channel: str, workspace: str | None) -> Asker:
    """A slash command or a button click: the channel's shared flag is looked up."""
    direct = channel.startswith("D")
    return Asker(user=user, team=team, workspace=workspace, channel=channel,
                 rules_channel=None if direct else channel, direct=direct)


def panel_asker(user: str, team: str | None, channel: str, viewing: str | None, workspace: str | None) -> Asker:
    """The assistant panel: a private thread, answered from the viewed channel's rule."""
    return Asker(user=user, team=team, workspace=workspace, channel=channel, rules_channel=viewing, direct=True,
                 panel=True)


def home_asker(user: str, channel: str | None, workspace: str | None) -> Asker:
    """For the App Home's list: may `user` ask in `channel` (None: DMs and the panel)?"""
    return Asker(user=user, team=None, workspace=workspace, channel=channel or "", rules_channel=channel,
                 direct=True)


def workspace_of(context) -> str | None:
    """The app's workspace, from Bolt's context of a request."""
    result = context.authorize_result
    return (result.team_id if result is not None else None) or context.team_id
