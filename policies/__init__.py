"""Usage policies and the pure decision function the gateway obeys.

Public API: ``UsagePolicy`` (the document a department writes), ``check_policy``
(problems against a dataset's columns), ``decide`` (Decision or Denial with a
reason in Chinese and English) and the small value types they use.
"""

from policies.decision import (
    Circumstances,
    Decision,
    Denial,
    PrincipalFacts,
    QueryShape,
    ScopeFilter,
    check_filter_values,
    decide,
)
from policies.document import (
    Bounds,
    ColumnRule,
    DifferentialPrivacy,
    Grantee,
    PurposeRule,
    ScopeCondition,
    SensitiveUse,
    UsagePolicy,
    check_policy,
    policy_version,
)
from policies.engine import PolicyEngine, RoleAssignment, derive_rules
from policies.hierarchy import PurposeHierarchy, load_hierarchy
from policies.purposes import covers

__all__ = [
    "Bounds",
    "Circumstances",
    "ColumnRule",
    "Decision",
    "Denial",
    "DifferentialPrivacy",
    "Grantee",
    "PolicyEngine",
    "PrincipalFacts",
    "PurposeHierarchy",
    "PurposeRule",
    "QueryShape",
    "RoleAssignment",
    "ScopeCondition",
    "ScopeFilter",
    "SensitiveUse",
    "UsagePolicy",
    "check_filter_values",
    "check_policy",
    "covers",
    "decide",
    "derive_rules",
    "load_hierarchy",
    "policy_version",
]
