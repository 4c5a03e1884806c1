// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ed25519} from "contracts/Ed25519.sol";

/// @title SwarmCoordinator
/// @notice Records a training swarm's participation: the current round and stage, which
/// account owns which libp2p peer IDs, the bootnode list, each voter's winners per round and
/// each peer's reward per (round, stage).
/// @dev Compatible with the interface RL Swarm users know (roles, round/stage, registerPeer,
/// getPeerId/getEoa, bootnodes, submitWinners, submitReward, getters and totals). Differences:
/// - Every custom error carries the values that explain it: a late submitter learns the
///   current round, a wrong sender learns who owns the peer ID.
/// - Submissions for past rounds are accepted within `submissionWindow` rounds, so a node
///   whose RPC was down for a while can still land its queued results; older ones fail with
///   `RoundTooOld`.
/// - `stageCount` and `submissionWindow` are fixed at construction (no setter to race with).
/// - Every peer ever registered is kept in an enumerable list (`peerCount`, `getPeers`), and
///   events index the peer ID's keccak256 hash so logs can be filtered by peer.
/// - Registering a peer ID needs proof of its key: an Ed25519 signature, by the libp2p key the
///   peer ID names, over the chain ID, this contract's address and the registering account.
///   Only well-formed Ed25519 peer IDs register; nobody can claim another node's ID.
/// - Claims are bounded: winners must be registered peers; a peer submits only for rounds at or
///   after its registration and within `submissionWindow` of the current round; lists have
///   fixed maxima; a reward's magnitude is bounded by the owner-set `maxReward`; rounds advance
///   no faster than the owner-set `minRoundInterval`.
/// - `renounceRole`; the last holder of a role can neither be revoked nor renounce it.
/// - Cheap record getters (`getRewardRecords`, `getVoteRecords`) let a client check ranges of
///   its own submissions after a reorg or a restart.
/// - Not upgradeable: a new version is a new deployment.
contract SwarmCoordinator {
    // ---------------------------------------------------------------- roles

    bytes32 public constant OWNER_ROLE = keccak256("OWNER_ROLE");
    bytes32 public constant STAGE_MANAGER_ROLE = keccak256("STAGE_MANAGER_ROLE");
    bytes32 public constant BOOTNODE_MANAGER_ROLE = keccak256("BOOTNODE_MANAGER_ROLE");

    /// @notice Upper bounds that keep a single call's gas predictable.
    uint256 public constant MAX_WINNERS = 32;
    uint256 public constant MAX_PEERS_PER_ACCOUNT = 8;
    uint256 public constant MAX_BOOTNODES = 64;
    uint256 public constant MAX_BOOTNODE_BYTES = 256;
    uint256 public constant MAX_RECORDS_PER_CALL = 256;
    /// @notice The reward bound a deployment starts with (the owner may change it).
    uint256 public constant DEFAULT_MAX_REWARD = 1_000_000;
    uint256 public constant MAX_REWARD_LIMIT = 2 ** 128;
    /// @notice What a peer's key signs to register (followed by chain ID, contract, account).
    bytes32 public constant REGISTRATION_DOMAIN = "swarmd registerPeer v1";

    // ---------------------------------------------------------------- state

    mapping(bytes32 => mapping(address => bool)) private _roles;
    mapping(bytes32 => uint256) private _roleCount;

    uint256 private _currentRound;
    uint256 private _currentStage;
    uint256 public immutable stageCount;
    uint256 public immutable submissionWindow;
    /// @notice Largest |reward| one submission may carry (owner-set).
    uint256 public maxReward;
    /// @notice Seconds that must pass between two round advances (owner-set; 0: no limit).
    uint256 public minRoundInterval;
    /// @notice Block timestamp of the last round advance (deployment time before the first).
    uint256 public lastRoundAdvanceAt;

    mapping(string => address) private _peerIdToEoa;
    mapping(address => string[]) private _eoaToPeerIds;
    mapping(string => uint256) private _registeredRound;
    string[] private _peers;

    string[] private _bootnodes;

    mapping(uint256 => mapping(string => bool)) private _hasVoted;
    mapping(uint256 => mapping(string => string[])) private _votes;
    mapping(string => uint256) private _voterVoteCount;
    mapping(string => uint256) private _totalWins;
    uint256 private _uniqueVoters;
    uint256 private _uniqueVotedPeers;

    mapping(uint256 => mapping(uint256 => mapping(string => bool))) private _hasSubmittedReward;
    mapping(uint256 => mapping(uint256 => mapping(string => int256))) private _peerReward;
    mapping(uint256 => mapping(uint256 => mapping(address => int256))) private _accountReward;
    mapping(string => int256) private _totalRewards;

    // ---------------------------------------------------------------- events

    event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender);
    event StageAdvanced(uint256 indexed roundNumber, uint256 newStage);
    event RoundAdvanced(uint256 indexed newRoundNumber);
    event PeerRegistered(address indexed eoa, bytes32 indexed peerIdHash, uint256 indexed index, string peerId);
    event BootnodesAdded(address indexed manager, uint256 count);
    event BootnodeRemoved(address indexed manager, uint256 index);
    event AllBootnodesCleared(address indexed manager);
    event MaxRewardChanged(uint256 maxReward);
    event MinRoundIntervalChanged(uint256 minRoundInterval);
    event WinnerSubmitted(
        address indexed account, uint256 indexed roundNumber, bytes32 indexed voterHash, string peerId, string[] winners
    );
    event RewardSubmitted(
        address indexed account, uint256 indexed roundNumber, uint256 indexed stageNumber, int256 reward, string peerId
    );
    event CumulativeRewardsUpdated(
        address indexed account, bytes32 indexed peerIdHash, string peerId, int256 totalRewards
    );

    // ---------------------------------------------------------------- errors

    error OnlyOwner(address sender);
    error OnlyStageManager(address sender);
    error OnlyBootnodeManager(address sender);
    error UnknownRole(bytes32 role);
    error ZeroAddress();
    /// @notice The account is the role's only holder: revoking or renouncing would leave it empty.
    error LastRoleHolder(bytes32 role, address account);
    error InvalidStageCount(uint256 stageCount);
    error InvalidBootnodeIndex(uint256 index, uint256 count);
    /// @notice Not an Ed25519 libp2p peer ID (base58btc identity multihash of the key).
    error InvalidPeerId(string peerId);
    /// @notice The signature is not the peer ID key's signature over (chain, contract, sender).
    error InvalidPeerProof(string peerId, address sender);
    error TooManyPeerIds(address account, uint256 max);
    error PeerIdAlreadyRegistered(string peerId, address owner);
    error InvalidVoterPeerId(string peerId, address owner, address sender);
    /// @notice The round has not started yet (it is after the current round).
    error InvalidRoundNumber(uint256 roundNumber, uint256 currentRound);
    /// @notice The round ended more than `window` rounds ago.
    error RoundTooOld(uint256 roundNumber, uint256 currentRound, uint256 window);
    error InvalidStageNumber(uint256 roundNumber, uint256 stageNumber, uint256 currentRound, uint256 currentStage);
    error WinnerAlreadyVoted(uint256 roundNumber, string peerId);
    /// @notice A winner is empty, too long, or repeats an earlier entry of the list.
    error InvalidVote(uint256 index, string winner);
    error TooManyWinners(uint256 count, uint256 max);
    /// @notice A named winner is not a registered peer.
    error UnregisteredWinner(uint256 index, string winner);
    /// @notice The peer registered in `registeredRound`: it cannot report on earlier rounds.
    error BeforeRegistration(uint256 roundNumber, string peerId, uint256 registeredRound);
    error RewardOutOfBounds(int256 reward, uint256 maxReward);
    error InvalidMaxReward(uint256 maxReward, uint256 limit);
    /// @notice A round advance before `minRoundInterval` has passed since the last one.
    error AdvanceTooSoon(uint256 nextAllowedAt, uint256 now_);
    error TooManyBootnodes(uint256 count, uint256 max);
    error InvalidBootnode(uint256 index);
    error TooManyRecords(uint256 count, uint256 max);
    error RewardAlreadySubmitted(uint256 roundNumber, uint256 stageNumber, string peerId);

    // ---------------------------------------------------------------- modifiers

    modifier onlyOwner() {
        if (!_roles[OWNER_ROLE][msg.sender]) revert OnlyOwner(msg.sender);
        _;
    }

    modifier onlyStageManager() {
        if (!_roles[STAGE_MANAGER_ROLE][msg.sender]) revert OnlyStageManager(msg.sender);
        _;
    }

    modifier onlyBootnodeManager() {
        if (!_roles[BOOTNODE_MANAGER_ROLE][msg.sender]) revert OnlyBootnodeManager(msg.sender);
        _;
    }

    /// @param owner receives all three roles.
    /// @param stageCount_ stages per round (at least 1).
    /// @param submissionWindow_ how many rounds back a submission is still accepted
    ///        (0: only the current round; type(uint256).max: any past round).
    constructor(address owner, uint256 stageCount_, uint256 submissionWindow_) {
        if (owner == address(0)) revert ZeroAddress();
        if (stageCount_ == 0) revert InvalidStageCount(stageCount_);
        stageCount = stageCount_;
        submissionWindow = submissionWindow_;
        maxReward = DEFAULT_MAX_REWARD;
        lastRoundAdvanceAt = block.timestamp;
        _grant(OWNER_ROLE, owner);
        _grant(STAGE_MANAGER_ROLE, owner);
        _grant(BOOTNODE_MANAGER_ROLE, owner);
    }

    // ---------------------------------------------------------------- role management

    function grantRole(bytes32 role, address account) external onlyOwner {
        _checkRole(role);
        if (account == address(0)) revert ZeroAddress();
        _grant(role, account);
    }

    function revokeRole(bytes32 role, address account) external onlyOwner {
        _checkRole(role);
        _revoke(role, account);
    }

    /// @notice Give up one of the sender's own roles (not the last holder's).
    function renounceRole(bytes32 role) external {
        _checkRole(role);
        _revoke(role, msg.sender);
    }

    /// @notice How many accounts hold `role`.
    function getRoleMemberCount(bytes32 role) external view returns (uint256) {
        return _roleCount[role];
    }

    function _revoke(bytes32 role, address account) private {
        if (!_roles[role][account]) return;
        if (_roleCount[role] == 1) revert LastRoleHolder(role, account);
        _roleCount[role] -= 1;
        _roles[role][account] = false;
        emit RoleRevoked(role, account, msg.sender);
    }

    function hasRole(bytes32 role, address account) external view returns (bool) {
        return _roles[role][account];
    }

    function _checkRole(bytes32 role) private pure {
        if (role != OWNER_ROLE && role != STAGE_MANAGER_ROLE && role != BOOTNODE_MANAGER_ROLE) {
            revert UnknownRole(role);
        }
    }

    function _grant(bytes32 role, address account) private {
        if (_roles[role][account]) return;
        _roles[role][account] = true;
        _roleCount[role] += 1;
        emit RoleGranted(role, account, msg.sender);
    }

    // ---------------------------------------------------------------- rounds and stages

    function currentRound() external view returns (uint256) {
        return _currentRound;
    }

    function currentStage() external view returns (uint256) {
        return _currentStage;
    }

    /// @notice Advance one stage; after the last stage the next round begins at stage 0, but
    /// not before `minRoundInterval` seconds have passed since the previous round began.
    function updateStageAndRound() external onlyStageManager returns (uint256, uint256) {
        uint256 next = _currentStage + 1;
        if (next < stageCount) {
            _currentStage = next;
        } else {
            uint256 allowedAt = lastRoundAdvanceAt + minRoundInterval;
            if (block.timestamp < allowedAt) revert AdvanceTooSoon(allowedAt, block.timestamp);
            lastRoundAdvanceAt = block.timestamp;
            _currentStage = 0;
            _currentRound += 1;
            emit RoundAdvanced(_currentRound);
        }
        emit StageAdvanced(_currentRound, _currentStage);
        return (_currentRound, _currentStage);
    }

    // ---------------------------------------------------------------- owner settings

    /// @notice Bound on |reward| of one submission (at most MAX_REWARD_LIMIT, so totals cannot overflow).
    function setMaxReward(uint256 maxReward_) external onlyOwner {
        if (maxReward_ > MAX_REWARD_LIMIT) revert InvalidMaxReward(maxReward_, MAX_REWARD_LIMIT);
        maxReward = maxReward_;
        emit MaxRewardChanged(maxReward_);
    }

    /// @notice Minimum seconds between two round advances (0: none).
    function setMinRoundInterval(uint256 seconds_) external onlyOwner {
        minRoundInterval = seconds_;
        emit MinRoundIntervalChanged(seconds_);
    }

    // ---------------------------------------------------------------- peers

    /// @notice The message a peer's Ed25519 key signs to register to `account` on this contract.
    function registrationMessage(address account) public view returns (bytes memory) {
        return abi.encodePacked(REGISTRATION_DOMAIN, block.chainid, address(this), account);
    }

    /// @notice Link a peer ID to the sender, with proof that the sender controls its key:
    /// `signature` (64 bytes, R || S) is the peer ID's Ed25519 key's signature of
    /// `registrationMessage(msg.sender)`. An address may hold up to MAX_PEERS_PER_ACCOUNT peer
    /// IDs; a peer ID, once registered, never moves to another address (registering it again
    /// reverts, also for its own owner, whose client treats that as success).
    function registerPeer(string calldata peerId, bytes calldata signature) external {
        bytes32 publicKey = _ed25519Key(peerId);
        address owner = _peerIdToEoa[peerId];
        if (owner != address(0)) revert PeerIdAlreadyRegistered(peerId, owner);
        if (_eoaToPeerIds[msg.sender].length >= MAX_PEERS_PER_ACCOUNT) {
            revert TooManyPeerIds(msg.sender, MAX_PEERS_PER_ACCOUNT);
        }
        if (!Ed25519.verify(publicKey, signature, registrationMessage(msg.sender))) {
            revert InvalidPeerProof(peerId, msg.sender);
        }
        _peerIdToEoa[peerId] = msg.sender;
        _eoaToPeerIds[msg.sender].push(peerId);
        _registeredRound[peerId] = _currentRound;
        _peers.push(peerId);
        emit PeerRegistered(msg.sender, keccak256(bytes(peerId)), _peers.length - 1, peerId);
    }

    /// @notice The round in which `peerId` registered (0 also for an unregistered ID: see getEoa).
    function getRegisteredRound(string calldata peerId) external view returns (uint256) {
        return _registeredRound[peerId];
    }

    /// @dev base58btc "1" + 51 digits of 0x2408011220 || key: the identity multihash (0x00, 36)
    /// of libp2p's PublicKey protobuf {Type: Ed25519, Data: 32 bytes}. Anything else reverts.
    function _ed25519Key(string calldata peerId) private pure returns (bytes32) {
        bytes calldata s = bytes(peerId);
        // Leading "1" is the multihash's zero byte; a second "1" would be another zero byte.
        if (s.length < 2 || s.length > 60 || s[0] != "1" || s[1] == "1") revert InvalidPeerId(peerId);
        uint256 mask = (1 << 128) - 1;
        uint256 hi; // value = hi * 2^256 + mid * 2^128 + lo, each limb kept below 2^128
        uint256 mid;
        uint256 lo;
        for (uint256 i = 1; i < s.length; i++) {
            uint256 digit = _base58Digit(uint8(s[i]));
            if (digit >= 58) revert InvalidPeerId(peerId);
            lo = lo * 58 + digit;
            mid = mid * 58 + (lo >> 128);
            lo &= mask;
            hi = hi * 58 + (mid >> 128);
            mid &= mask;
            if (hi >> 64 != 0) revert InvalidPeerId(peerId);
        }
        if (hi != 0x2408011220) revert InvalidPeerId(peerId);
        return bytes32((mid << 128) | lo);
    }

    bytes private constant BASE58_DIGITS =
        hex"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff000102030405060708ffffffffffffff090a0b0c0d0e0f10ff1112131415ff161718191a1b1c1d1e1f20ffffffffffff2122232425262728292a2bff2c2d2e2f30313233343536373839ffffffffff";

    function _base58Digit(uint8 c) private pure returns (uint256) {
        return c < 128 ? uint8(BASE58_DIGITS[c]) : 0xff;
    }

    function getPeerId(address[] calldata eoas) external view returns (string[][] memory peerIds) {
        peerIds = new string[][](eoas.length);
        for (uint256 i = 0; i < eoas.length; i++) {
            peerIds[i] = _eoaToPeerIds[eoas[i]];
        }
    }

    function getEoa(string[] calldata peerIds) external view returns (address[] memory eoas) {
        eoas = new address[](peerIds.length);
        for (uint256 i = 0; i < peerIds.length; i++) {
            eoas[i] = _peerIdToEoa[peerIds[i]];
        }
    }

    function peerCount() external view returns (uint256) {
        return _peers.length;
    }

    /// @notice Registered peers in registration order, `limit` from `offset` (clamped).
    function getPeers(uint256 offset, uint256 limit)
        external
        view
        returns (string[] memory peerIds, address[] memory eoas)
    {
        uint256 total = _peers.length;
        uint256 n = offset >= total ? 0 : _min(limit, total - offset);
        peerIds = new string[](n);
        eoas = new address[](n);
        for (uint256 i = 0; i < n; i++) {
            peerIds[i] = _peers[offset + i];
            eoas[i] = _peerIdToEoa[peerIds[i]];
        }
    }

    function _checkOwner(string calldata peerId) private view {
        address owner = _peerIdToEoa[peerId];
        if (owner != msg.sender) revert InvalidVoterPeerId(peerId, owner, msg.sender);
    }

    // ---------------------------------------------------------------- bootnodes

    function addBootnodes(string[] calldata newBootnodes) external onlyBootnodeManager {
        uint256 count = _bootnodes.length + newBootnodes.length;
        if (count > MAX_BOOTNODES) revert TooManyBootnodes(count, MAX_BOOTNODES);
        for (uint256 i = 0; i < newBootnodes.length; i++) {
            uint256 len = bytes(newBootnodes[i]).length;
            if (len == 0 || len > MAX_BOOTNODE_BYTES) revert InvalidBootnode(i);
            _bootnodes.push(newBootnodes[i]);
        }
        emit BootnodesAdded(msg.sender, newBootnodes.length);
    }

    /// @notice Remove one bootnode; the last entry takes its place (order is not kept).
    function removeBootnode(uint256 index) external onlyBootnodeManager {
        uint256 count = _bootnodes.length;
        if (index >= count) revert InvalidBootnodeIndex(index, count);
        if (index != count - 1) _bootnodes[index] = _bootnodes[count - 1];
        _bootnodes.pop();
        emit BootnodeRemoved(msg.sender, index);
    }

    function clearBootnodes() external onlyBootnodeManager {
        delete _bootnodes;
        emit AllBootnodesCleared(msg.sender);
    }

    function getBootnodes() external view returns (string[] memory) {
        return _bootnodes;
    }

    function getBootnodesCount() external view returns (uint256) {
        return _bootnodes.length;
    }

    // ---------------------------------------------------------------- submissions

    /// @dev Reverts unless `roundNumber` is the current round or within the window behind it,
    /// and not before the peer's registration.
    function _checkRound(uint256 roundNumber, string calldata peerId) private view {
        if (roundNumber > _currentRound) revert InvalidRoundNumber(roundNumber, _currentRound);
        if (_currentRound - roundNumber > submissionWindow) {
            revert RoundTooOld(roundNumber, _currentRound, submissionWindow);
        }
        uint256 registered = _registeredRound[peerId];
        if (roundNumber < registered) revert BeforeRegistration(roundNumber, peerId, registered);
    }

    /// @notice Vote for a round's winners, once per (round, voter peer ID). Every winner must be
    /// a registered peer, named once. Each named winner's total wins grows by one.
    function submitWinners(uint256 roundNumber, string[] calldata winners, string calldata peerId) external {
        _checkOwner(peerId);
        _checkRound(roundNumber, peerId);
        if (_hasVoted[roundNumber][peerId]) revert WinnerAlreadyVoted(roundNumber, peerId);
        uint256 n = winners.length;
        if (n > MAX_WINNERS) revert TooManyWinners(n, MAX_WINNERS);
        bytes32[] memory seen = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            if (_peerIdToEoa[winners[i]] == address(0)) revert UnregisteredWinner(i, winners[i]);
            bytes32 h = keccak256(bytes(winners[i]));
            for (uint256 j = 0; j < i; j++) {
                if (seen[j] == h) revert InvalidVote(i, winners[i]);
            }
            seen[i] = h;
        }

        _hasVoted[roundNumber][peerId] = true;
        if (_voterVoteCount[peerId] == 0) _uniqueVoters += 1;
        _voterVoteCount[peerId] += 1;
        string[] storage votes = _votes[roundNumber][peerId];
        for (uint256 i = 0; i < n; i++) {
            votes.push(winners[i]);
            if (_totalWins[winners[i]] == 0) _uniqueVotedPeers += 1;
            _totalWins[winners[i]] += 1;
        }
        emit WinnerSubmitted(msg.sender, roundNumber, keccak256(bytes(peerId)), peerId, winners);
    }

    /// @notice Report a peer's reward for one (round, stage), once. In the current round the
    /// stage must have begun; in a past round it must be below `stageCount`.
    function submitReward(uint256 roundNumber, uint256 stageNumber, int256 reward, string calldata peerId) external {
        _checkOwner(peerId);
        _checkRound(roundNumber, peerId);
        uint256 magnitude = reward < 0 ? uint256(-(reward + 1)) + 1 : uint256(reward);
        if (magnitude > maxReward) revert RewardOutOfBounds(reward, maxReward);
        if (
            stageNumber >= stageCount || (roundNumber == _currentRound && stageNumber > _currentStage)
        ) {
            revert InvalidStageNumber(roundNumber, stageNumber, _currentRound, _currentStage);
        }
        if (_hasSubmittedReward[roundNumber][stageNumber][peerId]) {
            revert RewardAlreadySubmitted(roundNumber, stageNumber, peerId);
        }
        _hasSubmittedReward[roundNumber][stageNumber][peerId] = true;
        _peerReward[roundNumber][stageNumber][peerId] = reward;
        _accountReward[roundNumber][stageNumber][msg.sender] += reward;
        int256 total = _totalRewards[peerId] + reward;
        _totalRewards[peerId] = total;
        emit RewardSubmitted(msg.sender, roundNumber, stageNumber, reward, peerId);
        emit CumulativeRewardsUpdated(msg.sender, keccak256(bytes(peerId)), peerId, total);
    }

    // ---------------------------------------------------------------- getters and totals

    function hasSubmittedWinners(uint256 roundNumber, string calldata peerId) external view returns (bool) {
        return _hasVoted[roundNumber][peerId];
    }

    function getVoterVotes(uint256 roundNumber, string calldata peerId) external view returns (string[] memory) {
        return _votes[roundNumber][peerId];
    }

    /// @notice In how many rounds this voter has voted.
    function getVoterVoteCount(string calldata peerId) external view returns (uint256) {
        return _voterVoteCount[peerId];
    }

    /// @notice How many votes named this peer as a winner.
    function getTotalWins(string calldata peerId) external view returns (uint256) {
        return _totalWins[peerId];
    }

    function getTotalWinsBatch(string[] calldata peerIds) external view returns (uint256[] memory wins) {
        wins = new uint256[](peerIds.length);
        for (uint256 i = 0; i < peerIds.length; i++) {
            wins[i] = _totalWins[peerIds[i]];
        }
    }

    /// @notice Distinct voter peer IDs that have voted at least once.
    function uniqueVoters() external view returns (uint256) {
        return _uniqueVoters;
    }

    /// @notice Distinct peer IDs that have been voted for at least once.
    function uniqueVotedPeers() external view returns (uint256) {
        return _uniqueVotedPeers;
    }

    function hasSubmittedRoundStageReward(uint256 roundNumber, uint256 stageNumber, string calldata peerId)
        external
        view
        returns (bool)
    {
        return _hasSubmittedReward[roundNumber][stageNumber][peerId];
    }

    /// @notice Sum of the rewards each account submitted for (round, stage), over its peer IDs.
    function getRoundStageReward(uint256 roundNumber, uint256 stageNumber, address[] calldata accounts)
        external
        view
        returns (int256[] memory rewards)
    {
        rewards = new int256[](accounts.length);
        for (uint256 i = 0; i < accounts.length; i++) {
            rewards[i] = _accountReward[roundNumber][stageNumber][accounts[i]];
        }
    }

    /// @notice The reward each peer ID submitted for (round, stage); 0 where none was.
    function getPeerRoundStageReward(uint256 roundNumber, uint256 stageNumber, string[] calldata peerIds)
        external
        view
        returns (int256[] memory rewards)
    {
        rewards = new int256[](peerIds.length);
        for (uint256 i = 0; i < peerIds.length; i++) {
            rewards[i] = _peerReward[roundNumber][stageNumber][peerIds[i]];
        }
    }

    function getTotalRewards(string[] calldata peerIds) external view returns (int256[] memory rewards) {
        rewards = new int256[](peerIds.length);
        for (uint256 i = 0; i < peerIds.length; i++) {
            rewards[i] = _totalRewards[peerIds[i]];
        }
    }

    /// @notice For `count` rounds from `fromRound`: whether `peerId` submitted a reward for
    /// `stageNumber`, and which. One call checks a range of a client's own records.
    function getRewardRecords(string calldata peerId, uint256 stageNumber, uint256 fromRound, uint256 count)
        external
        view
        returns (bool[] memory submitted, int256[] memory rewards)
    {
        if (count > MAX_RECORDS_PER_CALL) revert TooManyRecords(count, MAX_RECORDS_PER_CALL);
        submitted = new bool[](count);
        rewards = new int256[](count);
        for (uint256 i = 0; i < count; i++) {
            submitted[i] = _hasSubmittedReward[fromRound + i][stageNumber][peerId];
            rewards[i] = _peerReward[fromRound + i][stageNumber][peerId];
        }
    }

    /// @notice For `count` rounds from `fromRound`: whether `peerId` voted, and the keccak256 of
    /// its winners list (abi.encode(string[])) so a client compares it without reading each list.
    function getVoteRecords(string calldata peerId, uint256 fromRound, uint256 count)
        external
        view
        returns (bool[] memory voted, bytes32[] memory winnersHashes)
    {
        if (count > MAX_RECORDS_PER_CALL) revert TooManyRecords(count, MAX_RECORDS_PER_CALL);
        voted = new bool[](count);
        winnersHashes = new bytes32[](count);
        for (uint256 i = 0; i < count; i++) {
            voted[i] = _hasVoted[fromRound + i][peerId];
            if (voted[i]) winnersHashes[i] = keccak256(abi.encode(_votes[fromRound + i][peerId]));
        }
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
