/* One MD5 compression loop over W independent messages ("lanes"), included once per instruction set.
 *
 * The includer defines MD5_W (lanes), MD5_T (a GCC vector of MD5_W uint32_t, or uint32_t for one lane),
 * MD5_NAME (the function's name), MD5_TARGET (a target attribute, or nothing) and MD5_LOAD(x, p) (word w of
 * the block at p[l] into lane l of x[w]) and MD5_BCAST(c) (the constant c in every lane). Written with GCC's
 * vector extensions so the same text becomes AVX2, AVX-512 or scalar code; the compiler turns the shifts into
 * rotates (vprold) and the boolean functions into vpternlogd where the target has them. STEP's last argument
 * is the step's index into KV, MD5's constants.
 */

MD5_TARGET static void MD5_NAME(uint32_t state[4][MD5_MAX_W], const uint8_t *ptr[MD5_MAX_W],
                                const size_t step[MD5_MAX_W], size_t blocks)
{
    /* MD5's 64 additive constants, one vector each; read from memory through a pointer the compiler cannot
     * see through, so that each step adds a vector from memory (measured: 15 % faster with AVX-512 than
     * GCC's choice of rebuilding each broadcast from an immediate in a general register). */
    static const MD5_T KV[64] = {
        MD5_BCAST(0xd76aa478), MD5_BCAST(0xe8c7b756), MD5_BCAST(0x242070db), MD5_BCAST(0xc1bdceee),
        MD5_BCAST(0xf57c0faf), MD5_BCAST(0x4787c62a), MD5_BCAST(0xa8304613), MD5_BCAST(0xfd469501),
        MD5_BCAST(0x698098d8), MD5_BCAST(0x8b44f7af), MD5_BCAST(0xffff5bb1), MD5_BCAST(0x895cd7be),
        MD5_BCAST(0x6b901122), MD5_BCAST(0xfd987193), MD5_BCAST(0xa679438e), MD5_BCAST(0x49b40821),
        MD5_BCAST(0xf61e2562), MD5_BCAST(0xc040b340), MD5_BCAST(0x265e5a51), MD5_BCAST(0xe9b6c7aa),
        MD5_BCAST(0xd62f105d), MD5_BCAST(0x02441453), MD5_BCAST(0xd8a1e681), MD5_BCAST(0xe7d3fbc8),
        MD5_BCAST(0x21e1cde6), MD5_BCAST(0xc33707d6), MD5_BCAST(0xf4d50d87), MD5_BCAST(0x455a14ed),
        MD5_BCAST(0xa9e3e905), MD5_BCAST(0xfcefa3f8), MD5_BCAST(0x676f02d9), MD5_BCAST(0x8d2a4c8a),
        MD5_BCAST(0xfffa3942), MD5_BCAST(0x8771f681), MD5_BCAST(0x6d9d6122), MD5_BCAST(0xfde5380c),
        MD5_BCAST(0xa4beea44), MD5_BCAST(0x4bdecfa9), MD5_BCAST(0xf6bb4b60), MD5_BCAST(0xbebfbc70),
        MD5_BCAST(0x289b7ec6), MD5_BCAST(0xeaa127fa), MD5_BCAST(0xd4ef3085), MD5_BCAST(0x04881d05),
        MD5_BCAST(0xd9d4d039), MD5_BCAST(0xe6db99e5), MD5_BCAST(0x1fa27cf8), MD5_BCAST(0xc4ac5665),
        MD5_BCAST(0xf4292244), MD5_BCAST(0x432aff97), MD5_BCAST(0xab9423a7), MD5_BCAST(0xfc93a039),
        MD5_BCAST(0x655b59c3), MD5_BCAST(0x8f0ccc92), MD5_BCAST(0xffeff47d), MD5_BCAST(0x85845dd1),
        MD5_BCAST(0x6fa87e4f), MD5_BCAST(0xfe2ce6e0), MD5_BCAST(0xa3014314), MD5_BCAST(0x4e0811a1),
        MD5_BCAST(0xf7537e82), MD5_BCAST(0xbd3af235), MD5_BCAST(0x2ad7d2bb), MD5_BCAST(0xeb86d391),
    };
    const MD5_T *kv = KV;
    __asm__("" : "+r"(kv));
    MD5_T a, b, c, d;
    MD5_T x[16];
    const uint8_t *p[MD5_W];
    for (int l = 0; l < MD5_W; l++) {
        p[l] = ptr[l];
        ((uint32_t *)&a)[l] = state[0][l];
        ((uint32_t *)&b)[l] = state[1][l];
        ((uint32_t *)&c)[l] = state[2][l];
        ((uint32_t *)&d)[l] = state[3][l];
    }
    for (size_t blk = 0; blk < blocks; blk++) {
        /* Transpose: word w of every lane's block into vector x[w] (x86 is little-endian, as MD5 is). */
        MD5_LOAD(x, p);
        for (int l = 0; l < MD5_W; l++)
            p[l] += step[l];
        MD5_T aa = a, bb = b, cc = c, dd = d;
#define ROTL(v, s) (((v) << (s)) | ((v) >> (32 - (s))))
#define STEP(f, a, b, c, d, k, s, t) (a) = (b) + ROTL((a) + f((b), (c), (d)) + (x[k] + kv[t]), s)
#define F(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))
#define G(b, c, d) ((c) ^ ((d) & ((b) ^ (c))))
#define H(b, c, d) ((b) ^ (c) ^ (d))
#define I(b, c, d) ((c) ^ ((b) | ~(d)))
        STEP(F, a, b, c, d, 0, 7, 0); STEP(F, d, a, b, c, 1, 12, 1);
        STEP(F, c, d, a, b, 2, 17, 2); STEP(F, b, c, d, a, 3, 22, 3);
        STEP(F, a, b, c, d, 4, 7, 4); STEP(F, d, a, b, c, 5, 12, 5);
        STEP(F, c, d, a, b, 6, 17, 6); STEP(F, b, c, d, a, 7, 22, 7);
        STEP(F, a, b, c, d, 8, 7, 8); STEP(F, d, a, b, c, 9, 12, 9);
        STEP(F, c, d, a, b, 10, 17, 10); STEP(F, b, c, d, a, 11, 22, 11);
        STEP(F, a, b, c, d, 12, 7, 12); STEP(F, d, a, b, c, 13, 12, 13);
        STEP(F, c, d, a, b, 14, 17, 14); STEP(F, b, c, d, a, 15, 22, 15);
        STEP(G, a, b, c, d, 1, 5, 16); STEP(G, d, a, b, c, 6, 9, 17);
        STEP(G, c, d, a, b, 11, 14, 18); STEP(G, b, c, d, a, 0, 20, 19);
        STEP(G, a, b, c, d, 5, 5, 20); STEP(G, d, a, b, c, 10, 9, 21);
        STEP(G, c, d, a, b, 15, 14, 22); STEP(G, b, c, d, a, 4, 20, 23);
        STEP(G, a, b, c, d, 9, 5, 24); STEP(G, d, a, b, c, 14, 9, 25);
        STEP(G, c, d, a, b, 3, 14, 26); STEP(G, b, c, d, a, 8, 20, 27);
        STEP(G, a, b, c, d, 13, 5, 28); STEP(G, d, a, b, c, 2, 9, 29);
        STEP(G, c, d, a, b, 7, 14, 30); STEP(G, b, c, d, a, 12, 20, 31);
        STEP(H, a, b, c, d, 5, 4, 32); STEP(H, d, a, b, c, 8, 11, 33);
        STEP(H, c, d, a, b, 11, 16, 34); STEP(H, b, c, d, a, 14, 23, 35);
        STEP(H, a, b, c, d, 1, 4, 36); STEP(H, d, a, b, c, 4, 11, 37);
        STEP(H, c, d, a, b, 7, 16, 38); STEP(H, b, c, d, a, 10, 23, 39);
        STEP(H, a, b, c, d, 13, 4, 40); STEP(H, d, a, b, c, 0, 11, 41);
        STEP(H, c, d, a, b, 3, 16, 42); STEP(H, b, c, d, a, 6, 23, 43);
        STEP(H, a, b, c, d, 9, 4, 44); STEP(H, d, a, b, c, 12, 11, 45);
        STEP(H, c, d, a, b, 15, 16, 46); STEP(H, b, c, d, a, 2, 23, 47);
        STEP(I, a, b, c, d, 0, 6, 48); STEP(I, d, a, b, c, 7, 10, 49);
        STEP(I, c, d, a, b, 14, 15, 50); STEP(I, b, c, d, a, 5, 21, 51);
        STEP(I, a, b, c, d, 12, 6, 52); STEP(I, d, a, b, c, 3, 10, 53);
        STEP(I, c, d, a, b, 10, 15, 54); STEP(I, b, c, d, a, 1, 21, 55);
        STEP(I, a, b, c, d, 8, 6, 56); STEP(I, d, a, b, c, 15, 10, 57);
        STEP(I, c, d, a, b, 6, 15, 58); STEP(I, b, c, d, a, 13, 21, 59);
        STEP(I, a, b, c, d, 4, 6, 60); STEP(I, d, a, b, c, 11, 10, 61);
        STEP(I, c, d, a, b, 2, 15, 62); STEP(I, b, c, d, a, 9, 21, 63);
#undef ROTL
#undef STEP
#undef F
#undef G
#undef H
#undef I
        a += aa;
        b += bb;
        c += cc;
        d += dd;
    }
    for (int l = 0; l < MD5_W; l++) {
        state[0][l] = ((uint32_t *)&a)[l];
        state[1][l] = ((uint32_t *)&b)[l];
        state[2][l] = ((uint32_t *)&c)[l];
        state[3][l] = ((uint32_t *)&d)[l];
    }
}
