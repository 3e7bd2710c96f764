// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IPriceOracle
/// @notice Converts token amounts at Chainlink-style USD feed prices; refuses stale, zero and negative answers, and
///         (on an L2, when configured) answers while the sequencer is down or just back up.
interface IPriceOracle {
    /// @notice A token's feed was set (or removed, with `feed` zero).
    event FeedSet(address indexed token, address indexed feed, uint8 tokenDecimals, uint8 feedDecimals);
    /// @notice The oldest answer accepted from `token`'s feed became `maxAge` seconds (its heartbeat plus a
    ///         margin; zero: no limit of its own, only the caller's).
    event FeedMaxAgeSet(address indexed token, uint32 maxAge);
    /// @notice The L2 sequencer uptime feed became `feed` (zero: none, as on L1), with `gracePeriod` seconds to
    ///         wait after the sequencer comes back up.
    event SequencerUptimeFeedSet(address indexed feed, uint32 gracePeriod);

    /// @notice Thrown when a token has no feed.
    error FeedNotSet(address token);
    /// @notice Thrown when a feed's latest answer is older than `maxAge`: the feed's own limit or the caller's,
    ///         whichever is shorter (or dated in the future, or never updated).
    error StaleOraclePrice(address feed, uint256 updatedAt, uint256 maxAge);
    /// @notice Thrown when the L2 sequencer uptime feed reports the sequencer down.
    error SequencerDown();
    /// @notice Thrown when the sequencer has been up again for less than the grace period (since `upSince`;
    ///         zero: the uptime feed has no valid round yet), while feeds may still carry stale answers.
    error SequencerGracePeriodNotOver(uint256 upSince, uint256 gracePeriod);
    /// @notice Thrown when a feed answers zero or a negative price.
    error InvalidOraclePrice(address feed, int256 answer);
    /// @notice Thrown when a feed or token address is zero.
    error ZeroAddress();

    /// @notice Set the USD price feed of `token` (feed admin only). Decimals are read and cached now.
    function setFeed(address token, address feed) external;

    /// @notice Remove the feed of `token` (feed admin only): quotes involving it then revert. Its age limit goes
    ///         with it.
    function removeFeed(address token) external;

    /// @notice The oldest answer accepted from `token`'s feed, in seconds (feed admin only): its heartbeat plus a
    ///         margin, say 1 h for ETH / USD and 24 h for a stablecoin. Zero: only the caller's `maxAge` applies.
    function setFeedMaxAge(address token, uint32 maxAge) external;

    /// @notice On an L2: the Chainlink sequencer uptime feed and the grace period after an outage (feed admin
    ///         only). While the sequencer is down, or back up for less than `gracePeriod` seconds, every quote
    ///         reverts. Zero `feed`: no check (L1).
    function setSequencerUptimeFeed(address feed, uint32 gracePeriod) external;

    /// @notice The value of `amountIn` of `tokenIn` expressed in `tokenOut`, at feed prices no older than each
    ///         feed's own limit (`maxAgeOf`) nor than `maxAge` seconds. Rounds down.
    function quote(address tokenIn, address tokenOut, uint256 amountIn, uint256 maxAge)
        external
        view
        returns (uint256 amountOut);

    /// @notice As `quote`, but each feed's answer is read once per transaction and kept in transient storage,
    ///         so a batch of vaults sharing this oracle pays for one read per feed. The age limit is applied
    ///         to the cached answer's own update time on every call.
    function quoteCached(address tokenIn, address tokenOut, uint256 amountIn, uint256 maxAge)
        external
        returns (uint256 amountOut);

    /// @notice The feed of `token` with the cached token and feed decimals.
    function feedOf(address token) external view returns (address feed, uint8 tokenDecimals, uint8 feedDecimals);

    /// @notice The oldest answer accepted from `token`'s feed, in seconds (zero: no limit of its own).
    function maxAgeOf(address token) external view returns (uint32);

    /// @notice The L2 sequencer uptime feed (zero: none) and the grace period after an outage.
    function sequencerUptimeFeed() external view returns (address feed, uint32 gracePeriod);
}
