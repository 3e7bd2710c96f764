// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Policy} from "./ICopyTypes.sol";

/// @title IVaultFactory
/// @notice Creates follower vaults as clones at CREATE2 addresses derived from the creator's parameters, and
///         holds the platform's settings. No platform role can move vault funds or change a vault's owners,
///         leader or policy (docs/protocol.md §1.4).
interface IVaultFactory {
    // ----------------------------------------------------------------- events

    /// @notice A vault was created by `creator` for `owners` (M = `threshold`), following `leader`, priced by
    ///         `oracle` (the default oracle the creator stated and the factory checked), at the CREATE2 address
    ///         derived from the creator, every creation parameter and `salt`.
    event VaultCreated(
        address indexed vault,
        address indexed creator,
        address indexed leader,
        address[] owners,
        uint256 threshold,
        address oracle,
        bytes32 salt
    );
    /// @notice A venue was allowed or disallowed platform-wide.
    event GlobalVenueSet(address indexed venue, bool allowed);
    /// @notice The oracle given to vaults created from now on changed.
    event DefaultOracleSet(address indexed oracle);
    /// @notice The platform guardian changed (zero: none).
    event GuardianSet(address indexed guardian);
    /// @notice The deny-list checked on deposits changed (zero: none).
    event SanctionsListSet(address indexed sanctionsList);

    // ----------------------------------------------------------------- errors

    /// @notice Thrown when an address that must be set is zero.
    error ZeroAddress();
    /// @notice Thrown when the oracle a creator expects is not the factory's current default oracle (it may have
    ///         changed since the creator looked): nothing is created.
    error OracleMismatch(address expected, address current);
    /// @notice Thrown at deployment if the router did not land at its predicted address (cannot happen on an EVM).
    error RouterMisplaced(address predicted, address actual);

    // ----------------------------------------------------------------- vaults

    /// @notice Create a vault clone owned by `owners` (M = `threshold`) following `leader`.
    /// @dev The CREATE2 salt hashes the caller with every parameter, so nobody can squat another creator's address.
    /// @param owners The owner keys (EOAs or EIP-1271 contracts), at most 32, no zero or duplicate.
    /// @param threshold Approvals needed for withdrawals and configuration, 1 ≤ threshold ≤ owners.
    /// @param leader The address whose signed intents the vault mirrors.
    /// @param policy The owners' risk limits (fraction, slippage, oracle age, trades per day, loss budget).
    /// @param oracle The oracle the creator expects: it must equal `defaultOracle()`, or the call reverts with
    ///        `OracleMismatch` (so an oracle admin cannot swap the default in front of the creation).
    /// @param assets Tokens the vault may trade and accept as deposits.
    /// @param venues Venues the vault may trade on (the platform must allow them too).
    /// @param acceptGuardian Whether the platform guardian may pause the vault.
    /// @param salt Any value, to create several vaults with the same parameters.
    /// @return vault The new vault's address (as `predictVault` gives it).
    function createVault(
        address[] calldata owners,
        uint256 threshold,
        address leader,
        Policy calldata policy,
        address oracle,
        address[] calldata assets,
        address[] calldata venues,
        bool acceptGuardian,
        bytes32 salt
    ) external returns (address vault);

    /// @notice The address `createVault` would give the caller (`msg.sender`) for the same parameters.
    /// @dev Does not check `oracle` against the default: the address depends on the parameters only.
    function predictVault(
        address[] calldata owners,
        uint256 threshold,
        address leader,
        Policy calldata policy,
        address oracle,
        address[] calldata assets,
        address[] calldata venues,
        bool acceptGuardian,
        bytes32 salt
    ) external view returns (address);

    // ----------------------------------------------------------------- platform settings (roles)

    /// @notice Allow or disallow a venue platform-wide (VENUE_ADMIN_ROLE). Vaults need both this and their own list.
    function setVenueAllowed(address venue, bool allowed) external;
    /// @notice The oracle given to vaults created from now on (ORACLE_ADMIN_ROLE); existing vaults keep theirs.
    function setDefaultOracle(address oracle) external;
    /// @notice The key that may pause vaults whose owners accepted a guardian (GUARDIAN_ADMIN_ROLE).
    function setGuardian(address guardian) external;
    /// @notice The deny-list checked on deposits, zero for none (COMPLIANCE_ROLE).
    function setSanctionsList(address sanctionsList) external;

    // ----------------------------------------------------------------- views

    /// @notice Whether `vault` was created by this factory.
    function isVault(address vault) external view returns (bool);
    /// @notice How many vaults this factory created.
    function vaultCount() external view returns (uint256);
    /// @notice The `index`-th vault created (0-based, in creation order); reverts past `vaultCount()`.
    function vaultAt(uint256 index) external view returns (address);
    /// @notice Whether the platform allows `venue` (vaults must allow it too).
    function isVenueAllowed(address venue) external view returns (bool);
    /// @notice The oracle given to vaults created now; `createVault` callers must state it.
    function defaultOracle() external view returns (address);
    /// @notice The key that may pause vaults whose owners accepted a guardian (zero: none).
    function guardian() external view returns (address);
    /// @notice The deny-list checked on deposits (zero: none).
    function sanctionsList() external view returns (address);
    /// @notice The LeaderRegistry that verifies intents for every vault of this factory (fixed).
    function registry() external view returns (address);
    /// @notice The CopyRouter, the only caller of vaults' aggregated entry points (fixed at deployment).
    function router() external view returns (address);
    /// @notice The CopyVault implementation every vault is a clone of (fixed at deployment).
    function vaultImplementation() external view returns (address);
}
