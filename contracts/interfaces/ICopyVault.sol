// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Policy, TradeIntent} from "./ICopyTypes.sol";

/// @title ICopyVault
/// @notice A follower's vault, owned by M-of-N owner keys, mirroring one leader's signed trade intents inside
///         its owners' limits (docs/protocol.md §1.1, §1.3). Stopping takes one key; everything else takes the
///         threshold.
interface ICopyVault {
    /// @notice What the factory passes to a new clone.
    struct InitParams {
        address[] owners;
        uint256 threshold;
        address leader;
        Policy policy;
        address oracle;
        address[] assets;
        address[] venues;
        bool acceptGuardian;
    }

    // ----------------------------------------------------------------- events

    /// @notice `owner` joined the owner set.
    event OwnerAdded(address indexed owner);
    /// @notice `owner` left the owner set.
    event OwnerRemoved(address indexed owner);
    /// @notice The number of approvals required became `threshold`.
    event ThresholdChanged(uint256 threshold);
    /// @notice The vault now follows `leader`.
    event LeaderChanged(address indexed leader);
    /// @notice The risk policy became `policy`.
    event PolicyChanged(Policy policy);
    /// @notice The vault's price oracle became `oracle`.
    event OracleChanged(address indexed oracle);
    /// @notice `asset` was allowed or disallowed.
    event AssetAllowed(address indexed asset, bool allowed);
    /// @notice `venue` was allowed or disallowed (the platform must allow it too).
    event VenueAllowed(address indexed venue, bool allowed);
    /// @notice The owners accepted or refused the platform guardian's power to pause (emitted on change only).
    event GuardianAcceptanceChanged(bool accepted);
    /// @notice Deposits and trades stopped, by the owner or guardian `by` (emitted on change only).
    event Paused(address indexed by);
    /// @notice Deposits and trades resumed (emitted on change only).
    event Unpaused();
    /// @notice Mirroring stopped, by the owner `by` (emitted on change only).
    event CopyingStopped(address indexed by);
    /// @notice Mirroring resumed (emitted on change only).
    event CopyingStarted();
    /// @notice `amount` is what actually arrived (balance delta), not what was asked for.
    event Deposited(address indexed from, address indexed token, uint256 amount);
    /// @notice `amount` of `token` left for `to`, approved at operation nonce `nonce`.
    event Withdrawn(address indexed token, address indexed to, uint256 amount, uint256 nonce);
    /// @notice A configuration call (`data`, of function `selector`) ran with approvals at operation nonce `nonce`.
    event ConfigExecuted(bytes4 indexed selector, uint256 indexed nonce, bytes data);
    /// @notice The router left this vault out of an aggregated batch after its pull (`BoundAboveQuote`): its
    ///         `tokenIn` came back, the intent is no longer marked executed here and the day's trade count is
    ///         back where it was, so the vault may still take the intent later.
    event AggregatedTradeCancelled(address indexed leader, uint256 indexed nonce, bytes32 indexed digest);
    /// @notice A leader's intent was mirrored; `oracleOut` is the oracle's value of `amountIn` in `tokenOut`.
    event Mirrored(
        address indexed leader,
        uint256 indexed nonce,
        bytes32 indexed digest,
        address venue,
        address tokenIn,
        address tokenOut,
        uint256 amountIn,
        uint256 amountOut,
        uint256 oracleOut
    );

    // ----------------------------------------------------------------- errors

