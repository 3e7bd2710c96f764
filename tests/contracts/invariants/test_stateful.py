"""docs/protocol.md §1.5 invariants 1–4 and 6 under random sequences of everything anyone can do to
a vault.

A Hypothesis state machine drives one vault through deposits, withdrawals (approved, or wrong in
one way), configuration changes, pauses, copying switches, guardian and platform-admin actions,
time travel and mirrored trades (fresh, replayed, cancelled, forged). A Python model predicts
every outcome: each operation must either succeed with exactly the modelled effect or revert with
exactly the predicted error and change nothing. After every step the chain must equal the model:

1. vault balances equal the model: tokens left only by an approved withdrawal (to its approved
   recipient) or by a mirror that returned at least its bound (as seen in the Mirrored event);
2. an approval works once: replaying a used approval always reverts;
3. a leader's nonce executes at most once per vault; cancelled, expired and wrongly signed
   intents never do;
4. 1 ≤ threshold ≤ len(getOwners()), no zero or duplicate owner;
6. platform-admin and guardian calls never change balances (nor owners, threshold or nonce).

Each example starts from the same chain snapshot, restored in teardown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import event as coverage_event
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from backend.chain import eip712
from tests.utils.signing import intent_tuple, key_of, registry_domain, sign_approvals, vault_domain

from .conftest import BPS, DAY, HOUR, INVARIANT_POLICY, RawChain, address_of, op_nonce

MAX_FRACTION_BPS, MAX_SLIPPAGE_BPS, MAX_ORACLE_AGE, MAX_TRADES_PER_DAY, _ = INVARIANT_POLICY
ZERO_ADDRESS = "0x" + "00" * 20
# Time travels in steps of TIME_STEP; deadlines sit MARGIN off that grid, so the seconds of clock
# time that pass between predicting an outcome and mining it can never flip a deadline check.
TIME_STEP = 1_200
MARGIN = 600
TOKENS = st.sampled_from(["weth", "usdc"])
DEPOSIT_UNIT = {"weth": 5 * 10**12, "usdc": 15_000}  # 10**6 units: at most 5 WETH or 15,000 USDC
CONFIG_CHANGES = [
    "addOwner",
    "removeOwner",
    "setThreshold",
    "unpause",
    "startCopying",
    "setGuardianAccepted",
]
PLATFORM_ATTEMPTS = [
    "setThreshold",
    "addOwner",
    "setLeader",
    "setPolicy",
    "unpause",
    "stopCopying",
    "initialize",
    "withdraw",
    "executeConfig",
    "forgeIntent",
    "pause",
]


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class World:
    """Everything the state machine touches, taken from the session's deployment."""

    chain: Any
    chain_id: int
    raw: RawChain
    vault: Any
    tokens: dict[str, Any]
    registry: Any
    factory: Any
    oracle: Any
    venue: Any
    pair: Any
    leader: Any
    guardian: Any
    admin: Any
    attacker: Any
    relayer: Any
    depositor: Any
    recipient: Any
    owner_pool: list


@dataclass(frozen=True)
class SignedIntent:
    intent: eip712.TradeIntent
    signature: bytes
    signer: str


@dataclass(frozen=True)
class UsedApproval:
    """A withdrawal or configuration approval that has been executed once."""

    method: str
    args: tuple
    signers: tuple[str, ...]
    deadline: int


@dataclass
class Model:
    balances: dict[str, int]
    owners: set[str]
    threshold: int
    nonce: int = 0
    paused: bool = False
    copying: bool = True
    guardian_accepted: bool = True
    venue_allowed_globally: bool = True
    executed: set[int] = field(default_factory=set)
    cancelled: set[int] = field(default_factory=set)
    trade_day: int = -1
    trades_that_day: int = 0


