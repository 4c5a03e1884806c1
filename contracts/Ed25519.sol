// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Ed25519
/// @notice Ed25519 signature verification (RFC 8032, PureEdDSA) with SHA-512 (FIPS 180-4), for
/// checking that a registering account controls a libp2p Ed25519 identity key.
/// @dev Cofactorless check `[S]B == R + [h]A`, done as `encode([S]B + [h](-A)) == R`, so R is
/// never decompressed; `S` must be below the group order (no malleable signatures). Points are
/// kept in extended twisted Edwards coordinates (X:Y:Z:T), with x = X/Z, y = Y/Z, T = XY/Z, and
/// updated in place in memory. The double-scalar product uses Shamir's trick over one table
/// {B, -A, B - A}. Field inverse and square root use exponentiation by the EVM's mulmod.
library Ed25519 {
    uint256 private constant P = 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed; // 2^255 - 19
    uint256 private constant L = 0x1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed;
    uint256 private constant D = 0x52036cee2b6ffe738cc740797779e89800700a4d4141d8ab75eb4dca135978a3;
    uint256 private constant D2 = 0x2406d9dc56dffce7198e80f2eef3d13000e0149a8283b156ebd69b9426b2f159;
    uint256 private constant SQRT_M1 = 0x2b8324804fc1df0b2b4d00993dfbd7a72f431806ad2fe478c4ee1b274a0ea0b0;
    uint256 private constant BX = 0x216936d3cd6e53fec0a4e231fdd6dc5c692cc7609525a7b2c9562d608f25d51a;
    uint256 private constant BY = 0x6666666666666666666666666666666666666666666666666666666666666658;
    uint256 private constant TWO_256_MOD_L = 0x0ffffffffffffffffffffffffffffffec6ef5bf4737dcf70d6ec31748d98951d;

    /// @notice Whether `signature` (R || S, 64 bytes) is `publicKey`'s Ed25519 signature of `message`.
    /// Keys and signatures are in RFC 8032's byte encoding (little-endian, as libp2p carries them).
    function verify(bytes32 publicKey, bytes calldata signature, bytes memory message) internal pure returns (bool) {
        if (signature.length != 64) return false;
        bytes32 r = bytes32(signature[0:32]);
        uint256 s = _le(uint256(bytes32(signature[32:64])));
        if (s >= L) return false;
        (bool ok, uint256 ax, uint256 ay) = _decompress(_le(uint256(publicKey)));
        if (!ok) return false;
        (bytes32 h0, bytes32 h1) = sha512(abi.encodePacked(r, publicKey, message));
        uint256 h = addmod(_le(uint256(h0)), mulmod(_le(uint256(h1)), TWO_256_MOD_L, L), L);

        uint256[4] memory q = _doubleMul(s, h, P - ax, ay);
        uint256 zinv = _pow(q[2], P - 2);
        uint256 x = mulmod(q[0], zinv, P);
        uint256 y = mulmod(q[1], zinv, P);
        return _le(y | ((x & 1) << 255)) == uint256(r);
    }

    /// @dev [s]B + [h](nx, ny), the second point given in affine coordinates.
    function _doubleMul(uint256 s, uint256 h, uint256 nx, uint256 ny) private pure returns (uint256[4] memory q) {
        uint256[4] memory b = [BX, BY, 1, mulmod(BX, BY, P)];
        uint256[4] memory a = [nx, ny, 1, mulmod(nx, ny, P)];
        uint256[4] memory ba = [BX, BY, 1, b[3]];
        _add(ba, a);
        q = [uint256(0), 1, 1, 0];
        for (uint256 i = 253; i > 0;) {
            unchecked {
                i--;
            }
            _double(q);
            uint256 sel = ((s >> i) & 1) | (((h >> i) & 1) << 1);
            if (sel == 1) _add(q, b);
            else if (sel == 2) _add(q, a);
            else if (sel == 3) _add(q, ba);
        }
    }

    /// @dev p1 += p2 (add-2008-hwcd-3 for a = -1; complete on this curve).
    function _add(uint256[4] memory p1, uint256[4] memory p2) private pure {
        uint256 p = P;
        uint256 a = mulmod(addmod(p1[1], p - p1[0], p), addmod(p2[1], p - p2[0], p), p);
        uint256 b = mulmod(addmod(p1[1], p1[0], p), addmod(p2[1], p2[0], p), p);
        uint256 c = mulmod(mulmod(p1[3], D2, p), p2[3], p);
        uint256 d = mulmod(addmod(p1[2], p1[2], p), p2[2], p);
        uint256 e = addmod(b, p - a, p);
        uint256 f = addmod(d, p - c, p);
        uint256 g = addmod(d, c, p);
        uint256 hh = addmod(b, a, p);
        p1[0] = mulmod(e, f, p);
        p1[1] = mulmod(g, hh, p);
        p1[2] = mulmod(f, g, p);
        p1[3] = mulmod(e, hh, p);
    }

    /// @dev q = 2q (dbl-2008-hwcd for a = -1).
    function _double(uint256[4] memory q) private pure {
        uint256 p = P;
        uint256 a = mulmod(q[0], q[0], p);
        uint256 b = mulmod(q[1], q[1], p);
        uint256 c = mulmod(addmod(q[2], q[2], p), q[2], p);
        uint256 xy = addmod(q[0], q[1], p);
        uint256 e = addmod(mulmod(xy, xy, p), p - addmod(a, b, p), p);
        uint256 g = addmod(b, p - a, p); // D + B with D = -A
        uint256 f = addmod(g, p - c, p);
        uint256 hh = addmod(p - a, p - b, p); // D - B
        q[0] = mulmod(e, f, p);
        q[1] = mulmod(g, hh, p);
        q[2] = mulmod(f, g, p);
        q[3] = mulmod(e, hh, p);
    }

    /// @dev The point whose encoding (as a little-endian integer) is `enc` (RFC 8032 5.1.3).
    function _decompress(uint256 enc) private pure returns (bool ok, uint256 x, uint256 y) {
        y = enc & ((1 << 255) - 1);
        uint256 sign = enc >> 255;
        if (y >= P) return (false, 0, 0);
        uint256 yy = mulmod(y, y, P);
        uint256 u = addmod(yy, P - 1, P);
        uint256 v = addmod(mulmod(D, yy, P), 1, P);
        uint256 v3 = mulmod(mulmod(v, v, P), v, P);
        uint256 uv7 = mulmod(mulmod(u, v3, P), mulmod(v3, v, P), P);
        x = mulmod(mulmod(u, v3, P), _pow(uv7, (P - 5) / 8), P);
        uint256 vxx = mulmod(v, mulmod(x, x, P), P);
        if (vxx != u) {
            if (vxx != P - u) return (false, 0, 0);
            x = mulmod(x, SQRT_M1, P);
        }
        if (x == 0 && sign == 1) return (false, 0, 0);
        if (x & 1 != sign) x = P - x;
        return (true, x, y);
    }

    function _pow(uint256 base, uint256 e) private pure returns (uint256 r) {
        r = 1;
        uint256 p = P;
        while (e > 0) {
            if (e & 1 == 1) r = mulmod(r, base, p);
            base = mulmod(base, base, p);
            e >>= 1;
        }
    }

    /// @dev Byte-reverse a word: big-endian bytes32 <-> little-endian integer.
    function _le(uint256 v) private pure returns (uint256) {
        v = ((v & 0xff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00) >> 8)
            | ((v << 8) & 0xff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00);
        v = ((v & 0xffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000) >> 16)
            | ((v << 16) & 0xffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000);
        v = ((v & 0xffffffff00000000ffffffff00000000ffffffff00000000ffffffff00000000) >> 32)
            | ((v << 32) & 0xffffffff00000000ffffffff00000000ffffffff00000000ffffffff00000000);
        v = ((v & 0xffffffffffffffff0000000000000000ffffffffffffffff0000000000000000) >> 64)
            | ((v << 64) & 0xffffffffffffffff0000000000000000ffffffffffffffff0000000000000000);
        return (v >> 128) | (v << 128);
    }

    // ---------------------------------------------------------------- SHA-512

    bytes private constant K =
        hex"428a2f98d728ae227137449123ef65cdb5c0fbcfec4d3b2fe9b5dba58189dbbc3956c25bf348b53859f111f1b605d019923f82a4af194f9bab1c5ed5da6d8118d807aa98a303024212835b0145706fbe243185be4ee4b28c550c7dc3d5ffb4e272be5d74f27b896f80deb1fe3b1696b19bdc06a725c71235c19bf174cf692694e49b69c19ef14ad2efbe4786384f25e30fc19dc68b8cd5b5240ca1cc77ac9c652de92c6f592b02754a7484aa6ea6e4835cb0a9dcbd41fbd476f988da831153b5983e5152ee66dfaba831c66d2db43210b00327c898fb213fbf597fc7beef0ee4c6e00bf33da88fc2d5a79147930aa72506ca6351e003826f142929670a0e6e7027b70a8546d22ffc2e1b21385c26c9264d2c6dfc5ac42aed53380d139d95b3df650a73548baf63de766a0abb3c77b2a881c2c92e47edaee692722c851482353ba2bfe8a14cf10364a81a664bbc423001c24b8b70d0f89791c76c51a30654be30d192e819d6ef5218d69906245565a910f40e35855771202a106aa07032bbd1b819a4c116b8d2d0c81e376c085141ab532748774cdf8eeb9934b0bcb5e19b48a8391c0cb3c5c95a634ed8aa4ae3418acb5b9cca4f7763e373682e6ff3d6b2b8a3748f82ee5defb2fc78a5636f43172f6084c87814a1f0ab728cc702081a6439ec90befffa23631e28a4506cebde82bde9bef9a3f7b2c67915c67178f2e372532bca273eceea26619cd186b8c721c0c207eada7dd6cde0eb1ef57d4f7fee6ed17806f067aa72176fba0a637dc5a2c898a6113f9804bef90dae1b710b35131c471b28db77f523047d8432caab7b40c724933c9ebe0a15c9bebc431d67c49c100d4c4cc5d4becb3e42b6597f299cfc657e2a5fcb6fab3ad6faec6c44198c4a475817";

    /// @notice SHA-512 of `data`, as its two 32-byte halves.
    function sha512(bytes memory data) internal pure returns (bytes32, bytes32) {
        uint256 len = data.length;
        uint256 blocks = (len + 17 + 127) / 128;
        bytes memory m = new bytes(blocks * 128);
        for (uint256 i = 0; i < len; i++) {
            m[i] = data[i];
        }
        m[len] = 0x80;
        uint256 bits = len * 8;
        for (uint256 i = 0; i < 8; i++) {
            m[blocks * 128 - 1 - i] = bytes1(uint8(bits >> (8 * i)));
        }
        uint64[8] memory hs = [
            0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
            0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179
        ];
        uint64[80] memory w;
        bytes memory k = K;
        for (uint256 blk = 0; blk < blocks; blk++) {
            _schedule(m, blk * 128, w);
            _compress(hs, w, k);
        }
        return (
            bytes32(uint256(hs[0]) << 192 | uint256(hs[1]) << 128 | uint256(hs[2]) << 64 | uint256(hs[3])),
            bytes32(uint256(hs[4]) << 192 | uint256(hs[5]) << 128 | uint256(hs[6]) << 64 | uint256(hs[7]))
        );
    }

    function _schedule(bytes memory m, uint256 offset, uint64[80] memory w) private pure {
        unchecked {
            for (uint256 t = 0; t < 16; t++) {
                uint256 word;
                assembly {
                    word := mload(add(add(m, 32), add(offset, mul(t, 8))))
                }
                w[t] = uint64(word >> 192);
            }
            for (uint256 t = 16; t < 80; t++) {
                uint64 x2 = w[t - 2];
                uint64 x15 = w[t - 15];
                uint64 s1 = _rotr(x2, 19) ^ _rotr(x2, 61) ^ (x2 >> 6);
                uint64 s0 = _rotr(x15, 1) ^ _rotr(x15, 8) ^ (x15 >> 7);
                w[t] = s1 + w[t - 7] + s0 + w[t - 16];
            }
        }
    }

    function _compress(uint64[8] memory hs, uint64[80] memory w, bytes memory k) private pure {
        unchecked {
            uint64[8] memory v = [hs[0], hs[1], hs[2], hs[3], hs[4], hs[5], hs[6], hs[7]];
            for (uint256 t = 0; t < 80; t++) {
                uint256 kt;
                assembly {
                    kt := shr(192, mload(add(add(k, 32), mul(t, 8))))
                }
                uint64 e = v[4];
                uint64 t1 = v[7] + (_rotr(e, 14) ^ _rotr(e, 18) ^ _rotr(e, 41)) + ((e & v[5]) ^ (~e & v[6]))
                    + uint64(kt) + w[t];
                uint64 a = v[0];
                uint64 t2 = (_rotr(a, 28) ^ _rotr(a, 34) ^ _rotr(a, 39)) + ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));
                v[7] = v[6];
                v[6] = v[5];
                v[5] = e;
                v[4] = v[3] + t1;
                v[3] = v[2];
                v[2] = v[1];
                v[1] = a;
                v[0] = t1 + t2;
            }
            for (uint256 i = 0; i < 8; i++) {
                hs[i] += v[i];
            }
        }
    }

    function _rotr(uint64 x, uint256 n) private pure returns (uint64) {
        unchecked {
            return (x >> n) | (x << uint64(64 - n));
        }
    }
}
