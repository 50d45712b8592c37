"""Who may do what: the one place every route and CLI command asks.

Modelled on Datasette's permission checks. An *action* (``dataset.read``,
``request.approve``, ...) is asked about for a *caller* (the authenticated principal)
and a *resource* (the facts of the thing acted on: the department owning the dataset,
the app that filed the request, whether the dataset offers the calling app a purpose).
Each rule is a small function answering allow, deny, or no opinion (``None``), always
with a reason code and words in Chinese and English. They combine in one way:

1. every rule is asked;
2. any deny wins (the first deny in ``RULES`` order is the one reported);
3. otherwise any allow allows;
4. otherwise (no rule had an opinion) the answer is deny, ``no_rule``.

A deny may be *hidden*: the caller is answered "no such ..." (404) rather than 403, so
that it cannot learn that another department's dataset or another app's request
exists. Listings ("list requests", "read log entries", ...) are allowed to every kind of
caller that may ask, and narrowed to what the caller may see by ``listing_scope``.

``docs/permissions.md`` is generated from this module (``permission_table``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gateway.errors import Forbidden, NotFound
from gateway.principal import AuthPrincipal

DepartmentReach = Literal["none", "any", "own"]
AppReach = Literal["none", "any", "offered", "own"]


@dataclass(frozen=True)
class Action:
    """One thing a caller may ask to do, and which callers it is meant for.

    ``department``: "any" department, its "own" resources only, or "none".
    ``app``: "any" app, datasets that "offered" it a purpose, requests it filed ("own"),
    or "none". ``auditor``: whether auditors may. ``public``: no key needed at all.
    ``hide_refusal``: a caller of the wrong kind is told "no such ..." as well.
    ``resident``: a resident signed in through a one-time link may (never with an API key).
    """

    name: str
    en: str
    zh: str
    department: DepartmentReach = "none"
    app: AppReach = "none"
    auditor: bool = False
    public: bool = False
    hide_refusal: bool = False
    listing: bool = False
    missing: str = "no such resource"
    resident: bool = False


@dataclass(frozen=True)
class Resource:
    """Facts about the thing acted on; ``None`` where the action has no such fact."""

    owner: str | None = None  # the department owning the dataset, source or request
    app_id: str | None = None  # the app that filed the request
    offered: bool | None = None  # the dataset offers the calling app at least one purpose
    asked_for: str | None = None  # explain: the app the caller asks about (None: itself)


NO_RESOURCE = Resource()


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    code: str
    zh: str
    en: str
    hidden: bool = False

    @property
    def reason(self) -> str:
        return f"{self.zh} / {self.en}"


def _allow(code: str, zh: str, en: str) -> Verdict:
    return Verdict(True, code, zh, en)


def _deny(code: str, zh: str, en: str, *, hidden: bool = False) -> Verdict:
    return Verdict(False, code, zh, en, hidden)


_A = Action
ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        _A("principal.me", "read who the key belongs to", "查看密钥所属主体", "any", "any", True),
        _A("source.register", "register a source", "登记数据源", department="any"),
        _A("purpose.list", "list the purpose hierarchy", "查看用途层级", "any", "any", True),
        _A("source.list", "list its sources", "列出数据源", department="any"),
        _A(
            "dataset.register",
            "register a dataset on its own source",
            "登记数据集",
            department="own",
            missing="no such source",
        ),
        _A(
            "dataset.list",
            "list the datasets it may see",
            "列出可见数据集",
            "own",
            "offered",
            True,
            listing=True,
        ),
        _A(
            "dataset.read",
            "read a dataset",
            "查看数据集",
            "own",
            "offered",
            True,
            missing="no such dataset",
        ),
        _A(
            "policy.read",
            "read a dataset's full policy document",
            "查看完整使用策略",
            department="own",
            missing="no such dataset",
        ),
        _A(
            "policy.replace",
            "replace a dataset's policy",
            "替换使用策略",
            department="own",
            missing="no such dataset",
        ),
        _A(
            "dataset.scan",
            "scan a dataset for unlabelled PII",
            "扫描数据集中的个人信息",
            department="own",
            missing="no such dataset",
        ),
        _A(
            "policy.preview",
            "preview a policy replacement",
            "预览使用策略替换",
            department="own",
            missing="no such dataset",
        ),
        _A(
            "dataset.retire",
            "retire a dataset",
            "停用数据集",
            department="own",
            missing="no such dataset",
        ),
        _A(
            "source.retire",
            "retire a source and its datasets",
            "停用数据源及其数据集",
            department="own",
            missing="no such source",
        ),
        # Keys: every principal rotates its own; a department reissues or expires the keys
        # of principals of its own domain (its staff); operators use `cdg principal`.
        _A(
            "principal.rotate_key",
            "rotate its own API key",
            "轮换自己的API密钥",
            "any",
            "any",
            True,
        ),
        _A(
            "principal.reissue_key",
            "reissue a principal's API key",
            "重新签发主体的API密钥",
            department="own",
            missing="no such principal",
        ),
        _A(
            "principal.expire_keys",
            "expire a principal's API keys now",
            "立即使主体的API密钥失效",
            department="own",
            missing="no such principal",
        ),
        _A(
            "request.file",
            "file a query request",
            "提交查询申请",
            app="offered",
            missing="no such dataset",
        ),
        _A("request.list", "list query requests", "列出查询申请", "own", "own", True, listing=True),
        _A(
            "request.read",
            "read a query request",
            "查看查询申请",
            "own",
            "own",
            True,
            missing="no such query request",
        ),
        _A(
            "request.approve",
            "approve a request",
            "批准查询申请",
            department="own",
            missing="no such query request",
        ),
        _A(
            "request.reject",
            "reject a request",
            "拒绝查询申请",
            department="own",
            missing="no such query request",
        ),
        _A(
            "request.revoke",
            "revoke an approved query",
            "撤销已批准的查询",
            department="own",
            missing="no such query request",
        ),
        # Only the app that filed a query may run it; anyone else learns nothing about it.
        _A(
            "query.run",
            "run an approved query",
            "运行已批准的查询",
            app="own",
            hide_refusal=True,
            missing="no such approved query",
        ),
        _A(
            "decision.explain",
            "explain a decision",
            "解释访问决定",
            "own",
            "offered",
            True,
            missing="no such dataset",
        ),
        _A("budget.read", "read privacy budgets", "查看隐私预算", "own", "own", True, listing=True),
        _A(
            "token.reverse",
            "reverse a token",
            "还原令牌",
            department="own",
            missing="no such dataset",
        ),
        _A("log.read", "read access-log entries", "查看访问日志", "own", "own", True, listing=True),
        _A(
            "log.summary",
            "read the access-log summary",
            "查看访问日志汇总",
            "own",
            "own",
            True,
            listing=True,
        ),
        _A(
            "log.export",
            "export the access log with proofs",
            "导出访问日志及证明",
            "own",
            auditor=True,
            listing=True,
        ),
        _A(
            "checkpoint.read",
            "read the newest signed checkpoint",
            "查看最新签名检查点",
            "any",
            "any",
            True,
        ),
        _A("checkpoint.create", "sign a checkpoint now", "立即签署检查点", auditor=True),
        # The report speaks of the whole log (indexes of damaged entries): auditors only.
        _A("log.verify", "verify the whole stored log", "校验完整访问日志", auditor=True),
        _A(
            "proof.read",
            "read inclusion and consistency proofs",
            "查看包含与一致性证明",
            "any",
            "any",
            True,
        ),
        _A(
            "resident.lookup",
            "turn an ID number into a SubjectRef",
            "由身份证号查询主体标识",
            department="any",
            auditor=True,  # an auditor answering a resident's complaint resolves them too
        ),
        _A(
            "resident.history",
            "read who received rows about a resident",
            "查看居民被访问记录",
            "own",
            auditor=True,
            listing=True,
        ),
        # A resident's one-time link: any department may issue one for a resident it serves;
        # the link shows only accesses to that department's own datasets (what
        # resident.history already shows it), so issuing one reveals nothing new to it.
        _A(
            "resident_link.issue",
            "issue a resident a one-time link to their access history",
            "为居民签发一次性查询链接",
            department="any",
        ),
        _A(
            "resident_link.list",
            "list the resident links it issued",
            "列出已签发的居民链接",
            department="own",
            listing=True,
        ),
        _A(
            "resident_link.revoke",
            "revoke a resident link it issued",
            "撤销居民链接",
            department="own",
            missing="no such resident link",
        ),
        # Opening needs no key: the link's token is the credential, usable once.
        _A("resident_link.open", "open a one-time resident link", "打开居民查询链接", public=True),
        _A(
            "resident.own_history",
            "read one's own access history (a resident signed in through a link)",
            "居民查看本人被访问记录",
            resident=True,
        ),
        # Webhooks: every principal manages its own endpoints only; the service looks an
        # endpoint up by (caller, id), so another principal's is "no such webhook".
        _A(
            "webhook.register",
            "register a webhook endpoint for itself",
            "为自身登记 Webhook 接收地址",
            "any",
            "any",
            True,
        ),
        _A(
            "webhook.list",
            "list its own webhook endpoints",
            "列出自身 Webhook",
            "any",
            "any",
            True,
        ),
        _A(
            "webhook.delete",
            "delete one of its own webhook endpoints",
            "删除自身 Webhook",
            "any",
            "any",
            True,
            missing="no such webhook",
        ),
        _A(
            "webhook.deliveries",
            "read the delivery log of its own webhook endpoint",
            "查看自身 Webhook 投递记录",
            "any",
            "any",
            True,
            missing="no such webhook",
        ),
        # The web console (gateway/console): its pages ask the actions above about what they
        # show and change; these two are the console's own.
        _A("console.sign_in", "sign in to the web console", "登录网页控制台", public=True),
        _A("console.home", "open the web console", "打开网页控制台", "any", "any", True),
        _A("keys.read", "read the log's public verifier keys", "查看日志公钥", public=True),
        _A("health.read", "check liveness", "检查服务状态", public=True),
        _A("metrics.read", "read service metrics", "查看服务指标", public=True),
    )
}


# -- the rules --------------------------------------------------------------------------

Rule = Callable[[Action, AuthPrincipal, Resource], Verdict | None]

_KIND_NAMES = {
    "department": ("部门", "a department"),
    "app": ("社区应用", "a community app"),
    "auditor": ("审计员", "an auditor"),
    "resident": ("居民本人", "the resident"),
}
_REFUSAL_CODES = {
    "department": "not_a_department",
    "app": "not_an_app",
    "auditor": "not_an_auditor",
    "resident": "not_the_resident",
}


def _kinds(action: Action) -> list[str]:
    reach = {
        "department": action.department != "none",
        "app": action.app != "none",
        "auditor": action.auditor,
        "resident": action.resident,
    }
    return [k for k, ok in reach.items() if ok]


def public_rule(action: Action, who: AuthPrincipal, res: Resource) -> Verdict | None:
    """Public actions need no key, so every caller may."""
    if action.public:
        return _allow("public", "公开", "public")
    return None


def kind_rule(action: Action, who: AuthPrincipal, res: Resource) -> Verdict | None:
    """A caller whose kind the action is not meant for is refused."""
    kinds = _kinds(action)
    if action.public or who.kind in kinds:
        return None
    hidden = action.hide_refusal
    if len(kinds) == 1:
        zh, en = _KIND_NAMES[kinds[0]]
        return _deny(
            _REFUSAL_CODES[kinds[0]],
            f"只有{zh}可以{action.zh}",
            f"only {en} may {action.en}",
            hidden=hidden,
        )
    return _deny(
        "not_allowed", f"无权{action.zh}", f"this caller may not {action.en}", hidden=hidden
    )


def department_rule(action: Action, who: AuthPrincipal, res: Resource) -> Verdict | None:
    """Departments act on their own datasets, sources and requests ("own") or on any."""
    if who.kind != "department" or action.department == "none":
        return None
    if action.department == "any" or (action.listing and res.owner is None):
        return _allow("department", "部门可以操作", "a department may")
    if res.owner == who.domain:
        return _allow("owning_department", "所属部门", "the owning department")
    return _deny("not_owner", "不属于本部门", "not this department's", hidden=True)


def app_rule(action: Action, who: AuthPrincipal, res: Resource) -> Verdict | None:
    """Apps see datasets offering them a purpose, and only requests they filed."""
    if who.kind != "app" or action.app == "none":
        return None
    if action.app == "any" or (action.listing and res == NO_RESOURCE):
        return _allow("app", "应用可以操作", "an app may")
    if action.app == "offered":
        if res.offered:
            return _allow(
                "offered", "数据集向该应用提供用途", "the dataset offers this app a purpose"
            )
        return _deny(
            "not_offered",
            "数据集未向该应用提供用途",
            "the dataset offers this app nothing",
            hidden=True,
        )
    if res.app_id == who.id:
        return _allow("requesting_app", "提出申请的应用", "the app that filed it")
    return _deny("not_requesting_app", "不是提出申请的应用", "filed by another app", hidden=True)


def auditor_rule(action: Action, who: AuthPrincipal, res: Resource) -> Verdict | None:
    """Auditors read everything the action lets them (they change nothing but checkpoints)."""
    if who.kind == "auditor" and action.auditor:
        return _allow("auditor", "审计员", "an auditor")
    return None


def resident_rule(action: Action, who: AuthPrincipal, res: Resource) -> Verdict | None:
    """A resident signed in through a link reads their own history and nothing else.

    Which history is fixed by the link itself (its SubjectRef and its issuer's datasets),
    never by anything the resident sends, so there is no resource to compare here.
    """
    if who.kind == "resident" and action.resident:
        return _allow("resident", "居民本人", "the resident")
    return None


def asks_for_itself_rule(action: Action, who: AuthPrincipal, res: Resource) -> Verdict | None:
    """An app may have decisions explained for itself only, never for another app."""
    asks_another = res.asked_for not in (None, who.name)
    if action.name == "decision.explain" and who.kind == "app" and asks_another:
        return _deny("not_allowed", "应用只能查询自身的决定", "an app may only ask about itself")
    return None


RULES: tuple[Rule, ...] = (
    public_rule,
    kind_rule,
    department_rule,
    app_rule,
    asks_for_itself_rule,
    auditor_rule,
    resident_rule,
)

_NO_RULE = _deny("no_rule", "没有规则允许此操作", "no rule allows this")


def check(action: str, who: AuthPrincipal, resource: Resource = NO_RESOURCE) -> Verdict:
    """Ask every rule; the first deny wins, then any allow; with no opinion at all, deny."""
    spec = ACTIONS[action]
    verdicts = [v for rule in RULES if (v := rule(spec, who, resource)) is not None]
    denied = next((v for v in verdicts if not v.allowed), None)
    if denied is not None:
        return denied
    return next((v for v in verdicts if v.allowed), _NO_RULE)


def allowed(action: str, who: AuthPrincipal, resource: Resource = NO_RESOURCE) -> bool:
    return check(action, who, resource).allowed


def refusal(action: str, verdict: Verdict) -> Forbidden | NotFound:
    """The error a denied verdict answers: 404 when hidden, else 403 with the reason code."""
    if verdict.hidden:
        return NotFound(ACTIONS[action].missing)
    return Forbidden(verdict.reason, reason=verdict.code)


def require(action: str, who: AuthPrincipal, resource: Resource = NO_RESOURCE) -> None:
    """Raise the refusal unless ``who`` may do ``action`` on ``resource``."""
    verdict = check(action, who, resource)
    if not verdict.allowed:
        raise refusal(action, verdict)


def require_caller(action: str, who: AuthPrincipal) -> None:
    """Before the resource is loaded: refuse a caller whose kind the action is never for.

    Asked first, so that such a caller is told 403 with its reason whether or not the
    resource exists; ``require`` with the resource's facts follows once it is loaded.
    """
    verdict = kind_rule(ACTIONS[action], who, NO_RESOURCE)
    if verdict is not None:
        raise refusal(action, verdict)


def may_ever(action: str, who: AuthPrincipal) -> bool:
    """Whether ``who``'s kind is one ``action`` is for: the question before any resource.

    The console's menu asks it; the page itself still asks ``require`` with the facts.
    """
    spec = ACTIONS[action]
    return spec.public or kind_rule(spec, who, NO_RESOURCE) is None


@dataclass(frozen=True)
class Scope:
    """The part of a listing a caller may read; ``None`` fields do not narrow it."""

    owner: str | None = None  # only things on datasets this department owns
    app_id: str | None = None  # only things of this app (by principal id)
    app_name: str | None = None  # the same app, by name (the log records names)


def listing_scope(who: AuthPrincipal) -> Scope:
    """Departments: their own datasets'; apps: their own; auditors: everything."""
    if who.kind == "department":
        return Scope(owner=who.domain)
    if who.kind == "app":
        return Scope(app_id=who.id, app_name=who.name)
    if who.kind == "auditor":
        return Scope()
    # A kind no rule knows sees nothing: narrow to an owner no dataset has.
    return Scope(owner="", app_id="", app_name="")
