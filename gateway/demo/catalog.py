"""What the demo registers: principals, datasets with usage policies, approved queries.

Plain data, so the docs and tests can read the same definitions the seeder uses.
"""

from __future__ import annotations

from typing import Any

# (name, kind, domain, role, display name)
PRINCIPALS: list[tuple[str, str, str, str, str]] = [
    ("civil-affairs", "department", "civil-affairs", "department", "区民政局"),
    ("health-commission", "department", "health-commission", "department", "区卫生健康委员会"),
    ("hotline-12345", "department", "hotline-12345", "department", "12345市民服务热线"),
    ("heping-committee", "app", "heping", "neighbourhood-committee", "和平社区居委会"),
    ("guangming-eldercare", "app", "guangming", "elder-care", "光明社区养老服务驿站"),
    ("jianshe-property", "app", "jianshe", "property", "建设社区家园物业"),
    ("district-auditor", "auditor", "district", "auditor", "区数据审计办公室"),
]

# source name -> owning department
SOURCE_OWNERS = {
    "civil_affairs": "civil-affairs",
    "health": "health-commission",
    "hotline": "hotline-12345",
}

_OWN_COMMUNITY = {"column": "community", "op": "=", "principal": "domain"}


def _cols(*spec: tuple[str, str, str, str]) -> list[dict[str, str]]:
    return [{"name": n, "type": t, "classification": c, "description": d} for n, t, c, d in spec]