    /// @notice Thrown when anyone but the factory initialises, or a vault is initialised twice.
    error AlreadyInitialized();
    /// @notice Thrown when a function only the factory may call is called by someone else.
    error NotFactory(address caller);
    /// @notice Thrown when a configuration function is called other than through `executeConfig`.
    error OnlySelf(address caller);
    /// @notice Thrown when a single-key action comes from an account that is not an owner.
    error NotOwner(address caller);
    /// @notice Thrown when `pause` comes from an account that is neither an owner nor an accepted guardian.
    error NotOwnerOrGuardian(address caller);
    /// @notice Thrown when an approval's deadline has passed.
    error DeadlineExpired(uint256 deadline, uint256 timestamp);
    /// @notice Thrown when `signers` and `signatures` differ in length.
    error LengthMismatch(uint256 signers, uint256 signatures);
    /// @notice Thrown when fewer approvals than the threshold are given.
    error NotEnoughSignatures(uint256 given, uint256 threshold);
    /// @notice Thrown when signers are not strictly ascending (which also rules out duplicates and zero).
    error SignersNotAscending(uint256 index);
    /// @notice Thrown when an approval comes from an address that is not an owner.
    error SignerNotOwner(address signer);
    /// @notice Thrown when approval `index` carries the same signature bytes as approval `earlierIndex`: one key
    ///         must not count twice (say, as an EOA owner and through an EIP-1271 owner that checks the same key).
    error SignatureReused(uint256 index, uint256 earlierIndex);
    /// @notice Thrown when an owner's signature does not match the digest (ECDSA low-s or EIP-1271).
    error InvalidOwnerSignature(address signer);
    /// @notice Thrown when `executeConfig` data calls anything but a configuration function.
    error DisallowedConfigCall(bytes4 selector);
    /// @notice Thrown when an address argument is zero where it must not be.
    error ZeroAddress();
    /// @notice Thrown when an amount is zero where it must not be.
    error ZeroAmount();
    /// @notice Thrown when an owner to add is the vault itself or already an owner.
    error InvalidOwner(address owner);
    /// @notice Thrown when an owner to remove is not an owner.
    error OwnerNotFound(address owner);
    /// @notice Thrown when owners would exceed the supported maximum.
    error TooManyOwners(uint256 count, uint256 max);
    /// @notice Thrown when a threshold is 0 or above the number of owners.
    error InvalidThreshold(uint256 threshold, uint256 owners);
    /// @notice Thrown when a policy's `maxFractionBps` is 0 or above 10000.
    error InvalidMaxFraction(uint16 maxFractionBps);
    /// @notice Thrown when a policy's `maxSlippageBps` is 10000 or more.
    error InvalidMaxSlippage(uint16 maxSlippageBps);
    /// @notice Thrown when a policy's `maxOracleAge` is 0.
    error InvalidMaxOracleAge(uint32 maxOracleAge);
    /// @notice Thrown when a policy's `maxTradesPerDay` is 0.
    error InvalidMaxTradesPerDay(uint16 maxTradesPerDay);
    /// @notice Thrown when a policy's `lossBudgetBps` is above 10000.
    error InvalidLossBudget(uint16 lossBudgetBps);
    /// @notice Thrown on a deposit or trade while the vault is paused.
    error VaultPaused();
    /// @notice Thrown on a trade while copying is stopped.
    error CopyingStoppedError();
    /// @notice Thrown when an asset is not on the vault's allowlist.
    error AssetNotAllowed(address asset);
    /// @notice Thrown when a venue is not on the vault's or the platform's allowlist.
    error VenueNotAllowed(address venue);
    /// @notice Thrown when an intent's leader is not the leader this vault follows.
    error NotFollowingLeader(address intentLeader, address vaultLeader);
    /// @notice Thrown when an intent trades a larger share than the policy allows.
    error FractionTooLarge(uint16 fractionBps, uint16 maxFractionBps);
    /// @notice Thrown when this vault already executed the leader's nonce.
    error IntentAlreadyExecuted(address leader, uint256 nonce);
    /// @notice Thrown when the vault already mirrored `maxTradesPerDay` trades this UTC day.
    error DailyTradeLimitReached(uint256 day, uint16 maxTradesPerDay);
    /// @notice Thrown when the fraction of the vault's balance rounds to nothing.
    error NothingToTrade(address tokenIn);
    /// @notice Thrown when the worst case allowed by the trade's bound would exceed the loss budget.
    error LossBudgetExceeded(uint256 lossAfterTrade, uint256 budget);
    /// @notice Thrown when a trade returned less `tokenOut` than the bound.
    error InsufficientOutput(uint256 received, uint256 minimum);
    /// @notice Thrown when a trade moved more `tokenIn` than computed, or more than INPUT_TOLERANCE wei less.
    error InputMismatch(uint256 spent, uint256 expected);
    /// @notice Thrown when an intent would trade a token for itself.
    error IdenticalTokens(address token);
    /// @notice Thrown when a depositor is on the platform's sanctions list.
    error SanctionedDepositor(address depositor);
    /// @notice Thrown when a router-only entry point is called by anyone but the factory's router.
    error NotRouter(address caller);
    /// @notice Thrown on a deposit or another mirror while this vault's aggregated trade is pending.
    error TradePending();
    /// @notice Thrown when the router settles a vault that has no pending aggregated trade.
    error NoPendingTrade();
    /// @notice Thrown when a cancelled aggregated trade left the vault more than INPUT_TOLERANCE wei short of its
    ///         `tokenIn` balance before the pull.
    error RefundMismatch(uint256 balance, uint256 expected);