class VaultMachine(RuleBasedStateMachine):
    intents = Bundle("intents")

    def __init__(self, world: World):
        super().__init__()
        self.w = world
        self.snapshot_id = world.chain.snapshot()
        v = world.vault
        self.accounts = {address_of(a): a for a in [*world.owner_pool, world.attacker, world.admin]}
        self.m = Model(
            balances={name: t.balanceOf(v) for name, t in world.tokens.items()},
            owners=set(v.getOwners()),
            threshold=v.threshold(),
            nonce=op_nonce(v),
        )
        self.used: list[UsedApproval] = []
        self.signed_nonces: set[int] = set()

    def teardown(self):
        self.w.chain.restore(self.snapshot_id)

    # ------------------------------------------------------------------ helpers

    def now(self) -> int:
        return self.w.chain.pending_timestamp

    def fresh_deadline(self) -> int:
        return self.now() + HOUR + MARGIN

    def owner_accounts(self) -> list:
        return [self.accounts[a] for a in sorted(self.m.owners, key=lambda a: int(a, 16))]

    def draw_owners(self, data, low: int, high: int | None = None) -> list:
        owners = self.owner_accounts()
        count = data.draw(
            st.integers(max(low, 0), len(owners) if high is None else high), label="count"
        )
        return data.draw(st.permutations(owners), label="owners")[:count]

    def approve(self, message, signers, chain_id: int | None = None):
        domain = vault_domain(self.w.vault, chain_id or self.w.chain_id)
        return sign_approvals(domain, message, signers)

    def approval_failure(self, signers, deadline: int, valid: set[str]):
        """The error `_verifyApprovals` (after the deadline check) must raise, or None: signers are
        ascending; `valid` holds those whose signature matches the digest the vault rebuilds."""
        vault = self.w.vault
        if deadline < self.now():
            return vault.DeadlineExpired, {"deadline": deadline}
        if len(signers) < self.m.threshold:
            return vault.NotEnoughSignatures, {"given": len(signers), "threshold": self.m.threshold}
        for signer in signers:
            if signer not in self.m.owners:
                return vault.SignerNotOwner, {"signer": signer}
            if signer not in valid:
                return vault.InvalidOwnerSignature, {"signer": signer}
        return None

    def expect_revert(self, handler, *args, by=None, failure):
        error, inputs = failure
        coverage_event(f"{handler.abis[0].name} reverted {error.abi.name}")
        self.w.raw.expect_revert(handler, *args, by=by or self.w.relayer, error=error, **inputs)

    # ------------------------------------------------------------------ deposits

    @rule(token=TOKENS, units=st.integers(1, 10**6))
    def deposit(self, token, units):
        w, t, amount = self.w, self.w.tokens[token], units * DEPOSIT_UNIT[token]
        t.mint(w.depositor, amount, sender=w.depositor)
        t.approve(w.vault, amount, sender=w.depositor)
        if self.m.paused:
            self.expect_revert(
                w.vault.deposit, t, amount, by=w.depositor, failure=(w.vault.VaultPaused, {})
            )
            return
        receipt = w.vault.deposit(t, amount, sender=w.depositor)
        assert receipt.decode_logs(w.vault.Deposited)[0].amount == amount
        self.m.balances[token] += amount
        coverage_event("deposit succeeded")

    # ------------------------------------------------------------------ withdrawals

    @rule(
        token=TOKENS,
        share=st.integers(1, BPS),
        overdraw=st.integers(0, 9),
        to=st.sampled_from(["recipient", "attacker"]),
        data=st.data(),
    )
    def withdraw_with_approvals(self, token, share, overdraw, to, data):
        """Owners (at least the threshold) approve; one time in ten the amount exceeds the balance,
        which fails in the token."""
        w, t = self.w, self.w.tokens[token]
        receiver = getattr(w, to)
        balance = self.m.balances[token]
        amount = balance + 1 if overdraw == 0 else max(1, balance * share // BPS)
        message = eip712.Withdrawal(
            token=address_of(t),
            amount=amount,
            to=address_of(receiver),
            nonce=self.m.nonce,
            deadline=self.fresh_deadline(),
        )
        signers, signatures = self.approve(message, self.draw_owners(data, self.m.threshold))
        args = (t, amount, receiver, message.deadline, signers, signatures)
        if amount > balance:
            failure = (
                t.ERC20InsufficientBalance,
                {"sender": w.vault, "balance": balance, "needed": amount},
            )
            self.expect_revert(w.vault.withdraw, *args, failure=failure)
            return
        receiver_before = t.balanceOf(receiver)
        receipt = w.vault.withdraw(*args, sender=w.relayer)
        event = receipt.decode_logs(w.vault.Withdrawn)[0]
        assert (event.token, event.to, event.amount, event.nonce) == (
            t,
            receiver,
            amount,
            self.m.nonce,
        )
        assert t.balanceOf(receiver) == receiver_before + amount
        self.m.balances[token] -= amount
        self.m.nonce += 1
        coverage_event("withdraw succeeded")
        self.used.append(UsedApproval("withdraw", args, tuple(signers), message.deadline))

    @rule(
        kind=st.sampled_from(
            ["too_few", "wrong_nonce", "expired", "non_owner", "other_chain", "other_to"]
        ),
        token=TOKENS,
        data=st.data(),
    )
    def withdraw_with_bad_approvals(self, kind, token, data):
        """The whole balance to a recipient, with approvals wrong in one way: must revert."""
        w, t = self.w, self.w.tokens[token]
        amount = max(1, self.m.balances[token])
        nonce, deadline, chain_id = self.m.nonce, self.fresh_deadline(), w.chain_id
        approvers = self.draw_owners(data, self.m.threshold)
        if kind == "too_few":
            approvers = self.draw_owners(data, 0, self.m.threshold - 1)
        elif kind == "non_owner":
            approvers = [*approvers[: self.m.threshold - 1], w.attacker]
        elif kind == "wrong_nonce":
            nonce += data.draw(st.sampled_from([-1, 1, 2])) if nonce else 1
        elif kind == "expired":
            deadline = self.now() - MARGIN
        elif kind == "other_chain":
            chain_id += 1
        message = eip712.Withdrawal(
            token=address_of(t),
            amount=amount,
            to=address_of(w.recipient),
            nonce=nonce,
            deadline=deadline,
        )
        signers, signatures = self.approve(message, approvers, chain_id)
        digest_matches = kind in ("too_few", "non_owner", "expired")
        to = w.attacker if kind == "other_to" else w.recipient
        failure = self.approval_failure(
            signers, deadline, set(signers) if digest_matches else set()
        )
        assert failure is not None
        self.expect_revert(
            w.vault.withdraw, t, amount, to, deadline, signers, signatures, failure=failure
        )

    @precondition(lambda self: self.used)
    @rule(data=st.data())
    def replay_used_approval(self, data):
        """Invariant 2: an executed approval never works again (the nonce moved on)."""
        used = data.draw(st.sampled_from(self.used))
        failure = self.approval_failure(list(used.signers), used.deadline, valid=set())
        self.expect_revert(getattr(self.w.vault, used.method), *used.args, failure=failure)

    # ------------------------------------------------------------------ configuration

    @rule(change=st.sampled_from(CONFIG_CHANGES), data=st.data())
    def config_change(self, change, data):
        w, m, vault = self.w, self.m, self.w.vault
        args, failure = (), None
        if change == "addOwner":
            # Owners come from the five owner keys: the attacker and platform keys stay outsiders.
            pool = [address_of(a) for a in w.owner_pool]
            who = data.draw(st.sampled_from([*pool, ZERO_ADDRESS, address_of(vault)]))
            args = (who,)
            if who == ZERO_ADDRESS:
                failure = (vault.ZeroAddress, {})
            elif who in m.owners or who == address_of(vault):
                failure = (vault.InvalidOwner, {"owner": who})
        elif change == "removeOwner":
            who = data.draw(st.sampled_from([*(address_of(a) for a in w.owner_pool), w.attacker]))
            who = address_of(who)
            args = (who,)
            if who not in m.owners:
                failure = (vault.OwnerNotFound, {"owner": who})
            elif len(m.owners) - 1 < m.threshold:
                failure = (
                    vault.InvalidThreshold,
                    {"threshold": m.threshold, "owners": len(m.owners) - 1},
                )
        elif change == "setThreshold":
            new = data.draw(st.integers(0, len(m.owners) + 1))
            args = (new,)
            if not 1 <= new <= len(m.owners):
                failure = (vault.InvalidThreshold, {"threshold": new, "owners": len(m.owners)})
        elif change == "setGuardianAccepted":
            args = (data.draw(st.booleans()),)
        call = bytes(getattr(vault, change).encode_input(*args))
        message = eip712.ConfigChange(data=call, nonce=m.nonce, deadline=self.fresh_deadline())
        # One time in five, one approval short of the threshold: the change must not happen.
        short = data.draw(st.integers(0, 4), label="short") == 0
        approvers = self.draw_owners(data, m.threshold - short, m.threshold - 1 if short else None)
        signers, signatures = self.approve(message, approvers)
        failure = self.approval_failure(signers, message.deadline, set(signers)) or failure
        tx_args = (call, message.deadline, signers, signatures)
        if failure:
            self.expect_revert(vault.executeConfig, *tx_args, failure=failure)
            return
        receipt = vault.executeConfig(*tx_args, sender=w.relayer)
        assert receipt.decode_logs(vault.ConfigExecuted)[0].nonce == m.nonce
        m.nonce += 1
        coverage_event(f"executeConfig {change} succeeded")
        self.used.append(UsedApproval("executeConfig", tx_args, tuple(signers), message.deadline))
        if change == "addOwner":
            m.owners.add(args[0])
        elif change == "removeOwner":
            m.owners.discard(args[0])
        elif change == "setThreshold":
            m.threshold = args[0]
        elif change == "unpause":
            m.paused = False
        elif change == "startCopying":
            m.copying = True
        else:
            m.guardian_accepted = args[0]

    @rule(smuggled=st.sampled_from(["withdraw", "transfer", "initialize"]), data=st.data())
    def config_change_outside_configuration(self, smuggled, data):
        """executeConfig cannot smuggle a transfer or a withdrawal past the threshold check."""
        w, vault = self.w, self.w.vault
        if smuggled == "withdraw":
            call = vault.withdraw.encode_input(w.tokens["weth"], 1, w.attacker, 0, [], [])
        elif smuggled == "transfer":
            call = w.tokens["weth"].transfer.encode_input(w.attacker, 1)
        else:
            call = vault.initialize.encode_input(
                ([w.attacker], 1, w.attacker, INVARIANT_POLICY, w.oracle, [], [], False)
            )
        call = bytes(call)
        message = eip712.ConfigChange(data=call, nonce=self.m.nonce, deadline=self.fresh_deadline())
        signers, signatures = self.approve(message, self.draw_owners(data, self.m.threshold))
        failure = (vault.DisallowedConfigCall, {"selector": call[:4]})
        self.expect_revert(
            vault.executeConfig, call, message.deadline, signers, signatures, failure=failure
        )

    # ------------------------------------------------------------------ one key

    @rule(who=st.integers(0, 6), action=st.sampled_from(["pause", "stopCopying"]))
    def single_key_action(self, who, action):
        """Any one owner stops; anyone else is refused."""
        w, vault = self.w, self.w.vault
        actor = [*w.owner_pool, w.attacker, w.admin][who]
        if address_of(actor) not in self.m.owners:
            error = vault.NotOwnerOrGuardian if action == "pause" else vault.NotOwner
            self.expect_revert(getattr(vault, action), by=actor, failure=(error, {"caller": actor}))
            return
        was_on = not self.m.paused if action == "pause" else self.m.copying
        receipt = getattr(vault, action)(sender=actor)
        event = vault.Paused if action == "pause" else vault.CopyingStopped
        assert len(receipt.decode_logs(event)) == int(was_on)  # emits only when something changed
        if action == "pause":
            self.m.paused = True
        else:
            self.m.copying = False

    @rule()
    def guardian_pause(self):
        w, vault = self.w, self.w.vault
        if not self.m.guardian_accepted:
            failure = (vault.NotOwnerOrGuardian, {"caller": w.guardian})
            self.expect_revert(vault.pause, by=w.guardian, failure=failure)
            return
        vault.pause(sender=w.guardian)
        self.m.paused = True

    # ------------------------------------------------------------- platform roles (invariant 6)

    @rule(
        role=st.sampled_from(["admin", "guardian"]),
        attempt=st.sampled_from(PLATFORM_ATTEMPTS),
        data=st.data(),
    )
    def platform_role_attempt(self, role, attempt, data):
        """Platform keys try every way at the vault's funds and settings; each one reverts."""
        w, vault = self.w, self.w.vault
        actor = getattr(w, role)
        if attempt == "pause" and role == "guardian":
            # The guardian may pause (rule guardian_pause); it may not stop copying.
            attempt = "stopCopying"
        only_self = (vault.OnlySelf, {"caller": actor})
        if attempt in ("setThreshold", "addOwner", "setLeader", "setPolicy", "unpause"):
            args = {
                "setThreshold": (1,),
                "addOwner": (actor,),
                "setLeader": (actor,),
                "setPolicy": ((BPS, BPS - 1, MAX_ORACLE_AGE, 1000, 0),),
                "unpause": (),
            }[attempt]
            self.expect_revert(getattr(vault, attempt), *args, by=actor, failure=only_self)
        elif attempt == "stopCopying":
            self.expect_revert(
                vault.stopCopying, by=actor, failure=(vault.NotOwner, {"caller": actor})
            )
        elif attempt == "pause":
            self.expect_revert(
                vault.pause, by=actor, failure=(vault.NotOwnerOrGuardian, {"caller": actor})
            )
        elif attempt == "initialize":
            params = ([actor], 1, actor, INVARIANT_POLICY, w.oracle, [], [], False)
            self.expect_revert(
                vault.initialize, params, by=actor, failure=(vault.NotFactory, {"caller": actor})
            )
        elif attempt in ("withdraw", "executeConfig"):
            # The platform key signs alongside enough real owners: it is still not an owner.
            approvers = [*self.draw_owners(data, self.m.threshold - 1, self.m.threshold - 1), actor]
            deadline = self.fresh_deadline()
            if attempt == "withdraw":
                t = w.tokens["weth"]
                amount = max(1, self.m.balances["weth"])
                message = eip712.Withdrawal(
                    token=address_of(t),
                    amount=amount,
                    to=address_of(actor),
                    nonce=self.m.nonce,
                    deadline=deadline,
                )
                call_args = (t, amount, actor, deadline)
            else:
                call = bytes(vault.addOwner.encode_input(actor))
                message = eip712.ConfigChange(data=call, nonce=self.m.nonce, deadline=deadline)
                call_args = (call, deadline)
            signers, signatures = self.approve(message, approvers)
            failure = self.approval_failure(signers, deadline, set(signers))
            assert failure[0].abi.name == "SignerNotOwner" and failure[1] == {
                "signer": address_of(actor)
            }
            self.expect_revert(
                getattr(vault, attempt), *call_args, signers, signatures, by=actor, failure=failure
            )
        else:  # forgeIntent: the platform key signs an intent in the leader's name
            signed = self.sign(
                direction=0, fraction=100, limit=0, signer=actor, nonce=self.fresh_nonce(0)
            )
            failure = (w.registry.UnauthorizedSigner, {"leader": w.leader, "signer": actor})
            self.expect_revert(
                vault.mirror,
                intent_tuple(signed.intent),
                signed.signature,
                by=actor,
                failure=failure,
            )

    @rule(allowed=st.booleans())
    def admin_sets_global_venue(self, allowed):
        """What the admin may do (allow or disallow a venue platform-wide) moves no funds."""
        w = self.w
        before = {name: t.balanceOf(w.vault) for name, t in w.tokens.items()}
        w.factory.setVenueAllowed(w.venue, allowed, sender=w.admin)
        self.m.venue_allowed_globally = allowed
        assert {name: t.balanceOf(w.vault) for name, t in w.tokens.items()} == before

    # ------------------------------------------------------------------ time

    @rule(steps=st.integers(1, 150))
    def time_travel(self, steps):
        self.w.chain.mine(deltatime=steps * TIME_STEP)

    # ------------------------------------------------------------------ mirrored trades

    def fresh_nonce(self, hint: int) -> int:
        nonce = hint
        while nonce in self.signed_nonces:
            nonce += 1
        self.signed_nonces.add(nonce)
        return nonce

    def sign(self, direction: int, fraction: int, limit: int, signer, nonce: int) -> SignedIntent:
        """An intent selling `fraction` of WETH (direction 0) or USDC (1), with a limit price of
        0, half or twice the oracle's price (limit 0, 1, 2)."""
        w = self.w
        names = ("weth", "usdc") if direction == 0 else ("usdc", "weth")
        token_in, token_out = (w.tokens[n] for n in names)
        oracle_price = w.oracle.quote(token_in, token_out, 10**18, MAX_ORACLE_AGE)
        intent = eip712.TradeIntent(
            leader=address_of(w.leader),
            venue=address_of(w.venue),
            token_in=address_of(token_in),
            token_out=address_of(token_out),
            fraction_bps=fraction,
            min_price=oracle_price * limit // 2,
            nonce=nonce,
            deadline=self.fresh_deadline(),
        )
        domain = registry_domain(w.registry, w.chain_id)
        signature = eip712.sign(key_of(signer).private_key, domain, intent)
        return SignedIntent(intent, signature, address_of(signer))

    @rule(
        target=intents,
        direction=st.integers(0, 1),
        fraction=st.integers(1, MAX_FRACTION_BPS + 200),
        limit=st.integers(0, 2),
        forged=st.integers(0, 5),
        hint=st.integers(0, 600),
    )
    def leader_signs_intent(self, direction, fraction, limit, forged, hint):
        signer = self.w.attacker if forged == 0 else self.w.leader
        return self.sign(direction, fraction, limit, signer, self.fresh_nonce(hint))

    @rule(
        target=intents,
        direction=st.integers(0, 1),
        fraction=st.integers(1, MAX_FRACTION_BPS),
        hint=st.integers(0, 600),
    )
    def leader_signs_and_relayer_mirrors(self, direction, fraction, hint):
        signed = self.sign(direction, fraction, 0, self.w.leader, self.fresh_nonce(hint))
        self.mirror_predicted(signed)
        return signed

    @rule(signed=intents)
    def relayer_mirrors(self, signed):
        """Fresh, replayed, cancelled, expired or forged: the model predicts which."""
        self.mirror_predicted(signed)

    @rule(signed=intents)
    def leader_cancels_then_relayer_mirrors(self, signed):
        nonce = signed.intent.nonce
        self.w.registry.invalidateNonces(nonce >> 8, 1 << (nonce & 0xFF), sender=self.w.leader)
        self.m.cancelled.add(nonce)
        self.mirror_predicted(signed)

    def mirror_predicted(self, signed: SignedIntent):
        w, m, vault, i = self.w, self.m, self.w.vault, signed.intent
        now = self.now()
        # Keep the daily cap's UTC day unambiguous between predicting and mining.
        if now % DAY > DAY - 60:
            w.chain.mine(timestamp=now - now % DAY + DAY + 1)
            now = self.now()
        name_in = "weth" if i.token_in == address_of(w.tokens["weth"]) else "usdc"
        name_out = "usdc" if name_in == "weth" else "weth"
        trades_today = m.trades_that_day if m.trade_day == now // DAY else 0
        amount_in = m.balances[name_in] * i.fraction_bps // BPS
        failure, expected_out, oracle_out = None, None, None
        if i.deadline < now:
            failure = (w.registry.IntentExpired, {"deadline": i.deadline})
        elif i.nonce in m.cancelled:
            failure = (w.registry.NonceCancelled, {"leader": i.leader, "nonce": i.nonce})
        elif signed.signer != i.leader:
            failure = (w.registry.UnauthorizedSigner, {"leader": i.leader, "signer": signed.signer})
        elif m.paused:
            failure = (vault.VaultPaused, {})
        elif not m.copying:
            failure = (vault.CopyingStoppedError, {})
        elif not m.venue_allowed_globally:
            failure = (vault.VenueNotAllowed, {"venue": i.venue})
        elif i.fraction_bps > MAX_FRACTION_BPS:
            failure = (
                vault.FractionTooLarge,
                {"fractionBps": i.fraction_bps, "maxFractionBps": MAX_FRACTION_BPS},
            )
        elif i.nonce in m.executed:
            failure = (vault.IntentAlreadyExecuted, {"leader": i.leader, "nonce": i.nonce})
        elif trades_today >= MAX_TRADES_PER_DAY:
            failure = (
                vault.DailyTradeLimitReached,
                {"day": now // DAY, "maxTradesPerDay": MAX_TRADES_PER_DAY},
            )
        elif amount_in == 0:
            failure = (vault.NothingToTrade, {"tokenIn": i.token_in})
        else:
            oracle_out = w.oracle.quote(i.token_in, i.token_out, amount_in, MAX_ORACLE_AGE)
            min_out = max(
                ceil_div(oracle_out * (BPS - MAX_SLIPPAGE_BPS), BPS),
                ceil_div(amount_in * i.min_price, 10**18),
            )
            expected_out = self.uniswap_out(name_in, name_out, amount_in)
            if expected_out < min_out:
                failure = (vault.InsufficientOutput, {"received": expected_out, "minimum": min_out})
        if failure:
            self.expect_revert(vault.mirror, intent_tuple(i), signed.signature, failure=failure)
            return
        receipt = vault.mirror(intent_tuple(i), signed.signature, sender=w.relayer)
        event = receipt.decode_logs(vault.Mirrored)[0]
        assert (event.amountIn, event.amountOut, event.oracleOut) == (
            amount_in,
            expected_out,
            oracle_out,
        )
        assert event.amountOut >= min_out  # the bound held, measured on the vault's own balances
        m.balances[name_in] -= amount_in
        m.balances[name_out] += event.amountOut
        m.executed.add(i.nonce)
        coverage_event("mirror succeeded")
        day = receipt.timestamp // DAY
        m.trades_that_day = (m.trades_that_day if m.trade_day == day else 0) + 1
        m.trade_day = day

    def uniswap_out(self, name_in: str, name_out: str, amount_in: int) -> int:
        """Uniswap V2's output after its 0.3 % fee, from the pair's live reserves."""
        reserve0, reserve1, _ = self.w.pair.getReserves()
        token_in, token_out = (address_of(self.w.tokens[n]) for n in (name_in, name_out))
        in_is_0 = int(token_in, 16) < int(token_out, 16)
        reserve_in, reserve_out = (reserve0, reserve1) if in_is_0 else (reserve1, reserve0)
        with_fee = amount_in * 997
        return with_fee * reserve_out // (reserve_in * 1000 + with_fee)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def balances_match_model(self):
        """Invariants 1 and 6: every token movement was an approved withdrawal or a bounded
        mirror."""
        for name, t in self.w.tokens.items():
            assert t.balanceOf(self.w.vault) == self.m.balances[name], name

    @invariant()
    def owners_and_threshold_valid(self):
        """Invariant 4, and owners/threshold changed only by approved configuration changes."""
        vault = self.w.vault
        owners, threshold = vault.getOwners(), vault.threshold()
        assert len(set(owners)) == len(owners)
        assert ZERO_ADDRESS not in owners
        assert 1 <= threshold <= len(owners)
        assert (set(owners), threshold) == (self.m.owners, self.m.threshold)

    @invariant()
    def nonce_and_switches_match_model(self):
        """Invariant 2's counter: the nonce moved once per executed approval, never otherwise."""
        vault = self.w.vault
        state = (op_nonce(vault), vault.paused(), vault.copying(), vault.guardianAccepted())
        assert state == (self.m.nonce, self.m.paused, self.m.copying, self.m.guardian_accepted)

    @invariant()
    def intents_executed_at_most_once(self):
        """Invariant 3: exactly the nonces the model saw executed are marked executed."""
        leader = self.w.leader
        for nonce in self.signed_nonces:
            assert self.w.vault.isIntentExecuted(leader, nonce) == (nonce in self.m.executed), nonce


@pytest.fixture
def vault_world(
    chain,
    chain_id,
    raw_chain,
    invariant_vault,
    system,
    pair,
    leader,
    guardian,
    admin,
    attacker,
    relayer,
    depositor,
    recipient,
    owners,
) -> World:
    return World(
        chain=chain,
        chain_id=chain_id,
        raw=raw_chain,
        vault=invariant_vault,
        tokens={"weth": system.weth, "usdc": system.usdc},
        registry=system.registry,
        factory=system.factory,
        oracle=system.oracle,
        venue=system.venue,
        pair=pair,
        leader=leader,
        guardian=guardian,
        admin=admin,
        attacker=attacker,
        relayer=relayer,
        depositor=depositor,
        recipient=recipient,
        owner_pool=list(owners),
    )


def test_vault__random_operation_sequences__keep_invariants_1_to_4_and_6(vault_world):
    run_state_machine_as_test(
        lambda: VaultMachine(vault_world),
        settings=settings(
            max_examples=15,
            stateful_step_count=30,
            deadline=None,
            # No shrinking: every step costs chain round trips, and shrinking a failing run on
            # anvil takes many minutes; the failing (at most 30-step) sequence is printed as found.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.mark.parametrize(
    "shaped_vault", [(1, 1), (3, 2), (5, 3)], ids=["1_of_1", "2_of_3", "3_of_5"], indirect=True
)
@settings(
    max_examples=12,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    # `shaped_vault` is created once per parametrisation; chain.isolate() resets it per example.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    # Indices into [5 owner keys, attacker, admin]; half the time only owner keys.
    picks=st.lists(st.integers(0, 6), unique=True, max_size=7)
    | st.lists(st.integers(0, 4), unique=True, min_size=1, max_size=5),
    share=st.integers(1, BPS + BPS // 4),  # of the balance: above BPS overdraws
)
def test_withdraw__random_signer_subsets_and_amounts__accepted_exactly_at_threshold(
    shaped_vault,
    owners,
    attacker,
    admin,
    weth,
    recipient,
    relayer,
    raw_chain,
    chain,
    chain_id,
    picks,
    share,
):
    vault = shaped_vault
    candidates = [*owners, attacker, admin]
    with chain.isolate():  # every example starts from the same vault state
        balance, nonce = weth.balanceOf(vault), op_nonce(vault)
        owner_set, threshold = set(vault.getOwners()), vault.threshold()
        amount = max(1, balance * share // BPS)
        message = eip712.Withdrawal(
            token=address_of(weth),
            amount=amount,
            to=address_of(recipient),
            nonce=nonce,
            deadline=chain.pending_timestamp + HOUR,
        )
        signers, signatures = sign_approvals(
            vault_domain(vault, chain_id), message, [candidates[i] for i in picks]
        )
        outsiders = [s for s in signers if s not in owner_set]
        args = (weth, amount, recipient, message.deadline, signers, signatures)
        if len(signers) < threshold:
            failure = (vault.NotEnoughSignatures, {"given": len(signers), "threshold": threshold})
        elif outsiders:
            failure = (vault.SignerNotOwner, {"signer": outsiders[0]})
        elif amount > balance:
            failure = (weth.ERC20InsufficientBalance, {"sender": vault, "needed": amount})
        else:
            failure = None

        if failure:
            raw_chain.expect_revert(
                vault.withdraw, *args, by=relayer, error=failure[0], **failure[1]
            )
            assert (weth.balanceOf(vault), op_nonce(vault)) == (balance, nonce)
        else:
            if len(signers) == threshold:  # exactly at the threshold: one approval fewer fails
                raw_chain.expect_revert(
                    vault.withdraw,
                    *args[:4],
                    signers[1:],
                    signatures[1:],
                    by=relayer,
                    error=vault.NotEnoughSignatures,
                    given=threshold - 1,
                )
            receipt = vault.withdraw(*args, sender=relayer)
            assert receipt.decode_logs(vault.Withdrawn)[0].amount == amount
            assert (weth.balanceOf(vault), op_nonce(vault)) == (balance - amount, nonce + 1)
