"""What happens to values on their way out of the gateway: masking, keyed
pseudonyms, owner-reversible tokens (AES-SIV, FF1), generalisation, small-cell
suppression and k-anonymity, and the column operators that apply them.

A library: it imports nothing from `gateway`. Exceptions are described in
`anonymizers.errors`.
"""

from anonymizers.errors import (
    AnonymizerError,
    InvalidTokenError,
    KeyMaterialError,
    OperatorError,
    PiiError,
    SuppressionError,
    TokenError,
)
from anonymizers.fpe import FF1
from anonymizers.generalise import (
    age_band,
    birth_date_of,
    bucket,
    generalise_address,
    generalise_date,
    generalise_region,
)
from anonymizers.kanonymity import (
    KAnonymityReport,
    SmallCellReport,
    enforce_k_anonymity,
    suppress_small_groups,
)
from anonymizers.keys import derive_key
from anonymizers.masking import (
    ADDRESS_LEVELS,
    COMPOUND_SURNAMES,
    AddressLevel,
    mask_address,
    mask_generic,
    mask_id_number,
    mask_mobile,
    mask_name,
)
from anonymizers.normalise import normalise_identifier
from anonymizers.operators import Operator, OperatorContext, build_operator, operator_names
from anonymizers.pii import Finding, redact_text, scan_lines, scan_text
from anonymizers.pseudonyms import Pseudonymizer
from anonymizers.tokens import Ff1Tokenizer, SivTokenizer, TokenFormat, detokenise

__all__ = [
    "ADDRESS_LEVELS",
    "COMPOUND_SURNAMES",
    "FF1",
    "AddressLevel",
    "AnonymizerError",
    "Ff1Tokenizer",
    "Finding",
    "InvalidTokenError",
    "KAnonymityReport",
    "KeyMaterialError",
    "Operator",
    "OperatorContext",
    "OperatorError",
    "PiiError",
    "Pseudonymizer",
    "SivTokenizer",
    "SmallCellReport",
    "SuppressionError",
    "TokenError",
    "TokenFormat",
    "age_band",
    "birth_date_of",
    "bucket",
    "build_operator",
    "derive_key",
    "detokenise",
    "enforce_k_anonymity",
    "generalise_address",
    "generalise_date",
    "generalise_region",
    "mask_address",
    "mask_generic",
    "mask_id_number",
    "mask_mobile",
    "mask_name",
    "normalise_identifier",
    "operator_names",
    "redact_text",
    "scan_lines",
    "scan_text",
    "suppress_small_groups",
]
