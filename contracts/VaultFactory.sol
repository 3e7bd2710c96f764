// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";

import {CopyRouter} from "./CopyRouter.sol";
import {CopyVault} from "./CopyVault.sol";
import {ICopyVault} from "./interfaces/ICopyVault.sol";
import {Policy} from "./interfaces/ICopyTypes.sol";
import {ILeaderRegistry} from "./interfaces/ILeaderRegistry.sol";
import {IVaultFactory} from "./interfaces/IVaultFactory.sol";

/// @title VaultFactory
/// @notice Creates vault clones and holds platform settings. See IVaultFactory.
/// @dev The factory deploys the vault implementation and the router itself, so both are fixed here for good:
///      no role can swap the code that vaults run or the router they trust.
contract VaultFactory is IVaultFactory, AccessControl {
    bytes32 public constant VENUE_ADMIN_ROLE = keccak256("VENUE_ADMIN_ROLE");
    bytes32 public constant ORACLE_ADMIN_ROLE = keccak256("ORACLE_ADMIN_ROLE");
    bytes32 public constant GUARDIAN_ADMIN_ROLE = keccak256("GUARDIAN_ADMIN_ROLE");
    bytes32 public constant COMPLIANCE_ROLE = keccak256("COMPLIANCE_ROLE");

    address public immutable registry;
    address public immutable router;
    address public immutable vaultImplementation;

    address public defaultOracle;
    address public guardian;
    address public sanctionsList;

    mapping(address vault => bool) public isVault;
    address[] private _vaults;
    mapping(address venue => bool) private _globalVenues;

    /// @param admin Holder of every platform role at first (meant to be a Safe behind a timelock).
    /// @param registry_ The LeaderRegistry that verifies intents for every vault of this factory.
    /// @param oracle The default price oracle for new vaults.
    constructor(address admin, ILeaderRegistry registry_, address oracle) {
        if (admin == address(0) || address(registry_) == address(0) || oracle == address(0)) revert ZeroAddress();
        registry = address(registry_);
        // The vault code needs the router's address and the router the code's: the implementation is created
        // first (this contract's nonce 1) with the router's address predicted at nonce 2, and checked.
        address predictedRouter = _createAddress(2);
        vaultImplementation = address(new CopyVault(this, registry_, predictedRouter, oracle));
        router = address(new CopyRouter(this, registry_, vaultImplementation));
        if (router != predictedRouter) revert RouterMisplaced(predictedRouter, router);
        defaultOracle = oracle;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(VENUE_ADMIN_ROLE, admin);
        _grantRole(ORACLE_ADMIN_ROLE, admin);
        _grantRole(GUARDIAN_ADMIN_ROLE, admin);
        _grantRole(COMPLIANCE_ROLE, admin);
        emit DefaultOracleSet(oracle);
    }

    // ----------------------------------------------------------------- vaults

    /// @inheritdoc IVaultFactory
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
    ) external returns (address vault) {
        // The creator states the oracle it expects (it is part of the salt too): a default changed in front of
        // this transaction makes it revert instead of creating a vault priced by an oracle nobody chose.
        if (oracle != defaultOracle) revert OracleMismatch(oracle, defaultOracle);
        vault = Clones.cloneDeterministic(vaultImplementation, _creationSalt());
        isVault[vault] = true;
        _vaults.push(vault);
        // Filled in parts: built in one expression, the parameters would not fit the legacy code generator's
        // stack (Slither compiles with it).
        ICopyVault.InitParams memory params = _initParams(owners, threshold, leader, policy);
        (params.oracle, params.assets, params.venues) = (oracle, assets, venues);
        params.acceptGuardian = acceptGuardian;
        ICopyVault(vault).initialize(params);
        emit VaultCreated(vault, msg.sender, leader, params.owners, params.threshold, params.oracle, salt);
    }

    /// @inheritdoc IVaultFactory
    function predictVault(
        address[] calldata,
        uint256,
        address,
        Policy calldata,
        address,
        address[] calldata,
        address[] calldata,
        bool,
        bytes32
    ) external view returns (address) {
        return Clones.predictDeterministicAddress(vaultImplementation, _creationSalt());
    }

    // ----------------------------------------------------------------- platform settings

    /// @inheritdoc IVaultFactory
    function setVenueAllowed(address venue, bool allowed) external onlyRole(VENUE_ADMIN_ROLE) {
        if (venue == address(0)) revert ZeroAddress();
        _globalVenues[venue] = allowed;
        emit GlobalVenueSet(venue, allowed);
    }

    /// @inheritdoc IVaultFactory
    function setDefaultOracle(address oracle) external onlyRole(ORACLE_ADMIN_ROLE) {
        if (oracle == address(0)) revert ZeroAddress();
        defaultOracle = oracle;
        emit DefaultOracleSet(oracle);
    }

    /// @inheritdoc IVaultFactory
    function setGuardian(address newGuardian) external onlyRole(GUARDIAN_ADMIN_ROLE) {
        guardian = newGuardian;
        emit GuardianSet(newGuardian);
    }

    /// @inheritdoc IVaultFactory
    function setSanctionsList(address list) external onlyRole(COMPLIANCE_ROLE) {
        sanctionsList = list;
        emit SanctionsListSet(list);
    }

    // ----------------------------------------------------------------- views

    /// @inheritdoc IVaultFactory
    function vaultCount() external view returns (uint256) {
        return _vaults.length;
    }

    /// @inheritdoc IVaultFactory
    function vaultAt(uint256 index) external view returns (address) {
        return _vaults[index];
    }

    /// @inheritdoc IVaultFactory
    function isVenueAllowed(address venue) external view returns (bool) {
        return _globalVenues[venue];
    }

    // ----------------------------------------------------------------- internal

    /// @dev The first fields of a new vault's InitParams (createVault fills the others).
    function _initParams(address[] calldata owners, uint256 threshold, address leader, Policy calldata policy)
        private
        pure
        returns (ICopyVault.InitParams memory params)
    {
        (params.owners, params.threshold, params.leader, params.policy) = (owners, threshold, leader, policy);
    }

    /// @dev The CREATE address of this contract's `nonce`-th creation (RLP of [this, nonce] for 1 ≤ nonce ≤ 127).
    function _createAddress(uint8 nonce) private view returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(hex"d694", address(this), nonce)))));
    }

    /// @dev The CREATE2 salt: the caller and every creation parameter, taken as the call's ABI-encoded
    ///      arguments (createVault and predictVault share their parameter list). Whoever copies another
    ///      creator's parameters gets a different address, so vault addresses cannot be squatted.
    function _creationSalt() private view returns (bytes32) {
        return keccak256(abi.encodePacked(msg.sender, msg.data[4:]));
    }
}
