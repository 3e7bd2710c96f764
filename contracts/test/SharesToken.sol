// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice Test-only share-based token in the manner of Lido's stETH: balances are shares times the pooled
///         amount over all shares, so a transfer of `amount` moves floor(amount * shares / pooled) shares and
///         balances change by up to 2 wei less than `amount` (with fewer than 2 pooled units per share).
contract SharesToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    string public constant name = "Shares Token";
    string public constant symbol = "SHR";
    uint8 public constant decimals = 18;

    uint256 public totalPooled;
    uint256 public totalShares;
    mapping(address account => uint256) public sharesOf;
    mapping(address owner => mapping(address spender => uint256)) public allowance;

    function mint(address to, uint256 amount) external {
        uint256 shares = totalShares == 0 ? amount : amount * totalShares / totalPooled;
        sharesOf[to] += shares;
        totalShares += shares;
        totalPooled += amount;
        emit Transfer(address(0), to, amount);
    }

    /// @notice A rebase: the pooled amount becomes `pooled`, every balance moves in proportion.
    function rebase(uint256 pooled) external {
        totalPooled = pooled;
    }

    function totalSupply() external view returns (uint256) {
        return totalPooled;
    }

    function balanceOf(address account) public view returns (uint256) {
        return totalShares == 0 ? 0 : sharesOf[account] * totalPooled / totalShares;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        allowance[from][msg.sender] -= amount;
        _transfer(from, to, amount);
        return true;
    }

    function _transfer(address from, address to, uint256 amount) private {
        uint256 shares = amount * totalShares / totalPooled;
        sharesOf[from] -= shares;
        sharesOf[to] += shares;
        emit Transfer(from, to, amount);
    }
}
