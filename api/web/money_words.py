"""An amount in yuan as it is written on Chinese financial documents (大写金额), by ``cn2an``.

A checker confirming a back-payment reads the total twice, in figures and in words, as a cheque or
a payment voucher has it: 12,345.60 is 壹万贰仟叁佰肆拾伍元陆角.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import cn2an

FEN = Decimal("0.01")


def in_words(amount: Decimal) -> str:
    """The amount, rounded to the fen, in capital numerals; a negative amount reads 负."""
    exact = amount.quantize(FEN, rounding=ROUND_HALF_UP)
    if exact == 0:
        return "零元整"
    words = str(cn2an.an2cn(f"{abs(exact):.2f}", "rmb"))
    return f"负{words}" if exact < 0 else words
