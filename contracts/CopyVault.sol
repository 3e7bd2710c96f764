// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {TransientSlot} from "@openzeppelin/contracts/utils/TransientSlot.sol";

import {OwnerManager} from "./base/OwnerManager.sol";
import {ICopyVault} from "./interfaces/ICopyVault.sol";
import {Policy, TradeIntent} from "./interfaces/ICopyTypes.sol";
import {ILeaderRegistry} from "./interfaces/ILeaderRegistry.sol";
import {IPriceOracle} from "./interfaces/IPriceOracle.sol";
import {ISanctionsList} from "./interfaces/ISanctionsList.sol";
import {IVaultFactory} from "./interfaces/IVaultFactory.sol";
import {IVenue} from "./interfaces/IVenue.sol";
import {BoundedCall} from "./libraries/BoundedCall.sol";
import {IntentHash} from "./libraries/IntentHash.sol";

/// @title CopyVault
/// @notice One follower's vault (an EIP-1167 clone). See ICopyVault and docs/security-model.md.
/// @dev The code never changes after creation: no proxy admin, no upgrade path.
contract CopyVault is ICopyVault, OwnerManager, ReentrancyGuardTransient {
    /// @dev Every call to code the owners or a token chose (oracle, token, venue) copies at most what is needed
    ///      of its return or revert data, so a vault's gas stays bounded and its revert data short.
    using BoundedCall for IERC20;
    using TransientSlot for *;

    // ----------------------------------------------------------------- constants and immutables

    uint256 private constant BPS = 10_000;
    /// @dev Loss accounting unit: millionths of a basis point, so linear decay stays exact to the second.
    uint256 private constant LOSS_UNIT = 1e6;
    uint256 private constant PRICE_SCALE = 1e18;
    /// @dev How many wei less than asked a transfer may move out of the vault's `tokenIn` balance: share-based
    ///      tokens (stETH) round each transfer down by one or two wei. Input side only; never more than asked,
    ///      and never on the output bound (docs/tokens.md).
    uint256 public constant INPUT_TOLERANCE = 2;

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH =
        keccak256("CopyVault");
    bytes32 private constant VERSION_HASH =
        keccak256("1");
    bytes32 private constant WITHDRAWAL_TYPEHASH =
        keccak256("Withdrawal(address token,uint256 amount,address to,uint256 nonce,uint256 deadline)");
    bytes32 private constant CONFIG_TYPEHASH =
        keccak256("ConfigChange(bytes data,uint256 nonce,uint256 deadline)");
    /// @dev The registry's EIP-712 domain name and version (LeaderRegistry's constructor), for intent digests.
    bytes32 private constant REGISTRY_NAME_HASH = keccak256("CopyVault");
    bytes32 private constant REGISTRY_VERSION_HASH = keccak256("1");

    uint8 private constant ASSET_BIT = 1;
    uint8 private constant VENUE_BIT = 2;

    /// @dev Transient slots of a pending aggregated trade (cleared by settleAggregated, gone after the transaction).
    bytes32 private constant PENDING_INTENT_SLOT = keccak256("copyvault.vault.pending.intent");
    bytes32 private constant PENDING_DIGEST_SLOT = keccak256("copyvault.vault.pending.digest");
    bytes32 private constant PENDING_AMOUNT_IN_SLOT = keccak256("copyvault.vault.pending.amountIn");
    bytes32 private constant PENDING_MIN_OUT_SLOT = keccak256("copyvault.vault.pending.minOut");
    bytes32 private constant PENDING_ORACLE_OUT_SLOT = keccak256("copyvault.vault.pending.oracleOut");
    bytes32 private constant PENDING_IN_BEFORE_SLOT = keccak256("copyvault.vault.pending.inBefore");
    bytes32 private constant PENDING_OUT_BEFORE_SLOT = keccak256("copyvault.vault.pending.outBefore");

    /// @dev Immutables live in the implementation's code, so every clone shares them at no storage cost.
    IVaultFactory public immutable factory;
    ILeaderRegistry public immutable registry;
    /// @dev The only caller of the aggregated entry points; deployed by the factory and fixed with it.
    address public immutable router;
    /// @dev The platform's oracle at deployment. Only this known code is called statefully (its per-transaction
    ///      answer cache); any other oracle the owners choose is called as a view, so it cannot change state
    ///      in the middle of a batch.
    address public immutable platformOracle;

    // ----------------------------------------------------------------- types

    /// @dev One trade's amounts, from the checks to the balance comparison that closes it.
    struct Trade {
        uint256 amountIn;
        uint256 minOut;
        uint256 oracleOut;
        uint256 inBefore;
        uint256 outBefore;
    }

    // ----------------------------------------------------------------- storage

    // Slot 0 (with OwnerManager's threshold and owner count): everything a trade's first checks read, and the
    // per-day trade count every trade writes, so that a trade reads and writes one slot for both (8 + 8 + 160 +
    // 24 + 8 + 8 + 24 + 16 = 256 bits). The operation nonce is a uint24 raised with a checked cast: after 16.7
    // million owner operations a vault refuses more instead of wrapping (an approval can never be replayed).
    address private _leader;
    uint24 private _nonce;
    bool private _paused;
    bool private _copying;
    /// @dev UTC day number (block.timestamp / 1 days) of the last trade: fits a uint24 until the year 45,900.
    uint24 private _tradeDay;
    uint16 private _tradesThatDay;

    // Slot 1: the policy (96 bits) and the oracle (160 bits), read together by every trade. Stored as
    // fields, not as a Policy struct: a struct always starts and ends a slot of its own.
    uint16 private _maxFractionBps;
    uint16 private _maxSlippageBps;
    uint32 private _maxOracleAge;
    uint16 private _maxTradesPerDay;
    uint16 private _lossBudgetBps;
    address private _oracle;

    // Slot 2: the decaying loss total, two flags no trade reads, and the allowed-route cache.
    uint64 private _lossUsed;
    uint40 private _lossUpdatedAt;
    bool private _guardianAccepted;
    bool private _initialized;
    /// @dev The last route (the two tokens, either order, and the venue) that passed the owners' allowlists, as
    ///      a 128-bit hash; zero when none. A trade on it reads this one slot instead of three allowlist slots.
    ///      Every allowlist change clears it, so it never outlives the permissions that admitted it.
    uint128 private _allowedRoute;

    mapping(address token => uint8 bits) private _permissions;
    /// @dev Executed intent nonces per leader, 256 to a word, so a vault pays a fresh slot once per 256 intents.
    mapping(address leader => mapping(uint256 wordPos => uint256 bits)) private _executed;

    // ----------------------------------------------------------------- modifiers

    modifier onlySelf() {
        if (msg.sender != address(this)) revert OnlySelf(msg.sender);
        _;
    }

    modifier onlyRouter() {
        if (msg.sender != router) revert NotRouter(msg.sender);
        _;
    }

    // ----------------------------------------------------------------- constructor

    /// @param factory_ The factory that creates clones of this implementation.
    /// @param registry_ The leader registry that verifies intents.
    /// @param router_ The batch router allowed to use the aggregated entry points.
    /// @param platformOracle_ The platform's PriceOracle, whose answer cache vaults may use.
    constructor(IVaultFactory factory_, ILeaderRegistry registry_, address router_, address platformOracle_) {
        factory = factory_;
        registry = registry_;
        router = router_;
        platformOracle = platformOracle_;
        _initialized = true; // the implementation itself can never be initialised or used
    }

    // ----------------------------------------------------------------- set-up

    /// @inheritdoc ICopyVault
    function initialize(InitParams calldata params) external {
        if (msg.sender != address(factory)) revert NotFactory(msg.sender);
        if (_initialized) revert AlreadyInitialized();
        _initialized = true;
        for (uint256 i = 0; i < params.owners.length; ++i) {
            _addOwner(params.owners[i]);
        }
        _setThreshold(params.threshold);
        _setLeader(params.leader);
        _setPolicy(params.policy);
        _setOracle(params.oracle);
        for (uint256 i = 0; i < params.assets.length; ++i) {
            _setPermission(params.assets[i], ASSET_BIT, true);
        }
        for (uint256 i = 0; i < params.venues.length; ++i) {
            _setPermission(params.venues[i], VENUE_BIT, true);
        }
        _guardianAccepted = params.acceptGuardian;
        emit GuardianAcceptanceChanged(params.acceptGuardian);
        _copying = true;
        emit CopyingStarted();
    }

    // ----------------------------------------------------------------- anyone

    /// @inheritdoc ICopyVault
    function deposit(address token, uint256 amount) external nonReentrant {
        if (_paused) revert VaultPaused();
        if (_hasPendingTrade()) revert TradePending();
        if (_permissions[token] & ASSET_BIT == 0) revert AssetNotAllowed(token);
        if (amount == 0) revert ZeroAmount();
        address sanctions = factory.sanctionsList();
        if (sanctions != address(0) && ISanctionsList(sanctions).isSanctioned(msg.sender)) {
            revert SanctionedDepositor(msg.sender);
        }
        uint256 before = IERC20(token).boundedBalanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        // Credit what arrived: a fee-on-transfer token delivers less than `amount`.
        emit Deposited(msg.sender, token, IERC20(token).boundedBalanceOf(address(this)) - before);
    }

    /// @inheritdoc ICopyVault
    function mirror(TradeIntent calldata intent, bytes calldata signature)
        external
        nonReentrant
        returns (uint256 amountIn, uint256 amountOut)
    {
        bytes32 digest = registry.checkIntent(intent, signature);
        Trade memory trade = _openTrade(intent, false);
        amountIn = trade.amountIn;
        IERC20 tokenIn = IERC20(intent.tokenIn);
        // Paying the venue's input address directly needs no allowance, so none can be left behind.
        tokenIn.safeTransfer(
            BoundedCall.staticcallForAddress(
                intent.venue, abi.encodeCall(IVenue.inputRecipient, (intent.tokenIn, intent.tokenOut))
            ),
            amountIn
        );
        // The venue's reported output is not read: the vault's own balances decide in _closeTrade.
        BoundedCall.callIgnoringReturn(
            intent.venue, abi.encodeCall(IVenue.swap, (intent.tokenIn, intent.tokenOut, amountIn, address(this)))
        );
        amountOut = _closeTrade(intent, trade);
        emit Mirrored(
            intent.leader,
            intent.nonce,
            digest,
            intent.venue,
            intent.tokenIn,
            intent.tokenOut,
            amountIn,
            amountOut,
            trade.oracleOut
        );
    }

    // ----------------------------------------------------------------- router (aggregated mode)

    /// @inheritdoc ICopyVault
    function pullAggregated(TradeIntent calldata intent, bytes calldata /* signature: checked by the router */ )
        external
        onlyRouter
        nonReentrant
        returns (uint256 amountIn, uint256 minOut)
    {
        // The immutable router, the only caller, verified this very intent with registry.checkIntent (signature,
        // signer, deadline, fraction, cancelled nonce) before its first pull and reverts the whole batch when
        // that fails: the vault does not re-verify it per vault (docs/security-model.md), it only names it.
        bytes32 intentHash = IntentHash.structHash(intent);
        bytes32 digest = _intentDigest(intentHash);
        // The router also checked the platform's venue allowlist once for the batch (reverting it otherwise).
        Trade memory trade = _openTrade(intent, true);
        (amountIn, minOut) = (trade.amountIn, trade.minOut);
        PENDING_INTENT_SLOT.asBytes32().tstore(intentHash); // the EIP-712 struct hash names the pending intent
        PENDING_DIGEST_SLOT.asBytes32().tstore(digest);
        PENDING_AMOUNT_IN_SLOT.asUint256().tstore(amountIn);
        PENDING_MIN_OUT_SLOT.asUint256().tstore(minOut);
        PENDING_ORACLE_OUT_SLOT.asUint256().tstore(trade.oracleOut);
        PENDING_IN_BEFORE_SLOT.asUint256().tstore(trade.inBefore);
        PENDING_OUT_BEFORE_SLOT.asUint256().tstore(trade.outBefore);
        IERC20(intent.tokenIn).safeTransfer(router, amountIn);
    }

    /// @inheritdoc ICopyVault
    function cancelAggregated(TradeIntent calldata intent) external onlyRouter nonReentrant {
        _requirePending(intent);
        uint256 inBefore = PENDING_IN_BEFORE_SLOT.asUint256().tload();
        uint256 inNow = IERC20(intent.tokenIn).boundedBalanceOf(address(this));
        // A share-based tokenIn may come back a wei or two short (docs/tokens.md); more is refused.
        if (inNow + INPUT_TOLERANCE < inBefore) revert RefundMismatch(inNow, inBefore);
        // Undo exactly what pullAggregated recorded: the intent can still execute here later.
        _executed[intent.leader][intent.nonce >> 8] &= ~(1 << (intent.nonce & 0xff));
        _tradesThatDay -= 1; // same transaction, so the same UTC day as the pull that counted it
        PENDING_INTENT_SLOT.asBytes32().tstore(bytes32(0));
        emit AggregatedTradeCancelled(intent.leader, intent.nonce, PENDING_DIGEST_SLOT.asBytes32().tload());
    }

    /// @inheritdoc ICopyVault
    /// @dev No re-entrancy guard needed: the only outside calls here are `balanceOf` STATICCALLs, which cannot
    ///      change state, and a vault with a pending trade refuses every other trading entry point.
    function settleAggregated(TradeIntent calldata intent) external onlyRouter returns (uint256 amountOut) {
        _requirePending(intent);
        Trade memory trade = Trade({
            amountIn: PENDING_AMOUNT_IN_SLOT.asUint256().tload(),
            minOut: PENDING_MIN_OUT_SLOT.asUint256().tload(),
            oracleOut: PENDING_ORACLE_OUT_SLOT.asUint256().tload(),
            inBefore: PENDING_IN_BEFORE_SLOT.asUint256().tload(),
            outBefore: PENDING_OUT_BEFORE_SLOT.asUint256().tload()
        });
        PENDING_INTENT_SLOT.asBytes32().tstore(bytes32(0));
        amountOut = _closeTrade(intent, trade);
        emit Mirrored(
            intent.leader,
            intent.nonce,
            PENDING_DIGEST_SLOT.asBytes32().tload(),
            intent.venue,
            intent.tokenIn,
            intent.tokenOut,
            trade.amountIn,
            amountOut,
            trade.oracleOut
        );
    }

    // ----------------------------------------------------------------- threshold

    /// @inheritdoc ICopyVault
    function withdraw(
        address token,
        uint256 amount,
        address to,
        uint256 deadline,
        address[] calldata signers,
        bytes[] calldata signatures
    ) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        if (deadline < block.timestamp) revert DeadlineExpired(deadline, block.timestamp);
        uint256 opNonce = _nonce;
        _verifyApprovals(withdrawalDigest(token, amount, to, opNonce, deadline), signers, signatures);
        _nonce = SafeCast.toUint24(opNonce + 1); // before the transfer: a reentrant call cannot reuse the approval
        IERC20(token).safeTransfer(to, amount);
        emit Withdrawn(token, to, amount, opNonce);
    }

    /// @inheritdoc ICopyVault
    function executeConfig(bytes calldata data, uint256 deadline, address[] calldata signers, bytes[] calldata signatures)
        external
        nonReentrant
    {
        if (deadline < block.timestamp) revert DeadlineExpired(deadline, block.timestamp);
        bytes4 selector = data.length >= 4 ? bytes4(data[:4]) : bytes4(0);
        if (!_isConfigSelector(selector)) revert DisallowedConfigCall(selector);
        uint256 opNonce = _nonce;
        _verifyApprovals(configDigest(data, opNonce, deadline), signers, signatures);
        _nonce = SafeCast.toUint24(opNonce + 1);
        (bool ok, bytes memory reason) = address(this).call(data);
        if (!ok) {
            // Bubble the configuration function's own error so owners see why it failed.
            assembly ("memory-safe") {
                revert(add(reason, 0x20), mload(reason))
            }
        }
        emit ConfigExecuted(selector, opNonce, data);
    }

    /// @inheritdoc ICopyVault
    function setLeader(address newLeader) external onlySelf {
        _setLeader(newLeader);
    }

    /// @inheritdoc ICopyVault
    function setPolicy(Policy calldata newPolicy) external onlySelf {
        _setPolicy(newPolicy);
    }

    /// @inheritdoc ICopyVault
    function setAssetAllowed(address asset, bool allowed) external onlySelf {
        _setPermission(asset, ASSET_BIT, allowed);
    }

    /// @inheritdoc ICopyVault
    function setVenueAllowed(address venue, bool allowed) external onlySelf {
        _setPermission(venue, VENUE_BIT, allowed);
    }

    /// @inheritdoc ICopyVault
    function setOracle(address newOracle) external onlySelf {
        _setOracle(newOracle);
    }

    /// @inheritdoc ICopyVault
    function addOwner(address owner) external onlySelf {
        _addOwner(owner);
    }

    /// @inheritdoc ICopyVault
    function removeOwner(address owner) external onlySelf {
        _removeOwner(owner);
    }

    /// @inheritdoc ICopyVault
    function setThreshold(uint256 newThreshold) external onlySelf {
        _setThreshold(newThreshold);
    }

    /// @inheritdoc ICopyVault
    function unpause() external onlySelf {
        if (!_paused) return; // already running: nothing changes, nothing to emit (as pause)
        _paused = false;
        emit Unpaused();
    }

    /// @inheritdoc ICopyVault
    function startCopying() external onlySelf {
        if (_copying) return; // already copying: nothing changes, nothing to emit (as stopCopying)
        _copying = true;
        emit CopyingStarted();
    }

    /// @inheritdoc ICopyVault
    function setGuardianAccepted(bool accepted) external onlySelf {
        if (_guardianAccepted == accepted) return; // no change, no event
        _guardianAccepted = accepted;
        emit GuardianAcceptanceChanged(accepted);
    }

    // ----------------------------------------------------------------- one key

    /// @inheritdoc ICopyVault
    function pause() external {
        if (!_isOwner(msg.sender) && !(_guardianAccepted && msg.sender == factory.guardian())) {
            revert NotOwnerOrGuardian(msg.sender);
        }
        if (_paused) return; // already stopped: nothing changes, nothing to emit
        _paused = true;
        emit Paused(msg.sender);
    }

    /// @inheritdoc ICopyVault
    function stopCopying() external {
        if (!_isOwner(msg.sender)) revert NotOwner(msg.sender);
        if (!_copying) return;
        _copying = false;
        emit CopyingStopped(msg.sender);
    }

    // ----------------------------------------------------------------- views

    /// @inheritdoc ICopyVault
    function getOwners() external view returns (address[] memory) {
        return _ownerSet().list;
    }

    /// @inheritdoc ICopyVault
    function isOwner(address account) external view returns (bool) {
        return _isOwner(account);
    }

    /// @inheritdoc ICopyVault
    function threshold() external view returns (uint256) {
        return _threshold;
    }

    /// @inheritdoc ICopyVault
    function leader() external view returns (address) {
        return _leader;
    }

    /// @inheritdoc ICopyVault
    function nonce() external view returns (uint256) {
        return _nonce;
    }

    /// @inheritdoc ICopyVault
    function paused() external view returns (bool) {
        return _paused;
    }

    /// @inheritdoc ICopyVault
    function copying() external view returns (bool) {
        return _copying;
    }

    /// @inheritdoc ICopyVault
    function guardianAccepted() external view returns (bool) {
        return _guardianAccepted;
    }

    /// @inheritdoc ICopyVault
    function policy() external view returns (Policy memory) {
        return Policy(_maxFractionBps, _maxSlippageBps, _maxOracleAge, _maxTradesPerDay, _lossBudgetBps);
    }

    /// @inheritdoc ICopyVault
    function oracle() external view returns (address) {
        return _oracle;
    }

    /// @inheritdoc ICopyVault
    function isAssetAllowed(address asset) external view returns (bool) {
        return _permissions[asset] & ASSET_BIT != 0;
    }

    /// @inheritdoc ICopyVault
    function isVenueAllowed(address venue) external view returns (bool) {
        return _permissions[venue] & VENUE_BIT != 0;
    }

    /// @inheritdoc ICopyVault
    function isIntentExecuted(address leader_, uint256 nonce_) external view returns (bool) {
        return _executed[leader_][nonce_ >> 8] & (1 << (nonce_ & 0xff)) != 0;
    }

    /// @inheritdoc ICopyVault
    function tradesToday() external view returns (uint256) {
        return _tradeDay == block.timestamp / 1 days ? _tradesThatDay : 0;
    }

    /// @inheritdoc ICopyVault
    function lossUsed() external view returns (uint256) {
        return _decayedLoss(_lossBudgetBps);
    }

    /// @inheritdoc ICopyVault
    function tradeAccounting()
        external
        view
        returns (uint256 tradeDay, uint256 tradesThatDay, uint256 lossRecorded, uint256 lossUpdatedAt)
    {
        return (_tradeDay, _tradesThatDay, _lossUsed, _lossUpdatedAt);
    }

    /// @inheritdoc ICopyVault
    function domainSeparator() public view returns (bytes32) {
        // Built from this clone's own address at run time: a separator cached in the implementation would
        // give every clone the same domain and let approvals replay across vaults.
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// @inheritdoc ICopyVault
    function withdrawalDigest(address token, uint256 amount, address to, uint256 nonce_, uint256 deadline)
        public
        view
        returns (bytes32)
    {
        return _typedDigest(keccak256(abi.encode(WITHDRAWAL_TYPEHASH, token, amount, to, nonce_, deadline)));
    }

    /// @inheritdoc ICopyVault
    function configDigest(bytes calldata data, uint256 nonce_, uint256 deadline) public view returns (bytes32) {
        return _typedDigest(keccak256(abi.encode(CONFIG_TYPEHASH, keccak256(data), nonce_, deadline)));
    }

    // ----------------------------------------------------------------- internal: trading

    /// @dev Every check of docs/protocol.md §1.3 that does not need prices or the signature.
    ///      `viaRouter`: the router checked the platform's venue allowlist for the whole batch.
    ///      Returns the intent's route key and whether the allowed-route cache already held it.
    function _checkEligible(TradeIntent calldata intent, bool viaRouter)
        private
        view
        returns (uint128 route, bool routeCached)
    {
        if (_leader != intent.leader) revert NotFollowingLeader(intent.leader, _leader);
        if (_paused) revert VaultPaused();
        if (!_copying) revert CopyingStoppedError();
        if (_hasPendingTrade()) revert TradePending();
        if (intent.tokenIn == intent.tokenOut) revert IdenticalTokens(intent.tokenIn);
        route = _routeKey(intent);
        routeCached = _allowedRoute == route;
        if (!routeCached) {
            if (_permissions[intent.tokenIn] & ASSET_BIT == 0) revert AssetNotAllowed(intent.tokenIn);
            if (_permissions[intent.tokenOut] & ASSET_BIT == 0) revert AssetNotAllowed(intent.tokenOut);
            if (_permissions[intent.venue] & VENUE_BIT == 0) revert VenueNotAllowed(intent.venue);
        }
        if (!viaRouter && !factory.isVenueAllowed(intent.venue)) revert VenueNotAllowed(intent.venue);
        uint16 maxFraction = _maxFractionBps;
        if (intent.fractionBps > maxFraction) revert FractionTooLarge(intent.fractionBps, maxFraction);
        if (_executed[intent.leader][intent.nonce >> 8] & (1 << (intent.nonce & 0xff)) != 0) {
            revert IntentAlreadyExecuted(intent.leader, intent.nonce);
        }
        uint256 today = block.timestamp / 1 days;
        uint16 maxTrades = _maxTradesPerDay;
        if (_tradeDay == today && _tradesThatDay >= maxTrades) revert DailyTradeLimitReached(today, maxTrades);
    }

    /// @dev Every check, then the trade's amounts and bounds. Marks the intent executed and counts the trade
    ///      before any external call that could re-enter (the oracle, the token, the venue).
    function _openTrade(TradeIntent calldata intent, bool viaRouter) private returns (Trade memory trade) {
        (uint128 route, bool routeCached) = _checkEligible(intent, viaRouter);
        if (!routeCached) _allowedRoute = route;
        _executed[intent.leader][intent.nonce >> 8] |= 1 << (intent.nonce & 0xff);
        uint24 today = uint24(block.timestamp / 1 days); // fits until the year 45,900
        _tradesThatDay = _tradeDay == today ? _tradesThatDay + 1 : 1;
        _tradeDay = today;

        trade.inBefore = IERC20(intent.tokenIn).boundedBalanceOf(address(this));
        // Rounds down: the vault never sells more than the signed fraction of its balance.
        trade.amountIn = trade.inBefore * intent.fractionBps / BPS;
        if (trade.amountIn == 0) revert NothingToTrade(intent.tokenIn);
        (trade.oracleOut, trade.minOut) = _bounds(intent, trade.amountIn);
        trade.outBefore = IERC20(intent.tokenOut).boundedBalanceOf(address(this));
    }

    /// @dev The vault's own balances decide, never a venue's or the router's word: `tokenIn` fell by `amountIn`
    ///      (or up to INPUT_TOLERANCE wei less, for share-based tokens; never more) and `tokenOut` rose by at
    ///      least `minOut`. Records the realised loss.
    function _closeTrade(TradeIntent calldata intent, Trade memory trade) private returns (uint256 amountOut) {
        uint256 inNow = IERC20(intent.tokenIn).boundedBalanceOf(address(this));
        // A balance above the one before the trade means the input came back (or more arrived): not a trade.
        uint256 spent = inNow < trade.inBefore ? trade.inBefore - inNow : 0;
        if (spent > trade.amountIn || spent + INPUT_TOLERANCE < trade.amountIn) {
            revert InputMismatch(spent, trade.amountIn);
        }
        uint256 outNow = IERC20(intent.tokenOut).boundedBalanceOf(address(this));
        amountOut = outNow > trade.outBefore ? outNow - trade.outBefore : 0;
        if (amountOut < trade.minOut) revert InsufficientOutput(amountOut, trade.minOut);
        _recordLoss(trade.oracleOut, amountOut);
    }

    /// @dev The oracle's value of `amountIn` and the least output accepted: the larger of the leader's limit
    ///      price and the owners' slippage bound under the oracle. Both round up, in the vault's favour.
    function _bounds(TradeIntent calldata intent, uint256 amountIn)
        private
        returns (uint256 oracleOut, uint256 minOut)
    {
        address oracle_ = _oracle;
        oracleOut = oracle_ == platformOracle
            ? BoundedCall.callForWord(
                oracle_, abi.encodeCall(IPriceOracle.quoteCached, (intent.tokenIn, intent.tokenOut, amountIn, _maxOracleAge))
            )
            : BoundedCall.staticcallForWord(
                oracle_, abi.encodeCall(IPriceOracle.quote, (intent.tokenIn, intent.tokenOut, amountIn, _maxOracleAge))
            );
        uint256 oracleBound = Math.mulDiv(oracleOut, BPS - _maxSlippageBps, BPS, Math.Rounding.Ceil);
        uint256 leaderBound = Math.mulDiv(amountIn, intent.minPrice, PRICE_SCALE, Math.Rounding.Ceil);
        minOut = Math.max(oracleBound, leaderBound);
        uint16 budgetBps = _lossBudgetBps;
        if (budgetBps != 0) {
            uint256 lossAfter = _decayedLoss(budgetBps) + _lossOf(oracleOut, minOut);
            uint256 budget = uint256(budgetBps) * LOSS_UNIT;
            if (lossAfter > budget) revert LossBudgetExceeded(lossAfter, budget);
        }
    }

    function _requirePending(TradeIntent calldata intent) private view {
        if (PENDING_INTENT_SLOT.asBytes32().tload() != IntentHash.structHash(intent)) revert NoPendingTrade();
    }

    /// @dev Adds the trade's realised shortfall against the oracle (gains do not offset) to the decayed total.
    function _recordLoss(uint256 oracleOut, uint256 amountOut) private {
        uint16 budgetBps = _lossBudgetBps;
        if (budgetBps == 0) return;
        _lossUsed = uint64(_decayedLoss(budgetBps) + _lossOf(oracleOut, amountOut)); // ≤ budget + 1e10: fits
        _lossUpdatedAt = uint40(block.timestamp);
    }

    /// @dev Shortfall of `amountOut` below `oracleOut` in LOSS_UNITs of a basis point of `oracleOut`; rounds up.
    function _lossOf(uint256 oracleOut, uint256 amountOut) private pure returns (uint256) {
        if (amountOut >= oracleOut) return 0;
        return Math.mulDiv(oracleOut - amountOut, BPS * LOSS_UNIT, oracleOut, Math.Rounding.Ceil);
    }

    /// @dev The recorded loss after linear decay of `budgetBps` per 24 hours since the last trade.
    function _decayedLoss(uint16 budgetBps) private view returns (uint256) {
        uint256 used = _lossUsed;
        uint256 decay = (block.timestamp - _lossUpdatedAt) * budgetBps * LOSS_UNIT / 1 days;
        return used > decay ? used - decay : 0;
    }

    // ----------------------------------------------------------------- internal: configuration

    function _setLeader(address newLeader) private {
        if (newLeader == address(0)) revert ZeroAddress();
        _leader = newLeader;
        emit LeaderChanged(newLeader);
    }

    function _setPolicy(Policy calldata p) private {
        if (p.maxFractionBps == 0 || p.maxFractionBps > BPS) revert InvalidMaxFraction(p.maxFractionBps);
        if (p.maxSlippageBps >= BPS) revert InvalidMaxSlippage(p.maxSlippageBps);
        if (p.maxOracleAge == 0) revert InvalidMaxOracleAge(p.maxOracleAge);
        if (p.maxTradesPerDay == 0) revert InvalidMaxTradesPerDay(p.maxTradesPerDay);
        if (p.lossBudgetBps > BPS) revert InvalidLossBudget(p.lossBudgetBps);
        (_maxFractionBps, _maxSlippageBps, _maxOracleAge, _maxTradesPerDay, _lossBudgetBps) =
            (p.maxFractionBps, p.maxSlippageBps, p.maxOracleAge, p.maxTradesPerDay, p.lossBudgetBps);
        emit PolicyChanged(p);
    }

    function _setOracle(address newOracle) private {
        if (newOracle == address(0)) revert ZeroAddress();
        _oracle = newOracle;
        emit OracleChanged(newOracle);
    }

    function _setPermission(address target, uint8 bit, bool allowed) private {
        if (target == address(0)) revert ZeroAddress();
        _allowedRoute = 0; // any allowlist change: the next trade checks the lists again
        uint8 bits = _permissions[target];
        _permissions[target] = allowed ? bits | bit : bits & ~bit;
        if (bit == ASSET_BIT) emit AssetAllowed(target, allowed);
        else emit VenueAllowed(target, allowed);
    }

    function _isConfigSelector(bytes4 selector) private pure returns (bool) {
        return selector == this.setLeader.selector || selector == this.setPolicy.selector
            || selector == this.setAssetAllowed.selector || selector == this.setVenueAllowed.selector
            || selector == this.setOracle.selector || selector == this.addOwner.selector
            || selector == this.removeOwner.selector || selector == this.setThreshold.selector
            || selector == this.unpause.selector || selector == this.startCopying.selector
            || selector == this.setGuardianAccepted.selector;
    }

    /// @dev A route's cache key: the two tokens in address order (the asset list has no direction) and the
    ///      venue, hashed to 128 bits (a second preimage costs 2^128), never zero.
    function _routeKey(TradeIntent calldata intent) private pure returns (uint128) {
        (address a, address b) =
            intent.tokenIn < intent.tokenOut ? (intent.tokenIn, intent.tokenOut) : (intent.tokenOut, intent.tokenIn);
        return uint128(uint256(keccak256(abi.encode(a, b, intent.venue)))) | 1;
    }

    function _hasPendingTrade() private view returns (bool) {
        return PENDING_INTENT_SLOT.asBytes32().tload() != bytes32(0);
    }

    /// @dev The registry's EIP-712 digest of an intent (LeaderRegistry.intentDigest) from its struct hash.
    function _intentDigest(bytes32 intentHash) private view returns (bytes32) {
        bytes32 registryDomain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, REGISTRY_NAME_HASH, REGISTRY_VERSION_HASH, block.chainid, address(registry))
        );
        return keccak256(abi.encodePacked("\x19\x01", registryDomain, intentHash));
    }

    function _typedDigest(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }
}
