"""What the access log records: its events, outcomes, decision reasons and verify findings.

One registry in code. ``record`` and ``record_in`` refuse an event or outcome that is not
here, so the log cannot grow a kind of entry nobody documented; docs/audit.md's tables
are rendered from it (``python -m gateway.auditlog.events`` rewrites them, and a test
fails when the committed page differs).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Kind:
    name: str
    en: str
    zh: str


EVENTS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "query.run",
            "an app ran an approved query: released, failed after the source was "
            "read, or refused (also a refusal before the source is touched)",
            "应用运行已批准的查询:已发布、读取数据源后失败,或被拒绝",
        ),
        Kind(
            "request.filed",
            "an app filed a query request that awaits approval",
            "应用提交了待审批的查询申请",
        ),
        Kind(
            "request.approved",
            "the owning department approved a request, or the policy "
            "approved it on filing (no approval needed)",
            "数据所属部门批准了申请,或策略在提交时自动批准",
        ),
        Kind(
            "request.denied",
            "the policy refused a request when it was filed",
            "提交时策略拒绝了申请",
        ),
        Kind(
            "request.rejected",
            "the owning department rejected a pending request, or retired its dataset "
            "(`cause` says which)",
            "数据所属部门拒绝了待审批申请,或停用了其数据集(`cause` 说明原因)",
        ),
        Kind(
            "request.revoked",
            "the owning department revoked an approved query; `cause` is set when a "
            "retirement (`dataset_retired`, `source_retired`) or a policy replacement "
            "that breaks it (`policy_replaced`) did",
            "数据所属部门撤销了已批准的查询;因停用或替换策略而撤销时记录 `cause`",
        ),
        Kind(
            "source.registered",
            "a department registered a source database, or was refused one that is not its "
            "own (`decision.reason_code` says why; the URL is never logged)",
            "部门登记了数据源,或因数据库不属于本部门被拒绝(不记录地址)",
        ),
        Kind(
            "dataset.registered",
            "a department registered a dataset with its usage policy",
            "部门登记了数据集及其使用策略",
        ),
        Kind(
            "policy.replaced",
            "a department replaced a dataset's usage policy",
            "部门替换了数据集的使用策略",
        ),
        Kind(
            "dataset.retired",
            "a department retired a dataset (alone, or with its source: `cause`); "
            "`closed_queries` requests were revoked or rejected",
            "部门停用了数据集(单独或随数据源停用),其查询被撤销或拒绝",
        ),
        Kind(
            "source.retired",
            "a department retired a source and the datasets on it",
            "部门停用了数据源及其上的数据集",
        ),
        Kind(
            "principal.key_rotated",
            "a principal took a new API key; its earlier keys work for the grace period "
            "(`target` names it, `key_prefix` the new key's first characters)",
            "主体轮换了API密钥,旧密钥在宽限期内仍有效",
        ),
        Kind(
            "principal.key_reissued",
            "a department reissued a principal's API key; earlier keys stopped at once",
            "部门为主体重新签发API密钥,旧密钥立即失效",
        ),
        Kind(
            "principal.keys_expired",
            "every working API key of a principal was made to expire now",
            "主体的全部有效API密钥被立即设为过期",
        ),
        Kind(
            "token.reversed",
            "a department reversed a pseudonym token, or was refused",
            "部门还原了假名令牌,或被拒绝",
        ),
        Kind(
            "subject.lookup",
            "an ID number was turned into a SubjectRef (the number is not logged)",
            "由身份证号查询主体标识(不记录号码)",
        ),
        Kind(
            "subject.history",
            "a resident's access history was read (whose is not logged)",
            "查看了居民被访问记录(不记录是谁)",
        ),
        Kind(
            "subject.link_issued",
            "a department issued a resident a one-time link to their access "
            "history (the entry names the link, never the resident)",
            "部门为居民签发一次性查询链接(只记录链接编号,不记录居民)",
        ),
        Kind(
            "subject.link_opened",
            "a resident opened their one-time link; `refused` when it was already used, "
            "expired or revoked (`decision.reason_code` says which)",
            "居民打开一次性查询链接;链接已使用、已过期或已撤销时为 `refused`",
        ),
        Kind(
            "subject.link_revoked",
            "the issuer revoked a resident's link before it was used up",
            "签发方撤销了居民查询链接",
        ),
        Kind(
            "webhook.registered",
            "a principal registered a webhook endpoint for itself (the entry names the "
            "endpoint and its host, never the secret)",
            "主体为自身登记了 Webhook 接收地址(记录编号与主机,不记录密钥)",
        ),
        Kind(
            "webhook.deleted",
            "a principal deleted one of its webhook endpoints",
            "主体删除了自身的 Webhook 接收地址",
        ),
        Kind(
            "console.signed_in",
            "a principal signed in to the web console with its API key (the key and the "
            "session id are never logged)",
            "主体使用 API 密钥登录网页控制台(不记录密钥与会话编号)",
        ),
        Kind(
            "console.sign_in_failed",
            "a web-console sign-in with an unknown, revoked or malformed key was refused "
            "(`principal` is `anonymous`; nothing of the key is logged)",
            "网页控制台登录失败:密钥无效、已撤销或格式错误(主体记为 `anonymous`,不记录密钥)",
        ),
        Kind(
            "audit.repaired",
            "the operator restored missing tree nodes from the entries",
            "运维人员由日志条目恢复了缺失的树节点",
        ),
    )
}

OUTCOMES: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("ok", "the rows or aggregates were released", "已发布结果"),
        Kind(
            "refused",
            "refused; nothing was released (`decision.reason_code` says why)",
            "被拒绝,未发布任何数据",
        ),
        Kind(
            "source_error",
            "the department's database failed after the run was counted",
            "部门数据库出错",
        ),
        Kind("timeout", "the statement ran past its timeout", "语句执行超时"),
        Kind(
            "error",
            "the source was read but the release could not be prepared or "
            "returned; nothing was released",
            "已读取数据源但未能生成结果,未发布任何数据",
        ),
    )
}

# ``decision.reason_code`` of query, request and reversal entries.
REASONS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("granted", "the policy allowed it", "策略允许"),
        Kind("unknown_purpose", "the dataset's policy has no such purpose", "策略中无此用途"),
        Kind("purpose_not_granted", "the purpose is not granted to this app", "该用途未授予此应用"),
        Kind("role_not_granted", "the app's role is not among the grantees", "应用角色未获授权"),
        Kind("not_yet_valid", "the grant is not valid yet", "授权尚未生效"),
        Kind("grant_expired", "the grant has expired", "授权已过期"),
        Kind(
            "column_withheld",
            "a column the query uses is withheld for this purpose",
            "查询使用了该用途下不提供的列",
        ),
        Kind(
            "column_not_filterable",
            "a filter uses a column that may not be filtered on",
            "过滤条件使用了不可过滤的列",
        ),
        Kind(
            "filter_value_not_allowed",
            "a filter value is outside the declared values",
            "过滤值不在允许范围内",
        ),
        Kind(
            "filter_values_undeclared",
            "a filter on a column whose values are not declared",
            "过滤列未声明允许值",
        ),
        Kind("aggregate_only", "the purpose allows aggregates only", "该用途仅允许聚合查询"),
        Kind(
            "undeclared_group_keys",
            "grouping by columns the policy does not declare",
            "分组列未在策略中声明",
        ),
        Kind(
            "sensitive_needs_dp",
            "a sensitive column leaves only through differential privacy",
            "敏感列只能通过差分隐私发布",
        ),
        Kind(
            "sensitive_not_named",
            "a sensitive column is not named in the policy",
            "策略未列明该敏感列",
        ),
        Kind(
            "bounds_missing",
            "a differentially private aggregate lacks value bounds",
            "差分隐私聚合缺少取值范围",
        ),
        Kind(
            "epsilon_too_high",
            "the query asks for more ε than the policy allows",
            "请求的 ε 超过策略上限",
        ),
        Kind(
            "daily_quota_used",
            "the app's daily run quota on this dataset is used up",
            "当日运行次数已用完",
        ),
        Kind(
            "policy_changed",
            "the policy changed since the request was approved",
            "批准后策略已变更",
        ),
        Kind("unknown_query", "no such approved query for this app", "无此已批准查询"),
        Kind("query_pending", "the query has not been approved", "该查询尚未获批准"),
        Kind("query_rejected", "the query request was rejected", "该查询申请已被拒绝"),
        Kind("query_revoked", "the query was revoked", "该查询已被撤销"),
        Kind("query_expired", "the query approval has expired", "该查询已过期"),
        Kind("query_not_runnable", "the query is in no state to run", "该查询不可运行"),
        Kind(
            "run_quota_used",
            "the query has used all the runs its approval allows",
            "该查询的运行次数已用完",
        ),
        Kind(
            "budget_exhausted",
            "a privacy budget (window, lifetime or dataset) is spent",
            "隐私预算已用完",
        ),
        Kind(
            "too_many_groups",
            "a differentially private release would have too many groups",
            "差分隐私发布的分组过多",
        ),
        Kind(
            "scope_too_small",
            "the app's scope holds too few residents to release from",
            "应用范围内居民过少",
        ),
        Kind(
            "epsilon_not_calibratable",
            "the noise for the asked ε cannot be calibrated",
            "无法为所请求的 ε 校准噪声",
        ),
        Kind(
            "identical_run_pending",
            "the same DP release is being made by another run",
            "相同的差分隐私发布正在进行",
        ),
        Kind(
            "identical_run_failed",
            "the same DP release failed in another run",
            "相同的差分隐私发布在另一次运行中失败",
        ),
        Kind("refused", "a DP plan was refused without a more specific code", "差分隐私计划被拒绝"),
        Kind(
            "token_unrecognised",
            "reversal: the token is not one the gateway made",
            "还原:无法识别该令牌",
        ),
        Kind(
            "token_not_reversible",
            "reversal: the column's treatment cannot be reversed",
            "还原:该列处理方式不可还原",
        ),
        Kind(
            "token_key_version_unknown",
            "reversal: the token's key version is unknown",
            "还原:令牌密钥版本未知",
        ),
        Kind("link_used", "resident link: it was already opened once", "居民链接:已被使用"),
        Kind("link_expired", "resident link: it has expired", "居民链接:已过期"),
        Kind("link_revoked", "resident link: its issuer revoked it", "居民链接:已被撤销"),
        Kind(
            "source_is_store",
            "source registration: the database is the gateway's own store",
            "登记数据源:该数据库是网关自身的存储库",
        ),
        Kind(
            "source_owned_elsewhere",
            "source registration: another department already registered the database",
            "登记数据源:该数据库已由其他部门登记",
        ),
        Kind(
            "source_outside_directory",
            "source registration: the SQLite file is outside the department's own directory",
            "登记数据源:SQLite 文件不在本部门目录内",
        ),
        Kind(
            "invalid_key",
            "console sign-in: the API key is unknown, revoked, expired or malformed",
            "控制台登录:API 密钥无效、已撤销、已过期或格式错误",
        ),
    )
}

# What ``cdg audit verify`` reports (``problem``), from the store or from an export.
PROBLEMS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "changed_entry",
            "an entry's content was edited (or a forged entry put in its place)",
            "条目内容被修改",
        ),
        Kind(
            "broken_chain",
            "an entry was rewritten together with its hashes: the next entry's `prev` exposes it",
            "条目连同哈希被改写,哈希链断开",
        ),
        Kind(
            "missing_entry",
            "an entry was deleted from the middle; in an export, a line was "
            "removed or added (the chain breaks, an index is missing, or the seal counts other "
            "entries)",
            "条目被删除或插入",
        ),
        Kind(
            "reordered_entries",
            "entries were swapped or moved (in an export: an index is not "
            "larger than the one before it)",
            "条目被调换或移动",
        ),
        Kind(
            "truncated_tail",
            "entries were removed from the end: a signed checkpoint, the "
            "sequencer or a saved checkpoint counts more",
            "末尾条目被删除",
        ),
        Kind(
            "checkpoint_mismatch",
            "entries no longer hash to a signed checkpoint's root",
            "条目与已签名检查点的根哈希不符",
        ),
        Kind(
            "forged_checkpoint",
            "a checkpoint's signature does not verify with a published key",
            "检查点签名无效",
        ),
        Kind(
            "altered_checkpoint",
            "a checkpoint row differs from its signed note",
            "检查点记录与签名内容不符",
        ),
        Kind(
            "malformed_checkpoint",
            "a checkpoint note does not follow the signed-note grammar",
            "检查点格式不符合签名注记语法",
        ),
        Kind(
            "forged_cosignature",
            "a witness's cosignature line does not verify with that witness's key",
            "见证方联署签名无效",
        ),
        Kind(
            "missing_cosignatures",
            "the newest checkpoint carries fewer valid witness cosignatures than required",
            "最新检查点的有效见证联署不足",
        ),
        Kind(
            "changed_column",
            "a stored column the API filters or sums on (principal, dataset, "
            "purpose, event, decision, row count, privacy cost, recorded time) differs from "
            "the entry, compared exactly as stored (another spelling of the same time, or a "
            "value that does not read back, counts); in an export, a field of a line beside "
            "its signed entry (the message names the line and field)",
            "索引列与条目内容不符(按存储形式精确比较);导出行中条目外的字段与已签名条目不符",
        ),
        Kind(
            "changed_subject_index",
            "the resident index lists other residents for an entry "
            "than the entry commits to (a row deleted or inserted)",
            "居民索引与条目承诺不符",
        ),
        Kind(
            "missing_node",
            "a tree node is missing: derived data, `cdg audit repair` restores it",
            "树节点缺失(可修复)",
        ),
        Kind(
            "changed_node",
            "a tree node does not hash its children, or is not a 32-byte hash",
            "树节点哈希不符或格式错误",
        ),
        Kind(
            "extra_rows",
            "subject index rows or tree nodes lie past the last entry or at negative or "
            "non-integer positions (SQLite keeps 56.25 or a blob in an integer column; such a "
            "row is no entry's, never read as the integer near it), or the sequencer has more "
            "than its one row, or a sequencer or checkpoint size is not an integer",
            "最后条目之后、负位置或非整数位置存在多余的索引或节点,或序列器多于一行,"
            "或序列器、检查点的大小不是整数",
        ),
        Kind(
            "time_reversed",
            "an entry is recorded more than 5 s (the clock skew allowed between gateway "
            "processes) before the entry that precedes it: placed in the past",
            "条目记录时间早于前一条目超过 5 秒(允许的进程间时钟偏差):被倒填",
        ),
        Kind(
            "unauthenticated_entry",
            "an entry not under a signed checkpoint carries no entry MAC: it was written by "
            "someone with access to the store, not by the gateway (which will not sign it)",
            "未被签名检查点覆盖的条目缺少条目认证码:非网关写入,网关拒绝签名",
        ),
        Kind(
            "forged_entry_mac",
            "an entry's MAC does not verify with the master key: the MAC column was edited, "
            "or the entry was written outside the gateway",
            "条目认证码无效:认证码被修改或条目非网关写入",
        ),
        Kind(
            "not_in_log",
            "export: an entry's inclusion proof does not lead to the export's signed checkpoint",
            "导出条目不在已签名检查点中",
        ),
        Kind(
            "truncated_export",
            "export: the seal (the last line) is missing, lines were cut off the end",
            "导出文件缺少封印,末尾被截断",
        ),
        Kind(
            "forged_seal",
            "export: the seal's signature does not verify, or it belongs to "
            "another log or checkpoint",
            "导出封印无效",
        ),
        Kind("malformed_export", "export: a line is not an export record", "导出行格式错误"),
        Kind(
            "unverifiable",
            "export: `--since-checkpoint` with a filtered export; use "
            "`cdg audit consistency` with a proof",
            "筛选后的导出无法证明一致性",
        ),
    )
}


def _row(name: str, kind: Kind) -> str:
    return f"| `{name}` | {kind.en} | {kind.zh} |"


def table(registry: dict[str, Kind], first: str) -> str:
    head = f"| {first} | meaning | 含义 |\n|---|---|---|"
    return "\n".join([head, *(_row(n, k) for n, k in registry.items())])


TABLES = {
    "events": (EVENTS, "event"),
    "outcomes": (OUTCOMES, "outcome"),
    "reasons": (REASONS, "reason_code"),
    "problems": (PROBLEMS, "problem"),
}
_BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n).*?(<!-- end generated -->)", re.S)


def render(page: str) -> str:
    """The page with each generated block replaced by the table from the registry."""

    def fill(match: re.Match[str]) -> str:
        registry, first = TABLES[match.group(2)]
        return f"{match.group(1)}{table(registry, first)}\n{match.group(3)}"

    return _BLOCK.sub(fill, page)


DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


def check(event: str, outcome: object) -> None:
    """Refuse an undocumented event or outcome (a programming error, found by tests)."""
    if event not in EVENTS:
        raise ValueError(f"unregistered audit event {event!r}")
    if outcome is not None and outcome not in OUTCOMES:
        raise ValueError(f"unregistered audit outcome {outcome!r}")


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    sys.exit(0)
