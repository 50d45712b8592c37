"""Generate tests/data/pii_eval.jsonl, the labelled evaluation set of the Chinese
PII recognizers (bench/pii_eval.py, bench/pii_speed.py).

    .venv/bin/python tests/data/make_pii_eval.py            # rewrite the file
    .venv/bin/python tests/data/make_pii_eval.py --check    # fail if it is stale

Deterministic: one seeded ``random.Random`` and ``Faker("zh_CN")`` seeded with
the same number, so the same code always writes byte-identical output.

One JSON object per line::

    {"id": "hotline-0001", "kind": "hotline" | "structured" | "negative",
     "text": "...", "entities": [{"entity": "PERSON", "start": 4, "end": 7}]}

Offsets are code points, end exclusive. Labelling rules, shared with the
recognizers' documentation:

- identifiers (ID numbers, mobiles, landlines, credit codes, cards, plates,
  passports, permits, e-mails) span the whole number as written, separators
  and the +86 / 0086 prefix included; only valid numbers are labelled;
- PERSON is surname + given name (no titles such as 先生);
- CN_ADDRESS is a run of at least two address components that starts with a
  named place and reaches street level or below (和平社区3号楼, 北京市朝阳区
  幸福街道...); a community or district alone is not an address, nor is a
  building and room without a place (3号楼502).

The hotline texts reuse the 12345 templates of ``gateway.demo.texts`` and add
templates for the identifiers those lack. Checksums are computed here with
code of its own, independent of ``anonymizers.pii.checksums``. Values are
synthetic: Faker names, random numbers with valid check characters.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers
from faker import Faker
from faker.providers.ssn.zh_CN import Provider as SsnProvider

from gateway.demo import texts as demo

SEED = 20261127
OUTPUT = Path(__file__).with_name("pii_eval.jsonl")
COUNTS = {"demo": 1000, "hotline": 900, "heldout": 300, "structured": 700, "negative": 700}

# -- checksums (independent implementations) -----------------------------------------

ID_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]
PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36",
    "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62",
    "63", "64", "65",
}  # fmt: skip
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def id_check(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def uscc_check(first17: str) -> str:
    total = sum(USCC_CHARS.index(c) * (3**i % 31) for i, c in enumerate(first17))
    return USCC_CHARS[-total % 31]


def org_check(body: str) -> str:
    alphabet = string.digits + string.ascii_uppercase
    total = sum(alphabet.index(c) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def luhn_check(body: str) -> str:
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str(-total % 10)


def luhn_ok(number: str) -> bool:
    return luhn_check(number[:-1]) == number[-1]


def id_ok(value: str) -> bool:
    """Region, date and check of an 18-character ID (used to reject negatives)."""
    if not re.fullmatch(r"[0-9]{17}[0-9X]", value) or value[:2] not in PROVINCES | {
        "71",
        "81",
        "82",
        "83",
    }:
        return False
    try:
        dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return id_check(value[:17]) == value[17]


# -- value generators ---------------------------------------------------------------

COMPOUND = [
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "慕容",
    "令狐",
    "皇甫",
    "尉迟",
    "长孙",
    "夏侯",
    "公孙",
]
PROVINCE_NAMES = [
    ("北京市", None), ("上海市", None), ("天津市", None), ("重庆市", None),
    ("河北省", "石家庄市"), ("山西省", "太原市"), ("辽宁省", "沈阳市"), ("吉林省", "长春市"),
    ("黑龙江省", "哈尔滨市"), ("江苏省", "南京市"), ("江苏省", "苏州市"), ("浙江省", "杭州市"),
    ("浙江省", "宁波市"), ("安徽省", "合肥市"), ("福建省", "厦门市"), ("江西省", "南昌市"),
    ("山东省", "青岛市"), ("山东省", "济南市"), ("河南省", "郑州市"), ("湖北省", "武汉市"),
    ("湖南省", "长沙市"), ("广东省", "广州市"), ("广东省", "深圳市"), ("四川省", "成都市"),
    ("贵州省", "贵阳市"), ("云南省", "昆明市"), ("陕西省", "西安市"), ("甘肃省", "兰州市"),
    ("广西壮族自治区", "南宁市"), ("内蒙古自治区", "呼和浩特市"),
    ("新疆维吾尔自治区", "乌鲁木齐市"),
]  # fmt: skip
DISTRICTS = [
    "朝阳区", "海淀区", "东城区", "西城区", "丰台区", "浦东新区", "徐汇区", "静安区", "和平区",
    "南开区", "天河区", "越秀区", "南山区", "福田区", "武侯区", "锦江区", "江岸区", "洪山区",
    "鼓楼区", "玄武区", "西湖区", "拱墅区", "雁塔区", "碑林区", "历下区", "市南区", "岳麓区",
    "昌平县", "密云县", "长安区", "新城区", "金水区",
]  # fmt: skip
STREETS = [
    "幸福街道", "建国门街道", "和平里街道", "望京街道", "劲松街道", "八里庄街道", "双井街道",
    "南湖街道", "新华街道", "东湖街道", "城关镇", "花园镇", "石桥镇", "龙泉镇", "太平乡",
]  # fmt: skip
ROADS = [
    "建国路", "人民路", "解放路", "中山路", "世纪大道", "长安街", "文三路", "天河路", "南京路",
    "淮海中路", "学院路", "幸福大街", "光华路", "和平路", "胜利街", "东风路", "青年路", "迎宾大道",
]  # fmt: skip
COMMUNITIES = [
    "和平社区", "光明社区", "建设社区", "友谊社区", "向阳社区", "幸福里社区", "紫竹院社区",
    "金台里社区", "新华社区", "团结社区", "阳光花园", "翠苑小区", "碧水家园", "锦绣花园",
    "东湖小区", "桃园新村", "红星村", "张家湾村", "枫林苑", "金色家园",
]  # fmt: skip
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
PLATE_CHARS = PLATE_LETTERS + string.digits
AREA_CODES = [
    "010", "020", "021", "022", "023", "024", "025", "027", "028", "029", "0311", "0351",
    "0371", "0431", "0451", "0471", "0512", "0531", "0532", "0551", "0571", "0574", "0591",
    "0592", "0731", "0755", "0769", "0771", "0851", "0871", "0898", "0931", "0991",
]  # fmt: skip
EMAIL_DOMAINS = [
    "qq.com",
    "163.com",
    "126.com",
    "sina.com",
    "gmail.com",
    "outlook.com",
    "foxmail.com",
    "example.cn",
]
CARD_BINS = [
    "622202",
    "621700",
    "622848",
    "621483",
    "622588",
    "621226",
    "622700",
    "620522",
    "623058",
    "621661",
]


@dataclass
class Values:
    rng: random.Random
    fake: Faker
    regions: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.regions = [
            c for c in SsnProvider.area_codes if c[:2] in PROVINCES and not c.endswith("0000")
        ]

    # identifiers
    def resident_id(self) -> str:
        draw = self.rng.random()
        region = (
            self.rng.choice(["810000", "820000", "830000"])
            if draw < 0.04
            else self.rng.choice(self.regions)
        )
        birth = dt.date(1930, 1, 1) + dt.timedelta(days=self.rng.randrange(365 * 85))
        first17 = f"{region}{birth:%Y%m%d}{self.rng.randrange(1000):03d}"
        value = first17 + id_check(first17)
        return value.lower() if value.endswith("X") and self.rng.random() < 0.3 else value

    def mobile_digits(self) -> str:
        return str(self.fake.phone_number())

    def mobile(self) -> str:
        m = self.mobile_digits()
        style = self.rng.choices(
            ["plain", "spaced", "dashed", "intl", "intl_spaced", "86", "0086"],
            weights=[50, 15, 8, 12, 5, 5, 5],
        )[0]
        if style in ("plain", "spaced", "dashed", "intl", "intl_spaced"):
            return demo.format_mobile(m, style)  # type: ignore[arg-type]
        return ("86" if style == "86" else "0086-") + m

    def landline(self) -> str:
        while True:
            area = self.rng.choice(AREA_CODES)
            length = 8 if len(area) == 3 or self.rng.random() < 0.7 else 7
            subscriber = str(self.rng.randint(2, 8)) + "".join(
                self.rng.choices(string.digits, k=length - 1)
            )
            parsed = phonenumbers.parse(area + subscriber, "CN")
            if phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
                phonenumbers.PhoneNumberType.FIXED_LINE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
            ):
                break
        style = self.rng.choice(["dash", "dash", "paren", "plain", "space", "intl"])
        if style == "dash":
            return f"{area}-{subscriber}"
        if style == "paren":
            return f"({area}){subscriber}"
        if style == "plain":
            return area + subscriber
        if style == "space":
            split = len(subscriber) - 4
            return f"{area} {subscriber[:split]} {subscriber[split:]}"
        return f"+86 {area[1:]} {subscriber}"

    def uscc(self) -> str:
        prefix = self.rng.choice(
            ["91", "91", "91", "92", "93", "11", "12", "13", "51", "52", "53", "N1", "N2", "Y1"]
        )
        region = self.rng.choice(self.regions)
        if self.rng.random() < 0.4:
            body = "MA" + "".join(self.rng.choices(string.digits + "ABCDEFGHJKLMNPQRTUWXY", k=6))
        else:
            body = "".join(self.rng.choices(string.digits, k=8))
        first17 = prefix + region + body + org_check(body)
        return first17 + uscc_check(first17)

    def bank_card(self) -> str:
        if self.rng.random() < 0.85:
            body = self.rng.choice(CARD_BINS) + "".join(
                self.rng.choices(string.digits, k=self.rng.choice([9, 12, 12]))
            )
        else:
            body = self.rng.choice(["4", "51", "53", "55"])
            body += "".join(self.rng.choices(string.digits, k=15 - len(body)))
        number = body + luhn_check(body)
        if self.rng.random() < 0.3:
            return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
        return number

    def plate(self) -> str:
        head = self.rng.choice(PLATE_PROVINCES) + self.rng.choice(
            PLATE_LETTERS.replace("I", "").replace("O", "")
        )
        kind = self.rng.random()
        if kind < 0.75:
            tail = "".join(self.rng.choices(string.digits, k=3)) + "".join(
                self.rng.choices(PLATE_CHARS, k=2)
            )
            tail = "".join(self.rng.sample(tail, len(tail)))
        elif kind < 0.92:
            tail = (
                self.rng.choice("DF")
                + self.rng.choice(PLATE_CHARS)
                + "".join(self.rng.choices(string.digits, k=4))
            )
        else:
            tail = "".join(self.rng.choices(string.digits, k=5)) + self.rng.choice("DF")
        return head + ("·" if self.rng.random() < 0.1 else "") + tail

    def passport(self) -> str:
        if self.rng.random() < 0.7:
            return "E" + "".join(self.rng.choices(string.digits, k=8))
        return (
            "E"
            + self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
            + "".join(self.rng.choices(string.digits, k=7))
        )

    def permit(self) -> tuple[str, str]:
        """(kind word, number)"""
        kind = self.rng.choice(["往来港澳通行证", "回乡证", "台湾通行证", "台胞证"])
        digits = "".join(self.rng.choices(string.digits, k=8))
        number = {
            "往来港澳通行证": "C",
            "回乡证": self.rng.choice("HM"),
            "台湾通行证": "L",
            "台胞证": "",
        }[kind] + digits
        return kind, number

    def email(self) -> str:
        if self.rng.random() < 0.3:
            user = str(self.rng.randint(10_000_000, 3_999_999_999))
            return f"{user}@qq.com"
        user = self.fake.user_name()
        return f"{user}@{self.rng.choice(EMAIL_DOMAINS)}"

    def person(self) -> str:
        surname = self.rng.choice(COMPOUND) if self.rng.random() < 0.08 else self.fake.last_name()
        given = (
            self.fake.first_name_male()
            if self.rng.random() < 0.5
            else self.fake.first_name_female()
        )
        return surname + given

    # places
    def building(self) -> str:
        return f"{self.rng.randint(1, 30)}{self.rng.choice(['号楼', '号楼', '栋', '幢'])}"

    def room(self) -> str:
        return f"{self.rng.randint(1, 18)}{self.rng.randint(1, 4):02d}"

    def address(self) -> str:
        shape = self.rng.random()
        province, city = self.rng.choice(PROVINCE_NAMES)
        top = province + (city or "")
        if shape < 0.35:  # full, down to the room
            parts = [
                top,
                self.rng.choice(DISTRICTS),
                self.rng.choice(STREETS),
                self.rng.choice(COMMUNITIES),
            ]
            parts += [self.building(), f"{self.rng.randint(1, 6)}单元", self.room() + "室"]
            if self.rng.random() < 0.3:
                parts.pop(0)
            return "".join(parts)
        if shape < 0.6:  # road and house number
            parts = [
                top,
                self.rng.choice(DISTRICTS),
                self.rng.choice(ROADS),
                f"{self.rng.randint(1, 999)}号",
            ]
            if self.rng.random() < 0.3:
                parts = parts[1:]
            if self.rng.random() < 0.3:
                parts.append(self.building())
            return "".join(parts)
        if shape < 0.85:  # community and building
            parts = [self.rng.choice(COMMUNITIES), self.building()]
            if self.rng.random() < 0.6:
                parts.append(f"{self.rng.randint(1, 6)}单元")
                if self.rng.random() < 0.5:
                    parts.append(self.room())
            return "".join(parts)
        return "".join([top, self.rng.choice(DISTRICTS), self.rng.choice(STREETS)])


# -- templates ------------------------------------------------------------------------

# {ENTITY} placeholders are labelled; {lower_case} placeholders are plain text.
HOTLINE_TEMPLATES = (
    "来电人{PERSON}，联系电话{CN_MOBILE}，家住{CN_ADDRESS}，反映楼道灯坏了{days}天。",
    "我叫{PERSON}，身份证号码{CN_RESIDENT_ID}，想咨询高龄补贴的申领流程。",
    "本人{PERSON}，申请低保，银行卡号{BANK_CARD}，请核实后发放。",
    "补贴请打到卡号{BANK_CARD}，户名{PERSON}。",
    "{PERSON}反映物业公司乱收费，该公司统一社会信用代码{CN_USCC}，请市场监管部门核查。",
    "举报某装修公司（统一社会信用代码：{CN_USCC}）夜间施工扰民。",
    "联系人{PERSON}，座机{CN_LANDLINE}，手机{CN_MOBILE}。",
    "请回电{CN_LANDLINE}找{PERSON}。",
    "车牌号{CN_PLATE}的车辆长期占用{CN_ADDRESS}门口消防通道。",
    "车主{PERSON}的车{CN_PLATE}停在{community}门口三天了。",
    "{PERSON}护照号码{CN_PASSPORT}，申请出国探亲证明。",
    "来电人{PERSON}，持{permit_kind}，号码{CN_TRAVEL_PERMIT}，咨询居住证办理。",
    "老人{PERSON}的女儿{PERSON}邮箱{EMAIL}，请把材料发到这个邮箱。",
    "请将回复发送至{EMAIL}，谢谢。联系人{PERSON}。",
    "我住在{CN_ADDRESS}，楼上漏水严重，电话{CN_MOBILE}。",
    "家庭住址：{CN_ADDRESS}，户主{PERSON}，身份证{CN_RESIDENT_ID}。",
    "{PERSON}和{PERSON}两家因为停车位发生纠纷，请社区调解。",
    "今天{PERSON}到社区办理居住证，预约电话{CN_MOBILE}。",
    "反映人{PERSON}（{CN_MOBILE}）称{CN_ADDRESS}的电梯经常停运。",
    "网格员{PERSON}上门走访了{CN_ADDRESS}的独居老人。",
    "邻居{PERSON}家的空调外机噪音太大，我家住{CN_ADDRESS}。",
    "工单：姓名{PERSON}，证件号{CN_RESIDENT_ID}，手机{CN_MOBILE}，地址{CN_ADDRESS}。",
    "{CN_ADDRESS}的{PERSON}长期在楼道堆放杂物。",
    "患者{PERSON}，{age}岁，家属电话{CN_MOBILE}，申请上门护理。",
    "申请人{PERSON}的社保卡号{BANK_CARD}已挂失。",
    "投诉人{PERSON}，身份证号{CN_RESIDENT_ID}，车牌{CN_PLATE}被违规贴条。",
    "商户统一社会信用代码{CN_USCC}，经营者{PERSON}，联系电话{CN_LANDLINE}。",
    "{PERSON}先生的邮箱是{EMAIL}，手机{CN_MOBILE}。",
    "志愿者{PERSON}负责{CN_ADDRESS}的助餐配送。",
    "来电人{PERSON}，台胞证号码{CN_TRAVEL_PERMIT}，咨询社区养老服务。",
    "持港澳居民居住证{CN_RESIDENT_ID}的{PERSON}咨询医保参保。",
    "{PERSON}，手机{CN_MOBILE}，微信同号。",
    "{PERSON}{CN_MOBILE}",
    "姓名：{PERSON} 电话：{CN_MOBILE} 身份证：{CN_RESIDENT_ID}",
    "收件人{PERSON}，{CN_MOBILE}，{CN_ADDRESS}",
    # names without a cue word right before them
    "{PERSON}说楼上漏水很久了，物业一直推脱。",
    "昨天下午{PERSON}去物业交了费，还是没有热水。",
    "请{PERSON}明天上午来社区一趟。",
    "社区书记{PERSON}表示会尽快协调处理。",
    "据{PERSON}反映，小区门禁经常失灵。",
    "{PERSON}老人今年{age}岁，独自居住，行动不便。",
    "物业经理{PERSON}一直没有回复。",
    "已电话联系{PERSON}核实情况。",
    "{PERSON}、{PERSON}和{PERSON}三户联名反映噪音问题。",
    "由{PERSON}负责跟进此事。",
    "小区保安{PERSON}态度恶劣，还推了老人。",
    "感谢{PERSON}师傅帮忙修好了水管。",
    "{PERSON}的儿子{PERSON}在外地工作，很少回来。",
    "楼长{PERSON}组织大家签了名。",
    "这件事{PERSON}也知道，可以作证。",
)
# Written after the recognizers were tuned on the templates above and never
# tuned against: bench/pii_eval.py reports them separately ("heldout").
HELDOUT_TEMPLATES = (
    "昨晚十点多，{PERSON}在{CN_ADDRESS}楼下烧纸，烟很大。",
    "我爸{PERSON}今年{age}岁了，想申请居家养老服务，我的电话是{CN_MOBILE}。",
    "麻烦转告{PERSON}，她的快递放在门卫室了。",
    "{PERSON}（身份证{CN_RESIDENT_ID}）的低保复核材料已提交。",
    "退款请打到{PERSON}的账户{BANK_CARD}。",
    "开发商{PERSON}留的电话{CN_LANDLINE}一直打不通。",
    "我们小区{CN_ADDRESS}的{PERSON}和{PERSON}经常吵架。",
    "居委会的{PERSON}阿姨说下周来看看。",
    "材料已发送到{EMAIL}，请{PERSON}查收。",
    "对方车牌是{CN_PLATE}，司机叫{PERSON}。",
    "业主群里{PERSON}说电梯维保公司的信用代码是{CN_USCC}。",
    "孩子的护照{CN_PASSPORT}丢了，家长{PERSON}来咨询补办。",
    "{PERSON}老师家住{CN_ADDRESS}，联系方式{CN_MOBILE}。",
    "上周{PERSON}来社区反映过同样的问题。",
    "房东{PERSON}不退押金，合同上写的手机号是{CN_MOBILE}。",
)
NO_NAME_TEXTS = (
    "高温天气请注意防暑，老人尽量减少外出。",
    "方便群众办事，社区服务站周六也开放。",
    "时间安排在明天下午三点，地点在社区活动室。",
    "文明养犬，请牵好绳。",
    "安全隐患已经排查，常态化管理还要加强。",
    "江边步道的路灯坏了好几盏。",
    "金额不对，多收了两个月的物业费。",
    "白天黑夜都有货车经过，噪音很大。",
    "马上要降温了，暖气什么时候开始供？",
    "于是大家决定找居委会反映。",
    "和物业沟通了很多次，一直没有结果。",
    "林荫道两边的树枝挡住了路灯。",
    "万一出了事谁负责？",
    "关于电梯加装的意见征集已经结束。",
    "常常半夜有人在楼下喝酒唱歌。",
    "朱红色的大门已经锈了，需要重新刷漆。",
    "石头砸坏了车窗，希望调取监控。",
    "黄色的垃圾桶是厨余垃圾，请分类投放。",
    "周末有义诊活动，欢迎居民参加。",
    "钱已经交了，收据还没拿到。",
)


def _demo_templates() -> list[str]:
    """The demo's hotline bodies and snippets in this generator's notation."""
    bodies = [body for group in demo.TEMPLATES.values() for body in group]
    bodies += [body for group in demo.NEIGHBOUR_TEMPLATES.values() for body in group]
    converted = []
    for body in bodies:
        body = body.replace("{community}{building}号楼{unit}单元", "{ADDR_CBU}")
        body = body.replace("{community}{building}号楼", "{ADDR_CB}")
        body = body.replace("{neighbour}", "{PERSON}").replace("{plate}", "{CN_PLATE}")
        converted.append(body)
    return converted


def _demo_snippets(snippets: tuple[tuple[str, frozenset[str]], ...]) -> list[str]:
    return [
        s.replace("{name}", "{PERSON}")
        .replace("{mobile}", "{CN_MOBILE}")
        .replace("{id_number}", "{CN_RESIDENT_ID}")
        for s, _ in snippets
    ]


# -- rendering ------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
Record = dict[str, object]


class Builder:
    def __init__(self, rng: random.Random, values: Values) -> None:
        self.rng = rng
        self.values = values
        self.permit_kind = "往来港澳通行证"
        self.permit_number = ""

    def plain(self, name: str) -> str:
        rng = self.rng
        generators: dict[str, Callable[[], str]] = {
            "community": lambda: rng.choice(COMMUNITIES),
            "building": lambda: str(rng.randint(1, 20)),
            "other_building": lambda: str(rng.randint(1, 20)),
            "unit": lambda: str(rng.randint(1, 4)),
            "room": self.values.room,
            "other_room": self.values.room,
            "hour": lambda: rng.choice(("十一", "十二", "22", "23", "24")),
            "days": lambda: str(rng.randint(2, 20)),
            "age": lambda: str(rng.randint(60, 95)),
            "permit_kind": lambda: self.permit_kind,
        }
        return generators[name]()

    def entity(self, name: str) -> tuple[str, str]:
        v = self.values
        if name == "ADDR_CB":
            return "CN_ADDRESS", self.rng.choice(
                COMMUNITIES[:10]
            ) + f"{self.rng.randint(1, 20)}号楼"
        if name == "ADDR_CBU":
            return "CN_ADDRESS", self.rng.choice(
                COMMUNITIES[:10]
            ) + f"{self.rng.randint(1, 20)}号楼{self.rng.randint(1, 4)}单元"
        if name == "CN_TRAVEL_PERMIT":
            return name, self.permit_number
        makers: dict[str, Callable[[], str]] = {
            "PERSON": v.person,
            "CN_MOBILE": v.mobile,
            "CN_RESIDENT_ID": v.resident_id,
            "CN_LANDLINE": v.landline,
            "CN_USCC": v.uscc,
            "BANK_CARD": v.bank_card,
            "CN_PLATE": v.plate,
            "CN_PASSPORT": v.passport,
            "EMAIL": v.email,
            "CN_ADDRESS": v.address,
        }
        return name, makers[name]()

    def render(self, template: str) -> tuple[str, list[dict[str, object]]]:
        if "{CN_TRAVEL_PERMIT}" in template:
            kind, self.permit_number = self.values.permit()
            if "台胞证" in template:
                self.permit_number = "".join(self.rng.choices(string.digits, k=8))
            else:
                while kind == "台胞证":
                    kind, self.permit_number = self.values.permit()
                self.permit_kind = kind
        out: list[str] = []
        spans: list[dict[str, object]] = []
        pos = 0
        length = 0
        for match in PLACEHOLDER.finditer(template):
            literal = template[pos : match.start()]
            out.append(literal)
            length += len(literal)
            name = match.group(1)
            if name.isupper():
                entity, value = self.entity(name)
                spans.append({"entity": entity, "start": length, "end": length + len(value)})
            else:
                value = self.plain(name)
            out.append(value)
            length += len(value)
            pos = match.end()
        out.append(template[pos:])
        return "".join(out), spans


FULL_WIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in string.digits + "+-"})


def full_width(text: str) -> str:
    return text.translate(FULL_WIDTH)


# -- record families ------------------------------------------------------------------


def demo_records(b: Builder, n: int) -> list[Record]:
    bodies = _demo_templates()
    prefixes = _demo_snippets(demo.PII_PREFIXES)
    suffixes = _demo_snippets(demo.PII_SUFFIXES)
    records = []
    for i in range(n):
        template = b.rng.choice(bodies)
        draw = b.rng.random()
        if draw < 0.25:
            template = b.rng.choice(prefixes) + template
        elif draw < 0.6:
            template = template + b.rng.choice(suffixes)
        text, spans = b.render(template)
        records.append({"id": f"demo-{i:04d}", "kind": "hotline", "text": text, "entities": spans})
    return records


def hotline_records(b: Builder, n: int) -> list[Record]:
    records = []
    for i in range(n):
        text, spans = b.render(b.rng.choice(HOTLINE_TEMPLATES))
        if b.rng.random() < 0.1:
            text = full_width(text)  # same length: the spans stay valid
        records.append(
            {"id": f"hotline-{i:04d}", "kind": "hotline", "text": text, "entities": spans}
        )
    return records


STRUCTURED_KINDS = (
    "CN_RESIDENT_ID", "CN_MOBILE", "CN_LANDLINE", "CN_USCC", "BANK_CARD", "CN_PLATE", "EMAIL",
    "PERSON", "PERSON", "CN_ADDRESS", "CN_PASSPORT", "CN_TRAVEL_PERMIT",
)  # fmt: skip


def heldout_records(b: Builder, n: int) -> list[Record]:
    records = []
    for i in range(n):
        text, spans = b.render(b.rng.choice(HELDOUT_TEMPLATES))
        records.append(
            {"id": f"heldout-{i:04d}", "kind": "heldout", "text": text, "entities": spans}
        )
    return records


def structured_records(b: Builder, n: int) -> list[Record]:
    """Single values as a column holds them (a label for the context-only ones)."""
    records = []
    for i in range(n):
        kind = STRUCTURED_KINDS[i % len(STRUCTURED_KINDS)]
        if kind == "CN_PASSPORT":
            text, spans = b.render(
                b.rng.choice(
                    ["护照号码：{CN_PASSPORT}", "护照 {CN_PASSPORT}", "passport: {CN_PASSPORT}"]
                )
            )
        elif kind == "CN_TRAVEL_PERMIT":
            text, spans = b.render(
                b.rng.choice(
                    ["{permit_kind}：{CN_TRAVEL_PERMIT}", "{permit_kind}号码{CN_TRAVEL_PERMIT}"]
                )
            )
        else:
            _, value = b.entity(kind)
            if kind in ("CN_RESIDENT_ID", "CN_MOBILE", "BANK_CARD") and b.rng.random() < 0.15:
                value = full_width(value)
            text, spans = value, [{"entity": kind, "start": 0, "end": len(value)}]
        records.append(
            {"id": f"structured-{i:04d}", "kind": "structured", "text": text, "entities": spans}
        )
    return records


def _digits(rng: random.Random, k: int, first: str = "123456789") -> str:
    return rng.choice(first) + "".join(rng.choices(string.digits, k=k - 1))


def negative_texts(b: Builder) -> list[Callable[[], str]]:
    """Texts with no entity at all, built to look like one."""
    rng, v = b.rng, b.values

    def bad_id() -> str:
        value = v.resident_id().upper()
        wrong = rng.choice([c for c in "0123456789X" if c != value[-1]])
        return value[:-1] + wrong

    def order18() -> str:
        while True:
            value = f"2025{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" + _digits(
                rng, 10, string.digits
            )
            if not id_ok(value) and not luhn_ok(value):
                return value

    def random18() -> str:
        while True:
            value = _digits(rng, 18)
            if not id_ok(value) and not luhn_ok(value):
                return value

    def bad_card() -> str:
        number = v.bank_card().replace(" ", "")
        wrong = str((int(number[-1]) + rng.randint(1, 9)) % 10)
        return number[:-1] + wrong

    def bad_uscc() -> str:
        value = v.uscc()
        return value[:-1] + rng.choice([c for c in USCC_CHARS if c != value[-1]])

    def price() -> str:
        return rng.choice(
            [
                f"¥{rng.randint(10, 9999)}.{rng.randint(0, 99):02d}",
                f"{rng.randint(100, 99999)}元",
                f"{rng.randint(1, 99)},{rng.randint(100, 999)}.00元",
            ]
        )

    def date() -> str:
        d = dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(2000))
        return rng.choice(
            [
                f"{d:%Y-%m-%d}",
                f"{d:%Y年%m月%d日}",
                f"{d:%Y%m%d}",
                f"{d:%Y/%m/%d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
            ]
        )

    def masked() -> str:
        return rng.choice(
            [
                "138****5678",
                "110105********002X",
                f"{v.mobile_digits()[:3]}****{v.mobile_digits()[-4:]}",
                "6222 **** **** 0123",
            ]
        )

    return [
        lambda: f"身份证号{bad_id()}填写有误，请重新核对。",
        lambda: f"订单号{order18()}已发货，预计{rng.randint(2, 5)}天送达。",
        lambda: f"快递单号SF{_digits(rng, 13, string.digits)}，请注意查收。",
        lambda: f"流水号{random18()}，交易金额{price()}。",
        lambda: f"银行卡号{bad_card()}校验失败，请重新输入。",
        lambda: f"统一社会信用代码{bad_uscc()}格式不正确。",
        lambda: f"缴费时间{date()}，金额{price()}。",
        lambda: f"编号{_digits(rng, 11, '2')}的工单已办结。",
        lambda: f"工单编号GD{date().replace('-', '')[:8]}{_digits(rng, 6, string.digits)}已转办。",
        lambda: f"发票号码{_digits(rng, 20, string.digits)}，开票日期{date()}。",
        lambda: f"已脱敏：电话{masked()}。",
        lambda: f"价格从{price()}涨到{price()}，{rng.randint(2, 20)}号楼居民意见很大。",
        lambda: (
            f"{rng.randint(1, 20)}号楼{v.room()}的住户反映{rng.choice(COMMUNITIES)}的路灯坏了。"
        ),
        lambda: (
            f"请拨打12345或{rng.choice(['110', '119', '120', '95588', '10086', '400-800-8888'])}。"
        ),
        lambda: (
            f"合同编号HT-2025-{rng.randint(1, 9999):04d}，"
            f"面积{rng.randint(40, 180)}.{rng.randint(0, 99)}平方米。"
        ),
        lambda: (
            f"温度{rng.randint(10, 30)}度，湿度{rng.randint(20, 90)}%，"
            f"时间{rng.randint(0, 23)}:{rng.randint(0, 59):02d}。"
        ),
        lambda: f"型号E{_digits(rng, 8, string.digits)}的热水器坏了。",
        lambda: f"批次号C{_digits(rng, 8, string.digits)}的药品已下架。",
        lambda: f"验证码{_digits(rng, 6, string.digits)}，{rng.randint(5, 10)}分钟内有效。",
        lambda: (
            f"{rng.choice(COMMUNITIES)}的老年驿站开放时间太短，"
            f"{rng.choice(['北京市朝阳区', '上海市浦东新区', '广州市天河区'])}的居民意见很大。"
        ),
        lambda: (
            f"第{rng.randint(1, 20)}季度报表，"
            f"{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}。"
        ),
        lambda: f"QQ群号{_digits(rng, 9)}，欢迎加入。",
        lambda: rng.choice(NO_NAME_TEXTS),
        lambda: b.render(
            rng.choice(_demo_templates())
            .replace("{ADDR_CBU}", "{community}")
            .replace("{ADDR_CB}", "{community}")
            .replace("{PERSON}", "{community}")
            .replace("{CN_PLATE}", "某车")
        )[0],
    ]


def negative_records(b: Builder, n: int) -> list[Record]:
    makers = negative_texts(b)
    records = []
    for i in range(n):
        text = makers[i % len(makers)]()
        records.append(
            {"id": f"negative-{i:04d}", "kind": "negative", "text": text, "entities": []}
        )
    return records


def generate(seed: int = SEED) -> list[Record]:
    rng = random.Random(seed)  # synthetic data, reproducible by design
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    builder = Builder(rng, Values(rng, fake))
    records = demo_records(builder, COUNTS["demo"])
    records += hotline_records(builder, COUNTS["hotline"])
    records += heldout_records(builder, COUNTS["heldout"])
    records += structured_records(builder, COUNTS["structured"])
    records += negative_records(builder, COUNTS["negative"])
    for record in records:
        text = str(record["text"])
        for span in record["entities"]:  # type: ignore[attr-defined]
            assert 0 <= span["start"] < span["end"] <= len(text), record
    return records


def dumps(records: list[Record]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed file differs")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    content = dumps(generate())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != content:
            print(f"{args.output} is stale: run tests/data/make_pii_eval.py", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(content, encoding="utf-8")
    print(f"wrote {content.count(chr(10))} records to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
