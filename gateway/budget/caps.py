"""The caps a dataset's policy puts on the one ledger of each (app, dataset).

Every DP purpose of a dataset charges the same ledger (the residents are the same
whichever purpose asks), so the ledger honours every purpose's caps at once: per
window length the smallest budget, and the smallest lifetime and dataset caps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.budget.windows import to_micro
from policies import UsagePolicy


@dataclass(frozen=True)
class BudgetCaps:
    windows: dict[str, int]  # window name -> micro-ε per rolling window
    lifetime: int  # micro-ε one app ever spends on the dataset
    dataset: int  # micro-ε all apps together ever spend on the dataset


def caps_of(policy: dict[str, Any]) -> BudgetCaps:
    """Caps of a stored policy document; no DP purpose means nothing may be spent."""
    windows: dict[str, int] = {}
    lifetime: list[int] = []
    dataset: list[int] = []
    for rule in UsagePolicy.model_validate(policy).purposes:
        if rule.dp is None:
            continue
        cap = to_micro(rule.dp.epsilon_per_window)
        windows[rule.dp.window] = min(cap, windows.get(rule.dp.window, cap))
        lifetime.append(to_micro(rule.dp.epsilon_lifetime))
        dataset.append(to_micro(rule.dp.epsilon_dataset))
    return BudgetCaps(windows, min(lifetime, default=0), min(dataset, default=0))


# Why a reservation was refused, by the cap that refused it (shown to the app).
EXHAUSTED = {
    "window": "隐私预算不足 / the privacy budget of this window is exhausted",
    "lifetime": "本应用在该数据集上的隐私预算已用尽 / this app's lifetime privacy budget on this "
    "dataset is exhausted",
    "dataset": "该数据集的隐私预算已被所有应用用尽 / the dataset's privacy budget across all apps "
    "is exhausted",
}
