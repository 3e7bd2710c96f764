// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title BoundedCall
/// @notice External calls that copy at most what the caller needs of the callee's return or revert data.
/// @dev A high-level call, `try/catch (bytes memory)` and `(bool, bytes memory) = x.call(...)` copy everything
///      the callee returns or reverts with into the caller's memory, and bubbling a revert copies it again.
///      Memory costs grow quadratically, and the caller pays them out of its own gas: code chosen by someone
///      else (a vault's oracle, a token, a venue) could make a batch run out of gas by answering with a few
///      hundred kilobytes. These calls copy one word of return data, or at most `MAX_REVERT_DATA` bytes of
///      revert data (the pattern of ExcessivelySafeCall). The callee still pays for producing its data.
library BoundedCall {
    /// @dev The most revert data passed on: a selector and eight words, enough for every error of this project
    ///      and its dependencies (longer data, such as a long `Error(string)`, is cut, not refused).
    uint256 internal constant MAX_REVERT_DATA = 4 + 8 * 32;

    /// @notice Calls `target` with `data` and all the gas left; returns the first word of its return data.
    /// @dev Reverts without data when the callee returned less than a word (as a high-level call does), and
    ///      with at most `MAX_REVERT_DATA` bytes of the callee's revert data when it reverted.
    function callForWord(address target, bytes memory data) internal returns (uint256 word) {
        uint256 size;
        (size, word) = _callCopyingOneWord(target, data);
        if (size < 32) _revertEmpty();
    }

    /// @notice As `callForWord`, with STATICCALL: for view functions of code the caller does not trust.
    function staticcallForWord(address target, bytes memory data) internal view returns (uint256 word) {
        (bool ok, uint256 size, uint256 first) = _staticcallCopyingOneWord(target, data);
        if (!ok) revertWithBoundedData();
        if (size < 32) _revertEmpty();
        word = first;
    }

    /// @notice As `staticcallForWord`, for a function returning an address: a word with dirty upper bits is
    ///         refused without data, as the ABI decoder refuses it.
    function staticcallForAddress(address target, bytes memory data) internal view returns (address) {
        uint256 word = staticcallForWord(target, data);
        if (word >> 160 != 0) _revertEmpty();
        return address(uint160(word));
    }

    /// @notice Calls `target` with `data` and all the gas left, ignoring whatever it returns (nothing is copied).
    /// @dev Reverts with at most `MAX_REVERT_DATA` bytes of the callee's revert data when it reverted.
    function callIgnoringReturn(address target, bytes memory data) internal {
        bool ok;
        // Output size zero: no return data is copied.
        assembly ("memory-safe") {
            ok := call(gas(), target, 0, add(data, 0x20), mload(data), 0x00, 0x00)
        }
        if (!ok) revertWithBoundedData();
    }

    /// @notice `token.balanceOf(account)`, copying one word of the answer.
    function boundedBalanceOf(IERC20 token, address account) internal view returns (uint256) {
        return staticcallForWord(address(token), abi.encodeCall(IERC20.balanceOf, (account)));
    }

    /// @notice `SafeERC20.safeTransfer` with a bounded revert: no return data or `true` is success.
    function safeTransfer(IERC20 token, address to, uint256 amount) internal {
        _callOptionalReturn(token, abi.encodeCall(IERC20.transfer, (to, amount)));
    }

    /// @notice `SafeERC20.safeTransferFrom` with a bounded revert: no return data or `true` is success.
    function safeTransferFrom(IERC20 token, address from, address to, uint256 amount) internal {
        _callOptionalReturn(token, abi.encodeCall(IERC20.transferFrom, (from, to, amount)));
    }

    /// @notice Whether `signer` approves `digest` with `signature` by EIP-1271, as OpenZeppelin's
    ///         SignatureChecker.isValidERC1271SignatureNow decides it, copying one word of the answer (the
    ///         checker copies all of it, success or failure).
    function isValidERC1271SignatureNow(address signer, bytes32 digest, bytes memory signature)
        internal
        view
        returns (bool)
    {
        // A failure is an answer here (false), not a revert.
        (bool ok, uint256 size, uint256 answer) =
            _staticcallCopyingOneWord(signer, abi.encodeCall(IERC1271.isValidSignature, (digest, signature)));
        return ok && size >= 32 && bytes32(answer) == bytes32(IERC1271.isValidSignature.selector);
    }

    /// @notice Reverts with at most `MAX_REVERT_DATA` bytes of the last call's revert data.
    function revertWithBoundedData() internal pure {
        // Copies the start of the return data buffer to free memory and reverts with it; nothing is allocated
        // for good, since the frame ends here.
        assembly ("memory-safe") {
            let size := returndatasize()
            if gt(size, MAX_REVERT_DATA) { size := MAX_REVERT_DATA }
            let ptr := mload(0x40)
            returndatacopy(ptr, 0, size)
            revert(ptr, size)
        }
    }

    /// @dev A token call that may return nothing (USDT) or a bool, as SafeERC20 accepts it.
    function _callOptionalReturn(IERC20 token, bytes memory data) private {
        (uint256 size, uint256 value) = _callCopyingOneWord(address(token), data);
        if (size == 0 ? address(token).code.length == 0 : value != 1) {
            revert SafeERC20.SafeERC20FailedOperation(address(token));
        }
    }

    /// @dev Calls `target` with all the gas left and reverts with bounded data if it reverted; returns the size of
    ///      its return data and the first word of it (garbage if `size` < 32: callers check `size`).
    function _callCopyingOneWord(address target, bytes memory data) private returns (uint256 size, uint256 word) {
        bool ok;
        // The output area is the scratch space: the EVM copies at most one word there, whatever the callee returns.
        assembly ("memory-safe") {
            ok := call(gas(), target, 0, add(data, 0x20), mload(data), 0x00, 0x20)
            size := returndatasize()
            word := mload(0x00)
        }
        if (!ok) revertWithBoundedData();
    }

    /// @dev STATICCALLs `target` with all the gas left; whether it succeeded, the size of its return data and the
    ///      first word of it (garbage if `size` < 32: callers check `size`).
    function _staticcallCopyingOneWord(address target, bytes memory data)
        private
        view
        returns (bool ok, uint256 size, uint256 word)
    {
        // The output area is the scratch space: the EVM copies at most one word there, whatever the callee returns.
        assembly ("memory-safe") {
            ok := staticcall(gas(), target, add(data, 0x20), mload(data), 0x00, 0x20)
            size := returndatasize()
            word := mload(0x00)
        }
    }

    /// @dev What a high-level call does with return data too short to decode.
    function _revertEmpty() private pure {
        // A revert without data, exactly as the compiler's ABI decoder reverts on short return data.
        assembly ("memory-safe") {
            revert(0x00, 0x00)
        }
    }
}
