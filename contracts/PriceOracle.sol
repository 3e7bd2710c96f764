// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {TransientSlot} from "@openzeppelin/contracts/utils/TransientSlot.sol";

import {IAggregatorV3} from "./interfaces/IAggregatorV3.sol";
import {IPriceOracle} from "./interfaces/IPriceOracle.sol";

/// @title PriceOracle
/// @notice USD feeds per token (Chainlink AggregatorV3Interface); quotes one token in another.
/// @dev Changing a feed moves the price bounds of every vault that uses this oracle: a documented trust
///      assumption, and the reason FEED_ADMIN_ROLE is meant to sit behind a timelock.
contract PriceOracle is IPriceOracle, AccessControl {
    using TransientSlot for *;

    bytes32 public constant FEED_ADMIN_ROLE = keccak256("FEED_ADMIN_ROLE");
    /// @dev Seed of the per-transaction answer cache: slot keccak256(feed, seed) holds the answer, the next
    ///      slot its update time.
    bytes32 private constant CACHE_SEED = keccak256("copyvault.oracle.answers");

    /// @dev One slot: the aggregator, both decimals and the feed's own age limit are read together.
    struct Feed {
        IAggregatorV3 aggregator;
        uint8 tokenDecimals;
        uint8 feedDecimals;
        uint32 maxAge;
    }

    mapping(address token => Feed) private _feeds;
    /// @dev One slot: the L2 sequencer uptime feed (zero: none) and the grace period after an outage.
    IAggregatorV3 private _sequencerFeed;
    uint32 private _sequencerGracePeriod;

    /// @param admin Holder of DEFAULT_ADMIN_ROLE and FEED_ADMIN_ROLE (meant to be a Safe behind a timelock).
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(FEED_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IPriceOracle
    function setFeed(address token, address feed) external onlyRole(FEED_ADMIN_ROLE) {
        if (token == address(0) || feed == address(0)) revert ZeroAddress();
        // Decimals are cached so that a quote reads one slot per token instead of two external calls.
        uint8 tokenDecimals = IERC20Metadata(token).decimals();
        uint8 feedDecimals = IAggregatorV3(feed).decimals();
        // A new feed keeps the token's age limit: the heartbeat belongs to the price series, set apart.
        _feeds[token] = Feed(IAggregatorV3(feed), tokenDecimals, feedDecimals, _feeds[token].maxAge);
        emit FeedSet(token, feed, tokenDecimals, feedDecimals);
    }

    /// @inheritdoc IPriceOracle
    function setFeedMaxAge(address token, uint32 maxAge) external onlyRole(FEED_ADMIN_ROLE) {
        if (address(_feeds[token].aggregator) == address(0)) revert FeedNotSet(token);
        _feeds[token].maxAge = maxAge;
        emit FeedMaxAgeSet(token, maxAge);
    }

    /// @inheritdoc IPriceOracle
    function setSequencerUptimeFeed(address feed, uint32 gracePeriod) external onlyRole(FEED_ADMIN_ROLE) {
        (_sequencerFeed, _sequencerGracePeriod) = (IAggregatorV3(feed), gracePeriod);
        emit SequencerUptimeFeedSet(feed, gracePeriod);
    }

    /// @inheritdoc IPriceOracle
    function removeFeed(address token) external onlyRole(FEED_ADMIN_ROLE) {
        if (address(_feeds[token].aggregator) == address(0)) revert FeedNotSet(token);
        delete _feeds[token];
        emit FeedSet(token, address(0), 0, 0);
    }

    /// @inheritdoc IPriceOracle
    function quote(address tokenIn, address tokenOut, uint256 amountIn, uint256 maxAge)
        external
        view
        returns (uint256 amountOut)
    {
        _requireSequencerUp();
        Feed memory feedIn = _feedOf(tokenIn);
        Feed memory feedOut = _feedOf(tokenOut);
        (uint256 priceIn, uint256 inUpdatedAt) = _latest(feedIn.aggregator);
        (uint256 priceOut, uint256 outUpdatedAt) = _latest(feedOut.aggregator);
        _requireFresh(feedIn, inUpdatedAt, maxAge);
        _requireFresh(feedOut, outUpdatedAt, maxAge);
        return _convert(amountIn, feedIn, feedOut, priceIn, priceOut);
    }

    /// @inheritdoc IPriceOracle
    function quoteCached(address tokenIn, address tokenOut, uint256 amountIn, uint256 maxAge)
        external
        returns (uint256 amountOut)
    {
        _requireSequencerUp();
        Feed memory feedIn = _feedOf(tokenIn);
        Feed memory feedOut = _feedOf(tokenOut);
        (uint256 priceIn, uint256 inUpdatedAt) = _latestCached(feedIn.aggregator);
        (uint256 priceOut, uint256 outUpdatedAt) = _latestCached(feedOut.aggregator);
        _requireFresh(feedIn, inUpdatedAt, maxAge);
        _requireFresh(feedOut, outUpdatedAt, maxAge);
        return _convert(amountIn, feedIn, feedOut, priceIn, priceOut);
    }

    /// @inheritdoc IPriceOracle
    function feedOf(address token) external view returns (address feed, uint8 tokenDecimals, uint8 feedDecimals) {
        Feed storage f = _feeds[token];
        return (address(f.aggregator), f.tokenDecimals, f.feedDecimals);
    }

    /// @inheritdoc IPriceOracle
    function maxAgeOf(address token) external view returns (uint32) {
        return _feeds[token].maxAge;
    }

    /// @inheritdoc IPriceOracle
    function sequencerUptimeFeed() external view returns (address feed, uint32 gracePeriod) {
        return (address(_sequencerFeed), _sequencerGracePeriod);
    }

    function _feedOf(address token) private view returns (Feed memory f) {
        f = _feeds[token];
        if (address(f.aggregator) == address(0)) revert FeedNotSet(token);
    }

    /// @dev amountIn * priceIn / priceOut, rescaled from tokenIn's and feedIn's decimals to tokenOut's and
    ///      feedOut's; the power of ten goes on whichever side keeps it non-negative. Rounds down.
    function _convert(uint256 amountIn, Feed memory feedIn, Feed memory feedOut, uint256 priceIn, uint256 priceOut)
        private
        pure
        returns (uint256)
    {
        uint256 upScale = uint256(feedOut.tokenDecimals) + feedOut.feedDecimals;
        uint256 downScale = uint256(feedIn.tokenDecimals) + feedIn.feedDecimals;
        if (upScale >= downScale) {
            return Math.mulDiv(amountIn, priceIn * 10 ** (upScale - downScale), priceOut);
        }
        return Math.mulDiv(amountIn, priceIn, priceOut * 10 ** (downScale - upScale));
    }

    /// @dev The latest answer and its update time, refusing zero and negative answers.
    function _latest(IAggregatorV3 aggregator) private view returns (uint256 price, uint256 updatedAt) {
        int256 answer;
        (, answer,, updatedAt,) = aggregator.latestRoundData();
        if (answer <= 0) revert InvalidOraclePrice(address(aggregator), answer);
        price = uint256(answer);
    }

    /// @dev `_latest`, read from the feed once per transaction and then from transient storage.
    function _latestCached(IAggregatorV3 aggregator) private returns (uint256 price, uint256 updatedAt) {
        bytes32 slot = keccak256(abi.encode(aggregator, CACHE_SEED));
        price = slot.asUint256().tload();
        if (price != 0) return (price, bytes32(uint256(slot) + 1).asUint256().tload());
        (price, updatedAt) = _latest(aggregator);
        slot.asUint256().tstore(price);
        bytes32(uint256(slot) + 1).asUint256().tstore(updatedAt);
    }

    /// @dev Refuses answers older than the feed's own limit or the caller's `maxAge`, whichever is shorter, never
    ///      updated, or dated in the future.
    function _requireFresh(Feed memory feed, uint256 updatedAt, uint256 maxAge) private view {
        if (feed.maxAge != 0 && feed.maxAge < maxAge) maxAge = feed.maxAge;
        if (updatedAt == 0 || updatedAt > block.timestamp || block.timestamp - updatedAt > maxAge) {
            revert StaleOraclePrice(address(feed.aggregator), updatedAt, maxAge);
        }
    }

    /// @dev Chainlink's L2 sequencer uptime check, when configured: the answer is 0 while the sequencer is up and
    ///      `startedAt` the time its status last changed. Refuses a down sequencer, a feed without a valid round
    ///      yet (startedAt zero), and the grace period after an outage, when feeds may not have caught up.
    function _requireSequencerUp() private view {
        IAggregatorV3 sequencer = _sequencerFeed;
        if (address(sequencer) == address(0)) return;
        (, int256 answer, uint256 startedAt,,) = sequencer.latestRoundData();
        if (answer != 0) revert SequencerDown();
        uint256 grace = _sequencerGracePeriod;
        if (startedAt == 0 || startedAt > block.timestamp || block.timestamp - startedAt <= grace) {
            revert SequencerGracePeriodNotOver(startedAt, grace);
        }
    }
}