DATASETS: list[dict[str, Any]] = [
    {
        "name": "residents",
        "source": "civil_affairs",
        "table": "residents",
        "description": "民政户籍居民登记 / civil affairs resident registry",
        "privacy_unit": "resident_id",
        "columns": _cols(
            ("resident_id", "string", "direct_identifier", "居民身份证号码"),
            ("name", "string", "direct_identifier", "姓名"),
            ("gender", "string", "quasi_identifier", "性别"),
            ("birth_date", "date", "quasi_identifier", "出生日期"),
            ("age", "integer", "quasi_identifier", "年龄 (2026-01-01)"),
            ("mobile", "string", "direct_identifier", "手机号码"),
            ("community", "string", "attribute", "社区代码"),
            ("building", "integer", "quasi_identifier", "楼号"),
            ("unit", "integer", "quasi_identifier", "单元"),
            ("room", "string", "quasi_identifier", "房间号"),
            ("address", "string", "direct_identifier", "住址"),
            ("household_id", "string", "quasi_identifier", "户编号"),
            ("lives_alone", "integer", "attribute", "独居"),
            ("disability_level", "integer", "sensitive", "残疾等级"),
            ("subsidy_status", "string", "sensitive", "救助/补贴类型"),
        ),
        "policy": {
            "retention": "结果仅用于本次服务，30天内删除 / delete results within 30 days",
            "purposes": [
                {
                    "purpose": "public-service.elderly-care.home-visit",
                    "legal_basis": (
                        "《个人信息保护法》第十三条第(三)(五)项: 履行法定职责, 独居老人探访"
                    ),
                    "grantees": [
                        {"role": "neighbourhood-committee"},
                        {"role": "elder-care"},
                    ],
                    "access": "rows",
                    "columns": {
                        "resident_id": {"treatment": "pseudonymise"},
                        "name": {"treatment": "mask", "params": {"kind": "name"}},
                        "mobile": {"treatment": "mask", "params": {"kind": "mobile"}},
                        "age": {"treatment": "keep"},
                        "gender": {"treatment": "keep"},
                        "community": {"treatment": "keep"},
                        "building": {"treatment": "keep"},
                        "unit": {"treatment": "keep"},
                        "room": {"treatment": "keep"},
                        "lives_alone": {"treatment": "keep"},
                    },
                    "row_scope": [_OWN_COMMUNITY, {"column": "age", "op": ">=", "value": 70}],
                    "approval": "manual",
                    "max_rows": 2000,
                },
                {
                    "purpose": "public-service.community-planning",
                    "legal_basis": "社区公共服务规划 (统计结果, 不含个人信息)",
                    "grantees": [{"role": "neighbourhood-committee"}, {"role": "elder-care"}],
                    "access": "aggregate",
                    "columns": {
                        "community": {"treatment": "keep"},
                        "building": {"treatment": "keep"},
                        "age": {"treatment": "keep"},
                        "gender": {"treatment": "keep"},
                        "lives_alone": {"treatment": "keep"},
                        "disability_level": {"treatment": "keep"},
                    },
                    "row_scope": [_OWN_COMMUNITY],
                    "min_group_size": 10,
                    "approval": "manual",
                },
            ],
        },
    },
    {
        "name": "checkups",
        "source": "health",
        "table": "checkups",
        "description": "老年人健康体检 / elderly health check-ups",
        "privacy_unit": "resident_id",
        "columns": _cols(
            ("checkup_id", "integer", "attribute", "体检编号"),
            ("resident_id", "string", "direct_identifier", "居民身份证号码"),
            ("community", "string", "attribute", "社区代码"),
            ("checkup_date", "date", "quasi_identifier", "体检日期"),
            ("systolic", "integer", "sensitive", "收缩压"),
            ("diastolic", "integer", "sensitive", "舒张压"),
            ("diagnosis_code", "string", "sensitive", "诊断编码 (ICD-10)"),
            ("hypertension", "integer", "sensitive", "高血压"),
            ("diabetes", "integer", "sensitive", "糖尿病"),
            ("heart_disease", "integer", "sensitive", "心脏病"),
        ),
        "policy": {
            "retention": "统计结果可保存一年 / aggregates may be kept for one year",
            "purposes": [
                {
                    "purpose": "public-service.elderly-care.health-follow-up",
                    "legal_basis": "《基本医疗卫生与健康促进法》老年人健康管理; 仅统计结果",
                    "grantees": [{"role": "elder-care"}],
                    "access": "aggregate",
                    "columns": {
                        "community": {"treatment": "keep"},
                        "hypertension": {"treatment": "keep"},
                        "diabetes": {"treatment": "keep"},
                        "heart_disease": {"treatment": "keep"},
                        "systolic": {"treatment": "keep"},
                        "diastolic": {"treatment": "keep"},
                    },
                    "row_scope": [_OWN_COMMUNITY],
                    "min_group_size": 10,
                    "approval": "manual",
                    "dp": {
                        "epsilon_per_run": 0.5,
                        "epsilon_per_window": 5.0,
                        "window": "month",
                        "contribution_limit": 2,
                        "bounds": {
                            "systolic": {"lower": 80, "upper": 220},
                            "diastolic": {"lower": 40, "upper": 140},
                        },
                        "group_keys": {
                            "hypertension": [0, 1],
                            "diabetes": [0, 1],
                            "heart_disease": [0, 1],
                        },
                        "confidence": 0.95,
                    },
                },
            ],
        },
    },
    {
        "name": "complaints",
        "source": "hotline",
        "table": "complaints",
        "description": "12345 热线诉求 / 12345 hotline complaints",
        "privacy_unit": "resident_id",
        "columns": _cols(
            ("complaint_id", "integer", "attribute", "工单编号"),
            ("resident_id", "string", "direct_identifier", "来电人身份证号码"),
            ("community", "string", "attribute", "社区代码"),
            ("received_at", "date", "attribute", "受理日期"),
            ("category", "string", "attribute", "诉求类别"),
            ("text", "string", "free_text", "诉求内容"),
            ("status", "string", "attribute", "办理状态"),
        ),
        "policy": {
            "retention": "工单办结后90天内删除 / delete 90 days after the case closes",
            "purposes": [
                {
                    "purpose": "property.complaint-handling",
                    "legal_basis": "物业服务合同履行 (《民法典》第九百四十二条)",
                    "grantees": [{"role": "property"}],
                    "access": "rows",
                    "columns": {
                        "complaint_id": {"treatment": "keep"},
                        "received_at": {"treatment": "keep"},
                        "category": {"treatment": "keep"},
                        "status": {"treatment": "keep"},
                        "text": {"treatment": "redact", "params": {"constant": "[诉求内容已隐去]"}},
                        "resident_id": {"treatment": "pseudonymise"},
                    },
                    "row_scope": [
                        _OWN_COMMUNITY,
                        {
                            "column": "category",
                            "op": "in",
                            "value": ["物业服务", "停车管理", "环境卫生", "噪音扰民"],
                        },
                    ],
                    "approval": "manual",
                    "max_rows": 500,
                },
                {
                    "purpose": "property.service-statistics",
                    "legal_basis": "物业服务质量统计 (统计结果, 不含个人信息)",
                    "grantees": [{"role": "property"}, {"role": "neighbourhood-committee"}],
                    "access": "aggregate",
                    "columns": {
                        "category": {"treatment": "keep"},
                        "status": {"treatment": "keep"},
                        "received_at": {"treatment": "keep"},
                    },
                    "row_scope": [_OWN_COMMUNITY],
                    "min_group_size": 5,
                    "approval": "automatic",
                },
            ],
        },
    },
]