    // ----------------------------------------------------------------- set-up

    /// @notice Initialise a fresh clone (factory only, once). The implementation itself cannot be initialised.
    function initialize(InitParams calldata params) external;

    // ----------------------------------------------------------------- anyone

    /// @notice Deposit an allowlisted `token`; credits what actually arrived (fee-on-transfer safe).
    function deposit(address token, uint256 amount) external;

    /// @notice Mirror a leader's signed intent into this vault, inside the owners' limits (docs/protocol.md §1.3).
    /// @return amountIn What the vault sold.
    /// @return amountOut What the vault received, measured on its own balance.
    function mirror(TradeIntent calldata intent, bytes calldata signature)
        external
        returns (uint256 amountIn, uint256 amountOut);

    // ----------------------------------------------------------------- router (aggregated mode)

    /// @notice Router only: run every check of a mirrored trade (`mirror`) but the intent's own (signature, signer, deadline,
    ///         fraction, cancelled nonce), which the immutable router verified with `registry.checkIntent` before
    ///         its first pull (the whole batch reverts otherwise; `signature` is not read here), mark the
    ///         intent executed, count the trade, and send `amountIn` of `tokenIn` to the router. The trade stays
    ///         pending until `settleAggregated` (or `cancelAggregated`) in the same transaction; meanwhile the
    ///         vault refuses deposits and other mirrors.
    /// @return amountIn The vault's share to sell.
    /// @return minOut The least `tokenOut` it accepts for it.
    function pullAggregated(TradeIntent calldata intent, bytes calldata signature)
        external
        returns (uint256 amountIn, uint256 minOut);

    /// @notice Router only: the router left this vault out of the swap (its bound cannot hold at the venue's
    ///         quote) and returned its `tokenIn`. The vault checks the refund and undoes the pull's records.
    function cancelAggregated(TradeIntent calldata intent) external;

    /// @notice Router only: finish the pending trade. The vault checks its own balances: `tokenIn` fell by
    ///         exactly `amountIn` and `tokenOut` rose by at least the bound since `pullAggregated`. The vault
    ///         trusts the router for nothing it can check: what it keeps rests only on these balances.
    /// @return amountOut What the vault received.
    /// @param intent The same intent as the pending `pullAggregated`; anything else is refused.
    function settleAggregated(TradeIntent calldata intent) external returns (uint256 amountOut);

    // ----------------------------------------------------------------- threshold

    /// @notice Withdraw with M-of-N owner approvals over
    ///         `Withdrawal(address token,uint256 amount,address to,uint256 nonce,uint256 deadline)`. Works while paused.
    /// @param signers Approving owners, strictly ascending.
    /// @param signatures One per signer: 65-byte ECDSA (low-s) for EOAs, EIP-1271 data for contract owners.
    function withdraw(
        address token,
        uint256 amount,
        address to,
        uint256 deadline,
        address[] calldata signers,
        bytes[] calldata signatures
    ) external;

    /// @notice Run one configuration call on this vault with M-of-N approvals over
    ///         `ConfigChange(bytes data,uint256 nonce,uint256 deadline)`.
    /// @param data A call of one of the vault's configuration functions (setLeader, setPolicy, ...).
    function executeConfig(bytes calldata data, uint256 deadline, address[] calldata signers, bytes[] calldata signatures)
        external;

