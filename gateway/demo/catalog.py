"""What the demo registers: principals, datasets with usage policies, approved queries.

The dataset documents live in ``datasets/*.yaml`` (with policy tests in
``datasets/tests/``), so ``cdg policy check`` and ``cdg policy test`` run on the
same files the seeder registers.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

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

DATASET_FILES = ("residents", "checkups", "complaints")


def _load_datasets() -> list[dict[str, Any]]:
    """The demo's dataset documents (YAML package data, each with its usage policy)."""
    folder = resources.files("gateway.demo").joinpath("datasets")
    return [
        yaml.safe_load(folder.joinpath(f"{name}.yaml").read_text(encoding="utf-8"))
        for name in DATASET_FILES
    ]


DATASETS: list[dict[str, Any]] = _load_datasets()

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
