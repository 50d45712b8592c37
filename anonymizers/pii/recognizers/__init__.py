"""The Chinese recognizers, one presidio recognizer class per entity.

Importing this package imports presidio (about a second); the public API in
`anonymizers.pii` imports it only when the first text is scanned.
"""

from anonymizers.pii.recognizers.address import CnAddressRecognizer
from anonymizers.pii.recognizers.bank_card import CnBankCardRecognizer
from anonymizers.pii.recognizers.base import ChinesePatternRecognizer
from anonymizers.pii.recognizers.email_address import CnEmailRecognizer
from anonymizers.pii.recognizers.person import CnPersonNameRecognizer
from anonymizers.pii.recognizers.phone import CnLandlineRecognizer, CnMobileRecognizer
from anonymizers.pii.recognizers.plate import CnPlateRecognizer
from anonymizers.pii.recognizers.resident_id import CnResidentIdRecognizer
from anonymizers.pii.recognizers.travel_documents import (
    CnPassportRecognizer,
    CnTravelPermitRecognizer,
)
from anonymizers.pii.recognizers.uscc import CnUsccRecognizer

__all__ = [
    "ChinesePatternRecognizer",
    "CnAddressRecognizer",
    "CnBankCardRecognizer",
    "CnEmailRecognizer",
    "CnLandlineRecognizer",
    "CnMobileRecognizer",
    "CnPassportRecognizer",
    "CnPersonNameRecognizer",
    "CnPlateRecognizer",
    "CnResidentIdRecognizer",
    "CnTravelPermitRecognizer",
    "CnUsccRecognizer",
]