    /// @notice Follow another leader (through `executeConfig` only).
    function setLeader(address leader) external;
    /// @notice Replace the risk policy (through `executeConfig` only; tightening too).
    function setPolicy(Policy calldata policy) external;
    /// @notice Allow or disallow an asset (through `executeConfig` only).
    function setAssetAllowed(address asset, bool allowed) external;
    /// @notice Allow or disallow a venue (through `executeConfig` only).
    function setVenueAllowed(address venue, bool allowed) external;
    /// @notice Change the price oracle (through `executeConfig` only).
    function setOracle(address oracle) external;
    /// @notice Add an owner (through `executeConfig` only).
    function addOwner(address owner) external;
    /// @notice Remove an owner; the threshold must still be met by those left (through `executeConfig` only).
    function removeOwner(address owner) external;
    /// @notice Change the threshold, 1 ≤ M ≤ N (through `executeConfig` only).
    function setThreshold(uint256 threshold) external;
    /// @notice Resume deposits and trades (through `executeConfig` only).
    function unpause() external;
    /// @notice Resume mirroring the leader (through `executeConfig` only).
    function startCopying() external;
    /// @notice Accept or refuse the platform guardian's power to pause (through `executeConfig` only).
    function setGuardianAccepted(bool accepted) external;

    // ----------------------------------------------------------------- one key

    /// @notice Stop deposits and trades now. Any single owner, or the platform guardian if accepted.
    function pause() external;

    /// @notice Stop mirroring the leader now. Any single owner.
    function stopCopying() external;

    // ----------------------------------------------------------------- views

    /// @notice The owners, in no particular order (removal moves the last into the gap).
    function getOwners() external view returns (address[] memory);
    /// @notice Whether `account` is an owner.
    function isOwner(address account) external view returns (bool);
    /// @notice Approvals required for withdrawals and configuration changes (M of M-of-N).
    function threshold() external view returns (uint256);
    /// @notice The address whose signed intents this vault mirrors.
    function leader() external view returns (address);
    /// @notice The next operation nonce, shared by withdrawals and configuration changes.
    function nonce() external view returns (uint256);
    /// @notice Whether deposits and trades are stopped (withdrawals still work).
    function paused() external view returns (bool);
    /// @notice Whether the vault mirrors its leader's intents.
    function copying() external view returns (bool);
    /// @notice Whether the platform guardian may pause this vault.
    function guardianAccepted() external view returns (bool);
    /// @notice The owners' risk policy.
    function policy() external view returns (Policy memory);
    /// @notice The price oracle that bounds every trade.
    function oracle() external view returns (address);
    /// @notice Whether `asset` may be deposited and traded.
    function isAssetAllowed(address asset) external view returns (bool);
    /// @notice Whether the owners allow `venue` (a trade also needs the platform's allowance).
    function isVenueAllowed(address venue) external view returns (bool);
    /// @notice Whether this vault executed `leader`'s intent `nonce` (at most once per vault).
    function isIntentExecuted(address leader, uint256 nonce) external view returns (bool);
    /// @notice Trades mirrored in the current UTC day.
    function tradesToday() external view returns (uint256);
    /// @notice The loss budget used now, in millionths of a basis point, after decay.
    function lossUsed() external view returns (uint256);
    /// @notice The raw trade accounting, for indexers: the UTC day (`block.timestamp / 1 days`) of the last
    ///         counted trade and that day's count, and the loss total (millionths of a basis point) as recorded
    ///         at `lossUpdatedAt`, before decay. Every trade that stays counted emits `Mirrored` (with the amounts
    ///         its loss is computed from); an aggregated pull the router cancels in the same transaction emits
    ///         `AggregatedTradeCancelled` instead and leaves the values as they were. Read this view at an
    ///         event's block to follow them exactly.
    function tradeAccounting()
        external
        view
        returns (uint256 tradeDay, uint256 tradesThatDay, uint256 lossRecorded, uint256 lossUpdatedAt);
    /// @notice This clone's EIP-712 domain separator ("CopyVault", "1", the chain id, this address), built at
    ///         call time.
    function domainSeparator() external view returns (bytes32);
    /// @notice The EIP-712 digest owners sign to approve a withdrawal.
    function withdrawalDigest(address token, uint256 amount, address to, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32);
    /// @notice The EIP-712 digest owners sign to approve a configuration change (`data` is the call).
    function configDigest(bytes calldata data, uint256 nonce, uint256 deadline) external view returns (bytes32);
}
