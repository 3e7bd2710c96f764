// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Policy} from "./ICopyTypes.sol";

/// @title IVaultFactory
/// @notice Creates follower vaults as clones at CREATE2 addresses derived from the creator's parameters, and
///         holds the platform's settings. No platform role can move vault funds or change a vault's owners,
///         leader or policy (SPEC §1.4).
interface IVaultFactory {
    // ----------------------------------------------------------------- events

    event VaultCreated(
        address indexed vault,
        address indexed creator,
        address indexed leader,
        address[] owners,
        uint256 threshold,
        bytes32 salt
    );
    event GlobalVenueSet(address indexed venue, bool allowed);
    event DefaultOracleSet(address indexed oracle);
    event GuardianSet(address indexed guardian);
    event SanctionsListSet(address indexed sanctionsList);

    // ----------------------------------------------------------------- errors

    /// @notice Thrown when an address that must be set is zero.
    error ZeroAddress();
    /// @notice Thrown at deployment if the router did not land at its predicted address (cannot happen on an EVM).
    error RouterMisplaced(address predicted, address actual);

    // ----------------------------------------------------------------- vaults

    /// @notice Create a vault clone owned by `owners` (M = `threshold`) following `leader`.
    /// @dev The CREATE2 salt hashes the caller with every parameter, so nobody can squat another creator's address.
    function createVault(
        address[] calldata owners,
        uint256 threshold,
        address leader,
        Policy calldata policy,
        address[] calldata assets,
        address[] calldata venues,
        bool acceptGuardian,
        bytes32 salt
    ) external returns (address vault);

    /// @notice The address `createVault` would give the caller (`msg.sender`) for the same parameters.
    function predictVault(
        address[] calldata owners,
        uint256 threshold,
        address leader,
        Policy calldata policy,
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

    function isVault(address vault) external view returns (bool);
    function vaultCount() external view returns (uint256);
    function vaultAt(uint256 index) external view returns (address);
    function isVenueAllowed(address venue) external view returns (bool);
    function defaultOracle() external view returns (address);
    function guardian() external view returns (address);
    function sanctionsList() external view returns (address);
    function registry() external view returns (address);
    function router() external view returns (address);
    function vaultImplementation() external view returns (address);
}
