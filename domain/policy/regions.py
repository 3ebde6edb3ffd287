"""The province-level divisions of the mainland (GB/T 2260), so a catalogue file can be checked
against a fixed list: a file for "Guizou" or a Beijing file that calls itself 北平 is a mistake the
check should name, not a new region.
"""

from __future__ import annotations

# code (pinyin, the file stem) -> (GB/T 2260 two-digit code, Chinese name, English name)
PROVINCES: dict[str, tuple[str, str, str]] = {
    "beijing": ("11", "北京市", "Beijing"),
    "tianjin": ("12", "天津市", "Tianjin"),
    "hebei": ("13", "河北省", "Hebei"),
    "shanxi": ("14", "山西省", "Shanxi"),
    "inner_mongolia": ("15", "内蒙古自治区", "Inner Mongolia"),
    "liaoning": ("21", "辽宁省", "Liaoning"),
    "jilin": ("22", "吉林省", "Jilin"),
    "heilongjiang": ("23", "黑龙江省", "Heilongjiang"),
    "shanghai": ("31", "上海市", "Shanghai"),
    "jiangsu": ("32", "江苏省", "Jiangsu"),
    "zhejiang": ("33", "浙江省", "Zhejiang"),
    "anhui": ("34", "安徽省", "Anhui"),
    "fujian": ("35", "福建省", "Fujian"),
    "jiangxi": ("36", "江西省", "Jiangxi"),
    "shandong": ("37", "山东省", "Shandong"),
    "henan": ("41", "河南省", "Henan"),
    "hubei": ("42", "湖北省", "Hubei"),
    "hunan": ("43", "湖南省", "Hunan"),
    "guangdong": ("44", "广东省", "Guangdong"),
    "guangxi": ("45", "广西壮族自治区", "Guangxi"),
    "hainan": ("46", "海南省", "Hainan"),
    "chongqing": ("50", "重庆市", "Chongqing"),
    "sichuan": ("51", "四川省", "Sichuan"),
    "guizhou": ("52", "贵州省", "Guizhou"),
    "yunnan": ("53", "云南省", "Yunnan"),
    "tibet": ("54", "西藏自治区", "Tibet"),
    "shaanxi": ("61", "陕西省", "Shaanxi"),
    "gansu": ("62", "甘肃省", "Gansu"),
    "qinghai": ("63", "青海省", "Qinghai"),
    "ningxia": ("64", "宁夏回族自治区", "Ningxia"),
    "xinjiang": ("65", "新疆维吾尔自治区", "Xinjiang"),
}

NATIONAL = "national"

_SUFFIXES = ("维吾尔自治区", "回族自治区", "壮族自治区", "自治区", "省", "市")


def normalise(name: str) -> str:
    """Key for matching a region name: case, spaces, hyphens and underscores do not matter."""
    return "".join(ch for ch in name.strip().casefold() if ch not in " \t-_'’·")


def short_zh(name_zh: str) -> str:
    """北京市 -> 北京, 广西壮族自治区 -> 广西: the form people write."""
    for suffix in _SUFFIXES:
        if name_zh.endswith(suffix) and len(name_zh) > len(suffix):
            return name_zh[: -len(suffix)]
    return name_zh
