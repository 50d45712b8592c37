"""Templates for synthetic 12345 hotline complaints (市民热线工单).

Bodies are ``str.format`` templates. The placeholders they may use are:

``{community}``  the caller's community, e.g. 和平社区
``{building}``   the caller's building number, e.g. 3
``{unit}``       the caller's unit number, e.g. 2
``{room}``       the caller's room, e.g. 502
``{hour}``       an hour late at night, 22..24 (bodies add 点)
``{days}``       a small number of days, 2..20
``{neighbour}``  a neighbour's full name (only in :data:`NEIGHBOUR_TEMPLATES`)
``{other_room}`` the neighbour's room (only in :data:`NEIGHBOUR_TEMPLATES`)
``{other_building}`` the neighbour's building (only in :data:`NEIGHBOUR_TEMPLATES`)
``{plate}``      a licence plate such as 京N3K2P8 (only in :data:`NEIGHBOUR_TEMPLATES`)

Personal-data snippets (:data:`PII_PREFIXES`, :data:`PII_SUFFIXES`) use ``{name}``,
``{mobile}`` (already formatted by :func:`format_mobile`) and ``{id_number}``. Real
hotline tickets carry such details, which is why the gateway treats the column as
``free_text`` and scans it for PII.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

#: Complaint categories with their relative frequency.
CATEGORY_WEIGHTS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "噪音扰民": 20,
        "物业服务": 18,
        "环境卫生": 14,
        "停车管理": 14,
        "供暖供水": 12,
        "养老服务": 10,
        "违章搭建": 6,
        "宠物扰民": 6,
    }
)

#: Complaint bodies per category (20..80 characters once filled in).
TEMPLATES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "噪音扰民": (
            "{community}{building}号楼楼上每天晚上{hour}点以后还有很大的响动，家里老人孩子都休息不好，希望社区协调。",
            "{building}号楼旁边的工地夜间施工，已经连续{days}天吵到凌晨，请相关部门尽快查处。",
            "小区广场舞音响声音太大，每天晚上放到{hour}点多，{building}号楼的住户都受不了。",
            "{building}号楼{unit}单元有住户装修，周末早上七点就开始电钻作业，请物业管一管。",
            "楼下商铺的空调外机噪音很大，晚上{hour}点还在响，影响{community}居民睡眠。",
        ),
        "物业服务": (
            "{community}{building}号楼{unit}单元电梯又坏了，已经{days}天没人来修，老人上下楼很困难。",
            "物业收了费却不管事，{building}号楼楼道灯坏了{days}天一直没换，晚上出入不安全。",
            "{building}号楼{unit}单元门禁坏了，外来人员随便进出，多次找物业都没有处理。",
            "我家{room}室楼顶漏水，报修{days}天了物业还没派人来，墙面已经发霉。",
            "小区物业服务态度差，{building}号楼垃圾清运不及时，希望街道督促物业整改。",
        ),
        "环境卫生": (
            "{community}{building}号楼门口的垃圾桶满了{days}天没人清运，气味很大，苍蝇很多。",
            "小区绿化带里堆满了建筑垃圾，{building}号楼附近尤其严重，请尽快清理。",
            "{building}号楼{unit}单元楼道里堆放杂物，既脏又有消防隐患，希望社区处理。",
            "小区下水道堵塞，{building}号楼前面污水横流已经{days}天了，请安排疏通。",
        ),
        "停车管理": (
            "{community}车位太少，{building}号楼前消防通道天天停满车，出了事消防车都进不来。",
            "小区门口有车辆长期占道停放，早晚高峰堵得出不去，请交管部门来处理。",
            "小区停车费说涨就涨，没有公示也没有征求业主意见，{building}号楼居民意见很大。",
            "外来车辆随意进入小区停放，{building}号楼住户下班回来经常没有车位。",
        ),
        "供暖供水": (
            "{community}{building}号楼{unit}单元暖气不热，室温只有十四度，家里有老人，请尽快解决。",
            "{building}号楼已经停水{days}天了，没有任何通知，居民生活很不方便。",
            "我家{room}室暖气管道漏水，供热公司一直没人上门，请帮忙联系。",
            "{building}号楼自来水发黄有异味，已经持续{days}天，担心影响健康。",
        ),
        "养老服务": (
            "家里老人八十多岁独自居住在{community}{building}号楼，想申请上门助餐服务，不知道怎么办理。",
            "{community}的老年驿站开放时间太短，老人白天没地方活动，希望增加服务项目。",
            "想咨询高龄补贴的申领流程，老人住在{building}号楼{unit}单元，行动不便无法去现场。",
            "家里老人需要适老化改造，卫生间没有扶手，申请了{days}天还没有回复。",
            "社区助餐点的饭菜质量下降，价格却涨了，{community}的老人意见很大。",
        ),
        "违章搭建": (
            "{building}号楼一层住户私自扩建院子，占用了公共绿地，请城管部门核查。",
            "{community}{building}号楼楼顶有人违规搭建彩钢房，存在安全隐患。",
        ),
        "宠物扰民": (
            "{building}号楼有住户养大型犬不拴绳，在小区里追咬老人孩子，请社区管一管。",
            "{community}{building}号楼{unit}单元有人家里养了很多猫，楼道里气味很大。",
        ),
    }
)

#: Complaint bodies that name a neighbour, as real tickets sometimes do.
NEIGHBOUR_TEMPLATES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "噪音扰民": (
            "{other_building}号楼{other_room}的{neighbour}家每天晚上{hour}点以后还在跺脚拖家具，沟通多次无效。",
            "邻居{neighbour}（住{other_building}号楼{other_room}）装修已经{days}天了，中午也不停工。",
        ),
        "停车管理": (
            "{other_building}号楼的{neighbour}长期把车牌{plate}的车停在消防通道上，请处理。",
            "车牌{plate}的车主{neighbour}占用我的固定车位{days}天了，物业不管。",
        ),
        "环境卫生": (
            "{other_building}号楼{other_room}的{neighbour}家在楼道里堆放废品，气味很大，请社区处理。",
        ),
        "违章搭建": (
            "{other_building}号楼{other_room}的{neighbour}在阳台外违规加装铁架，存在坠物风险。",
        ),
        "宠物扰民": (
            "{other_building}号楼{other_room}的{neighbour}家的狗整夜叫，已经连续{days}天了。",
        ),
    }
)

#: Snippets put before the body; each names the fields it embeds.
PII_PREFIXES: Final[tuple[tuple[str, frozenset[str]], ...]] = (
    ("我是{community}的居民{name}，", frozenset({"name"})),
    ("来电人{name}，联系电话{mobile}。", frozenset({"name", "mobile"})),
    ("本人{name}，身份证号{id_number}，", frozenset({"name", "id_number"})),
)

#: Snippets put after the body; each names the fields it embeds.
PII_SUFFIXES: Final[tuple[tuple[str, frozenset[str]], ...]] = (
    ("请尽快回电{mobile}。", frozenset({"mobile"})),
    ("联系人{name}，电话{mobile}。", frozenset({"name", "mobile"})),
    ("我叫{name}，手机{mobile}，身份证{id_number}。", frozenset({"name", "mobile", "id_number"})),
    ("身份证号{id_number}，有问题请联系我。", frozenset({"id_number"})),
    ("有结果请打{mobile}告诉我，谢谢。", frozenset({"mobile"})),
)

MobileStyle = Literal["plain", "spaced", "intl", "intl_spaced", "dashed"]

#: How callers write their mobile number, with relative frequency.
MOBILE_STYLE_WEIGHTS: Final[Mapping[MobileStyle, int]] = MappingProxyType(
    {"plain": 55, "spaced": 20, "intl": 15, "intl_spaced": 5, "dashed": 5}
)


def format_mobile(mobile: str, style: MobileStyle) -> str:
    """Write an 11-digit mobile number the way a caller might, e.g. ``138 1234 5678``."""
    if len(mobile) != 11 or not mobile.isdigit():
        raise ValueError("mobile must be 11 digits")
    spaced = f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    if style == "plain":
        return mobile
    if style == "spaced":
        return spaced
    if style == "intl":
        return f"+86 {mobile}"
    if style == "intl_spaced":
        return f"+86 {spaced}"
    return f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"
