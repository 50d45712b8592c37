"""Chinese surnames for the person-name recognizer.

`SINGLE_SURNAMES`: the single-character surnames of the 百家姓 plus the
frequent modern ones it lacks (付, 肖, 覃, 闫 ...). Compound surnames are
`anonymizers.masking.COMPOUND_SURNAMES`, shared with name masking.

`AMBIGUOUS_COMPOUNDS`: compound surnames that are also everyday words
(东方, 南门, 百里 ...): they need the same extra evidence as ambiguous ones.

`AMBIGUOUS_SURNAMES`: surnames that are also everyday words (和, 高, 方,
时 ...). Without a context cue such as 我叫 they start a name only when jieba
tags the whole word as a person name.
"""

from __future__ import annotations

from typing import Final

from anonymizers.masking import COMPOUND_SURNAMES

__all__ = [
    "AMBIGUOUS_COMPOUNDS",
    "AMBIGUOUS_SURNAMES",
    "COMPOUND_SURNAMES",
    "GIVEN_NAME_CHARS",
    "SINGLE_SURNAMES",
]

_BAIJIAXING: Final = (
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章"
    "云苏潘葛奚范彭郎鲁韦昌马苗凤花方俞任袁柳酆鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常"
    "乐于时傅皮卞齐康伍余元卜顾孟平黄和穆萧尹姚邵湛汪祁毛禹狄米贝明臧计伏成戴谈宋茅庞"
    "熊纪舒屈项祝董梁杜阮蓝闵席季麻强贾路娄危江童颜郭梅盛林刁钟徐邱骆高夏蔡田樊胡凌霍"
    "虞万支柯昝管卢莫经房裘缪干解应宗丁宣贲邓郁单杭洪包诸左石崔吉钮龚程嵇邢滑裴陆荣翁"
    "荀羊於惠甄曲家封芮羿储靳汲邴糜松井段富巫乌焦巴弓牧隗山谷车侯宓蓬全郗班仰秋仲伊宫"
    "宁仇栾暴甘钭厉戎祖武符刘景詹束龙叶幸司韶郜黎蓟薄印宿白怀蒲邰从鄂索咸籍赖卓蔺屠蒙"
    "池乔阴鬱胥能苍双闻莘党翟谭贡劳逄姬申扶堵冉宰郦雍卻璩桑桂濮牛寿通边扈燕冀郏浦尚农"
    "温别庄晏柴瞿阎充慕连茹习宦艾鱼容向古易慎戈廖庾终暨居衡步都耿满弘匡国文寇广禄阙东"
    "欧殳沃利蔚越夔隆师巩厍聂晁勾敖融冷訾辛阚那简饶空曾毋沙乜养鞠须丰巢关蒯相查后荆红"
    "游竺权逯盖益桓公仉督晋楚闫法汝鄢涂钦岳帅缑亢况郈有琴商牟佘佴伯赏墨哈谯笪年爱阳佟"
    "言福"
)
_MODERN: Final = (
    "付肖覃邸揭练冼粟眭代占苟兰银敬官过麦邝来原门铁凡战修隋展朴庹淡郄逢檀撒盘位仝区海"
    "豆卿初普阿辜母亓赫鲜玉宾呼但尉冶斯衣信智奉植尧闭由芦迟苑栗谌楼旷丛南漆鹿"
)

SINGLE_SURNAMES: Final = frozenset(_BAIJIAXING + _MODERN)

AMBIGUOUS_COMPOUNDS: Final = frozenset(
    {"东方", "南门", "西门", "东门", "百里", "第五", "司空", "单于", "公羊", "东郭", "南宫"}
)

AMBIGUOUS_SURNAMES: Final = (
    frozenset(
        "和于时元文方都有年来原由但从过代占向能后相关公国东常安乐强路成明平那双步满干解应经单"
        "司师别终居广利越查红益盖权养须丰通全车水山家门区海信阿位初普空言福法爱高"
    )
    & SINGLE_SURNAMES
)

#: Characters common in given names (常见名字用字). Without a cue word, a name's
#: given part must be made of these: 朱红色 and 林荫道 are not names.
GIVEN_NAME_CHARS: Final = frozenset(
    "伟强磊洋勇军杰涛超明刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欢佳阳亮成建峰国志晨瑞兵"
    "雷东博彬坤岩杨文利楠红霞芳娜敏静秀英丽艳娟燕玲桂丹萍玉兰梅莉珍婷凤晶颖雪慧倩琴畅云洁"
    "柳淑春海冬荣琳欣美娇媛婉嘉怡思雨梦琪瑶璐菲蕾薇露晓小子梓涵轩然航睿泽昊天一诺悦可馨若"
    "依语诗乐安逸辰宸铭皓煜熙哲翔鸿毅智远卫新中生福德永贵富祥才发武全义良山仁贤忠顺金银宝"
    "珠翠彩菊香花月莲琼爱妹芬芝蓉娥素秋婕妍彤茜蓓姗晴婧蕊岚瑾璇璟瑛琦瑜珊琰琬雯靖婵歆楚乔"
    "亭宜宏宪伦锋钢铁森松柏杉桐榕树根江河湖洪清源溪瀚潇滨汉渊淼泉沛泓润洲澜冰凌霜曦昕晖晗"
    "晟昭显景晋朗星宙乾泰岳峻岭崇嵩石砚玮琛璋珂珏玥佩伊仪俏娴娅姣姝姿娆嫣妙妮姬喜庆康恬愉"
    "惠聪维理奇豪雄威坚猛彪虎鹤鹰莺麟骏驰腾扬达通和谐禄寿财昌盛兴旺隆功业立创开拓展进先诚"
    "信礼孝善雅贞霖沐浦淳澄澈潭漪桦楷栋梁栩柯枫桃李杏梨荷菡萱蔓芸芷苗茵萌莹蓝青紫碧朱赤"
    "铜钰铮锦绣绮纯缘纬绍继承传延长久恒定稳固守保护佑祐祺祯禧典章莎丝曼迪笑童言想正光"
    "友民少大二三四五六七八九士军力运宗耀振家庭汝之以其元君启卿尚勤俭朴实笛声音韵律琴"
    "书画墨砚笙箫歌舞蝶燕鹃鹂雁鸥凤凰翎羽飞琨瑗璨瑄琇琮珺瑭钧铄镇锐钦钊铎锴镭锡"
)
