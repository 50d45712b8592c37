"""PolicyEngine (indexed) gives casbin's answer for model.conf, key by key."""

from __future__ import annotations

import random
import time

from policies import PolicyEngine
from policies.engine import Rule, casbin_enforcer
from policies.hierarchy import load_hierarchy


def _world(seed: int, datasets: int, principals: int) -> tuple[list[Rule], list[tuple[str, ...]]]:
    rng = random.Random(seed)
    purposes = sorted(load_hierarchy().nodes)
    roles = [f"role-{i}" for i in range(12)]
    domains = [f"community-{i}" for i in range(8)]
    grants: list[tuple[int, Rule]] = []
    for d in range(datasets):
        for purpose in rng.sample(purposes, 5):
            for _ in range(rng.randint(1, 3)):
                domain = "*" if rng.random() < 0.2 else rng.choice(domains)
                rule: Rule = ("p", rng.choice(roles), domain, f"ds-{d}", purpose)
                grants.append((-purpose.count("."), rule))
    # derive_rules' order: most specific purposes first, so the first match is reported.
    rules = [r for _, r in sorted(set(grants))]
    names = [f"app-{i}" for i in range(principals)] + ["role-3"]  # one named like a role
    links: set[Rule] = set()
    for name in names:
        for _ in range(rng.randint(1, 2)):
            links.add(("g", name, rng.choice(roles), rng.choice(domains)))
    for _ in range(10):  # roles holding roles, within a domain
        links.add(("g", rng.choice(roles), rng.choice(roles), rng.choice(domains)))
    rules += sorted(links)
    holders: dict[tuple[str, str], list[str]] = {}
    for _, name, role, domain in sorted(links):
        holders.setdefault((role, domain), []).append(name)
    p_rules = [r for r in rules if r[0] == "p"]
    keys = []
    for _ in range(1_500):  # shaped after a grant: a holder of its role asks for its purpose
        _, role, domain, dataset, granted = rng.choice(p_rules)
        domain = rng.choice(domains) if domain == "*" else domain
        asked = rng.choice([p for p in purposes if p == granted or p.startswith(granted + ".")])
        name = rng.choice(holders.get((role, domain), [role]))
        keys.append((name, domain, dataset, asked))
    for _ in range(1_500):
        purpose = rng.choice(purposes)
        if rng.random() < 0.05:
            purpose = purpose + ".not-in-the-hierarchy"
        dataset = f"ds-{rng.randrange(datasets + 2)}"  # a few unknown datasets
        keys.append((rng.choice(names), rng.choice(domains), dataset, purpose))
    return rules, keys


def test_the_indexed_engine_agrees_with_casbin_on_every_key() -> None:
    hierarchy = load_hierarchy()
    for seed in (1, 2, 3):
        rules, keys = _world(seed, datasets=40, principals=300)
        engine = PolicyEngine(rules, hierarchy)
        reference = casbin_enforcer(rules, hierarchy)
        granted = 0
        for key in keys:
            allowed, explain = reference.enforce_ex(*key)
            want = tuple(str(v) for v in explain) if allowed and explain else None
            assert engine.matched_rule(*key) == want, key
            granted += want is not None
        # Both answers occur often enough for the comparison to mean something.
        assert 300 < granted < len(keys) - 300


def test_the_first_decision_on_a_dataset_needs_no_enforcer_at_5000_rules() -> None:
    rules, keys = _world(7, datasets=400, principals=1_500)
    p_rules = sum(1 for r in rules if r[0] == "p")
    assert len(rules) >= 5_000 and p_rules >= 3_000
    engine = PolicyEngine(rules, load_hierarchy())
    seen: set[str] = set()
    first: list[float] = []
    for key in keys:
        if key[2] in seen:
            continue
        seen.add(key[2])
        started = time.perf_counter()
        engine.matched_rule(*key)
        first.append(time.perf_counter() - started)
    first.sort()
    # bench/policy_bench.py measures the 1 ms target; this bound only catches a return to
    # building a per-dataset enforcer (milliseconds each), with room for a loaded machine.
    assert first[int(len(first) * 0.99)] < 0.005