# app, dataset name, purpose, justification, spec, example params
QUERIES: list[tuple[str, str, str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "heping-committee",
        "residents",
        "public-service.elderly-care.home-visit",
        "每月走访本社区独居高龄老人 / monthly visits to elderly residents living alone",
        {
            "select": ["resident_id", "name", "mobile", "age", "building", "unit", "room"],
            "filters": [
                {"column": "lives_alone", "op": "=", "value": 1},
                {"column": "age", "op": ">=", "value": {"param": "min_age"}},
            ],
            "order_by": [{"column": "building"}, {"column": "unit"}],
            "limit": 500,
            "params": {"min_age": {"type": "integer", "default": 80}},
        },
        {"min_age": 80},
    ),
    (
        "heping-committee",
        "residents",
        "public-service.community-planning",
        "按楼栋统计老年人口, 规划助餐点 / elderly residents per building for meal-point planning",
        {
            "aggregates": [
                {"fn": "count", "as": "residents"},
                {"fn": "mean", "column": "age", "as": "mean_age"},
            ],
            "filters": [{"column": "age", "op": ">=", "value": {"param": "min_age"}}],
            "group_by": ["building"],
            "order_by": [{"column": "building"}],
            "params": {"min_age": {"type": "integer", "default": 60}},
        },
        {"min_age": 60},
    ),
    (
        "guangming-eldercare",
        "residents",
        "public-service.elderly-care.home-visit",
        "为独居老人安排上门助老服务 / home-care visits for residents living alone",
        {
            "select": [
                "resident_id",
                "name",
                "mobile",
                "age",
                "gender",
                "building",
                "unit",
                "room",
            ],
            "filters": [
                {"column": "lives_alone", "op": "=", "value": 1},
                {
                    "column": "age",
                    "op": "between",
                    "value": [{"param": "min_age"}, {"param": "max_age"}],
                },
            ],
            "order_by": [{"column": "age", "desc": True}],
            "limit": 200,
            "params": {
                "min_age": {"type": "integer", "default": 75},
                "max_age": {"type": "integer", "default": 120},
            },
        },
        {"min_age": 75, "max_age": 120},
    ),
    (
        "guangming-eldercare",
        "checkups",
        "public-service.elderly-care.health-follow-up",
        "慢病随访服务规划 / planning chronic-disease follow-up",
        {
            "aggregates": [
                {"fn": "count", "as": "checkups"},
                {"fn": "mean", "column": "systolic", "as": "mean_systolic"},
            ],
            "group_by": ["hypertension", "diabetes"],
            "order_by": [{"column": "hypertension"}, {"column": "diabetes"}],
        },
        {},
    ),
    (
        "jianshe-property",
        "complaints",
        "property.complaint-handling",
        "处理本小区物业相关的12345工单 / handle property-related hotline cases",
        {
            "select": ["complaint_id", "received_at", "category", "status", "text", "resident_id"],
            "filters": [
                {"column": "category", "op": "=", "value": {"param": "category"}},
                {"column": "received_at", "op": ">=", "value": {"param": "since"}},
            ],
            "order_by": [{"column": "received_at", "desc": True}],
            "limit": 100,
            "params": {
                "category": {"type": "string", "default": "物业服务"},
                "since": {"type": "date", "default": "2025-01-01"},
            },
        },
        {"category": "物业服务", "since": "2025-06-01"},
    ),
    (
        "jianshe-property",
        "complaints",
        "property.service-statistics",
        "按类别统计诉求量 / case counts per category",
        {
            "aggregates": [{"fn": "count", "as": "cases"}],
            "group_by": ["category", "status"],
            "order_by": [{"column": "cases", "desc": True}],
        },
        {},
    ),
]
