"""What happens to values on their way out of the gateway: masking, keyed
pseudonyms and the column operators that apply them.

A library: it imports nothing from `gateway`. Exceptions are described in
`anonymizers.errors`.
"""

from anonymizers.errors import AnonymizerError, KeyMaterialError, OperatorError
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
from anonymizers.pseudonyms import Pseudonymizer

__all__ = [
    "ADDRESS_LEVELS",
    "COMPOUND_SURNAMES",
    "AddressLevel",
    "AnonymizerError",
    "KeyMaterialError",
    "Operator",
    "OperatorContext",
    "OperatorError",
    "Pseudonymizer",
    "build_operator",
    "derive_key",
    "mask_address",
    "mask_generic",
    "mask_id_number",
    "mask_mobile",
    "mask_name",
    "normalise_identifier",
    "operator_names",
]
