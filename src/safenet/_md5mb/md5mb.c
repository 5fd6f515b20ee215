/* safenet._md5mb: MD5 of many messages at once, one message per SIMD lane.
 *
 * MD5 is sequential within a message, so one message cannot use more than one 32-bit lane; but N messages
 * (the files of a folder) can be hashed side by side: 16 lanes with AVX-512, 8 with AVX2, chosen at run time
 * from what the CPU supports, with a one-lane scalar loop everywhere else. The digests are those of hashlib's
 * MD5 (the tests compare them on every length class and on RFC 1321's vectors).
 *
 * Work is a list of jobs, each a state and two segments of whole 64-byte blocks (a message's body and its
 * padded tail, or a lane's leftover block completed and the new chunk's whole blocks); a scheduler keeps every
 * lane busy, giving a lane the next job as soon as its own ends, so messages of different lengths share the
 * lanes. The GIL is released while hashing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MD5_MAX_W 16

/* -- the compression loops ------------------------------------------------------------------------------ */

typedef uint32_t v8u __attribute__((vector_size(32)));
typedef uint32_t v16u __attribute__((vector_size(64)));

static inline void load_scalar(uint32_t x[16], const uint8_t *const p[1])
{
    memcpy(x, p[0], 64);
}

#define MD5_LOAD load_scalar
#define MD5_BCAST(c) c
#define MD5_W 1
#define MD5_T uint32_t
#define MD5_NAME md5_blocks_scalar
#define MD5_TARGET
#include "md5_core.h"
#undef MD5_W
#undef MD5_T
#undef MD5_NAME
#undef MD5_TARGET

#if defined(__x86_64__) || defined(__i386__)
#define MD5_X86 1
#include <immintrin.h>

/* Word w of 8 lanes' blocks into x[w]: two 8x8 transposes of 32-bit words (unpack, unpack, swap halves). */
__attribute__((target("avx2"))) static inline void load_avx2(v8u x[16], const uint8_t *const p[8])
{
    for (int half = 0; half < 2; half++) {
        __m256i r[8], t[8], u[8];
        for (int l = 0; l < 8; l++)
            r[l] = _mm256_loadu_si256((const __m256i *)(p[l] + 32 * half));
        for (int i = 0; i < 4; i++) {
            t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
        }
        for (int i = 0; i < 2; i++) {
            u[4 * i] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
            u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
            u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
            u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
        }
        /* u[4i+k], 128-bit half q: word 4q+k of lanes 4i..4i+3 */
        for (int k = 0; k < 4; k++) {
            x[8 * half + k] = (v8u)_mm256_permute2x128_si256(u[k], u[4 + k], 0x20);
            x[8 * half + 4 + k] = (v8u)_mm256_permute2x128_si256(u[k], u[4 + k], 0x31);
        }
    }
}

/* Word w of 16 lanes' blocks into x[w]: a 16x16 transpose of 32-bit words. */
__attribute__((target("avx512f"))) static inline void load_avx512(v16u x[16], const uint8_t *const p[16])
{
    __m512i r[16], t[16], u[16];
    for (int l = 0; l < 16; l++)
        r[l] = _mm512_loadu_si512((const void *)p[l]);
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    /* u[4i+k], 128-bit quarter q: word 4q+k of lanes 4i..4i+3; gather the quarters of the four u[4i+k] */
    for (int k = 0; k < 4; k++) {
        __m512i v0 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0x44), v1 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0xEE);
        __m512i v2 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0x44);
        __m512i v3 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0xEE);
        x[k] = (v16u)_mm512_shuffle_i32x4(v0, v2, 0x88);
        x[4 + k] = (v16u)_mm512_shuffle_i32x4(v0, v2, 0xDD);
        x[8 + k] = (v16u)_mm512_shuffle_i32x4(v1, v3, 0x88);
        x[12 + k] = (v16u)_mm512_shuffle_i32x4(v1, v3, 0xDD);
    }
}

#undef MD5_LOAD
#undef MD5_BCAST
#define MD5_BCAST(c) {c, c, c, c, c, c, c, c}
#define MD5_LOAD load_avx2
#define MD5_W 8
#define MD5_T v8u
#define MD5_NAME md5_blocks_avx2
#define MD5_TARGET __attribute__((target("avx2")))
#include "md5_core.h"
#undef MD5_W
#undef MD5_T
#undef MD5_NAME
#undef MD5_TARGET

#undef MD5_LOAD
#undef MD5_BCAST
#define MD5_BCAST(c) {c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c}
#define MD5_LOAD load_avx512
#define MD5_W 16
#define MD5_T v16u
#define MD5_NAME md5_blocks_avx512
#define MD5_TARGET __attribute__((target("avx512f")))
#include "md5_core.h"
#undef MD5_W
#undef MD5_T
#undef MD5_NAME
#undef MD5_TARGET
#endif

typedef void (*blocks_fn)(uint32_t state[4][MD5_MAX_W], const uint8_t *ptr[MD5_MAX_W],
                          const size_t step[MD5_MAX_W], size_t blocks);

typedef struct {
    const char *name;
    int width;
    blocks_fn blocks;
} impl_t;

static const impl_t IMPLS[] = {
#ifdef MD5_X86
    {"avx512", 16, md5_blocks_avx512},
    {"avx2", 8, md5_blocks_avx2},
#endif
    {"scalar", 1, md5_blocks_scalar},
};
#define N_IMPLS ((int)(sizeof(IMPLS) / sizeof(IMPLS[0])))

static int impl_supported(const impl_t *impl)
{
#ifdef MD5_X86
    if (strcmp(impl->name, "avx512") == 0)
        return __builtin_cpu_supports("avx512f");
    if (strcmp(impl->name, "avx2") == 0)
        return __builtin_cpu_supports("avx2");
#endif
    return 1;
}

/* The fastest supported implementation, or the one named (NULL and a Python error if it cannot run here). */
static const impl_t *find_impl(const char *name)
{
    for (int i = 0; i < N_IMPLS; i++) {
        if (name == NULL ? impl_supported(&IMPLS[i]) : strcmp(name, IMPLS[i].name) == 0) {
            if (!impl_supported(&IMPLS[i])) {
                PyErr_Format(PyExc_ValueError, "this CPU cannot run the %s MD5 implementation", name);
                return NULL;
            }
            return &IMPLS[i];
        }
    }
    PyErr_Format(PyExc_ValueError, "unknown MD5 implementation '%s'", name);
    return NULL;
}

/* -- the lane scheduler --------------------------------------------------------------------------------- */

static const uint32_t IV[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
static const uint8_t ZERO_BLOCK[64];

typedef struct {
    const uint8_t *ptr;
    size_t blocks;
} seg_t;

typedef struct {
    uint32_t *state; /* 4 words: read when the job starts, written when it ends */
    seg_t seg[2];
} job_t;

typedef struct {
    job_t *job;
    int seg;
} slot_t;

/* Point a lane at the job's first segment from ``from`` on that has blocks; 0 when none has. */
static int start_seg(job_t *job, int from, slot_t *slot, const uint8_t **ptr, size_t *left)
{
    for (int i = from; i < 2; i++) {
        if (job->seg[i].blocks > 0) {
            slot->seg = i;
            *ptr = job->seg[i].ptr;
            *left = job->seg[i].blocks;
            return 1;
        }
    }
    return 0;
}

static void run_jobs(const impl_t *impl, job_t **jobs, size_t njobs)
{
    const int w = impl->width;
    uint32_t state[4][MD5_MAX_W];
    const uint8_t *ptr[MD5_MAX_W];
    size_t step[MD5_MAX_W], left[MD5_MAX_W];
    slot_t slot[MD5_MAX_W];
    size_t next = 0;
    int active = 0;

    for (int s = 0; s < MD5_MAX_W; s++) {
        slot[s].job = NULL;
        ptr[s] = ZERO_BLOCK; /* an idle lane hashes a block of zeros in place and its result is dropped */
        step[s] = 0;
        left[s] = SIZE_MAX;
        for (int k = 0; k < 4; k++)
            state[k][s] = 0;
    }
    for (;;) {
        for (int s = 0; s < w; s++) {
            while (slot[s].job == NULL && next < njobs) {
                job_t *job = jobs[next++];
                if (start_seg(job, 0, &slot[s], &ptr[s], &left[s])) {
                    slot[s].job = job;
                    step[s] = 64;
                    for (int k = 0; k < 4; k++)
                        state[k][s] = job->state[k];
                    active++;
                }
            }
        }
        if (active == 0)
            return;
        size_t n = SIZE_MAX;
        for (int s = 0; s < w; s++)
            if (slot[s].job != NULL && left[s] < n)
                n = left[s];
        impl->blocks(state, ptr, step, n);
        for (int s = 0; s < w; s++) {
            if (slot[s].job == NULL)
                continue;
            ptr[s] += 64 * n;
            left[s] -= n;
            if (left[s] > 0 || start_seg(slot[s].job, slot[s].seg + 1, &slot[s], &ptr[s], &left[s]))
                continue;
            for (int k = 0; k < 4; k++)
                slot[s].job->state[k] = state[k][s];
            slot[s].job = NULL;
            ptr[s] = ZERO_BLOCK;
            step[s] = 0;
            left[s] = SIZE_MAX;
            active--;
        }
    }
}

/* MD5's padding of a message's last (len % 64) bytes: 0x80, zeros, the length in bits; 1 or 2 blocks. */
static size_t pad_tail(uint8_t out[128], const uint8_t *tail, size_t tail_len, uint64_t total_len)
{
    size_t blocks = tail_len < 56 ? 1 : 2;
    memset(out, 0, 128);
    memcpy(out, tail, tail_len);
    out[tail_len] = 0x80;
    uint64_t bits = total_len * 8;
    for (int i = 0; i < 8; i++)
        out[blocks * 64 - 8 + i] = (uint8_t)(bits >> (8 * i));
    return blocks;
}

static PyObject *digest_bytes(const uint32_t st[4])
{
    uint8_t out[16];
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 4; i++)
            out[4 * k + i] = (uint8_t)(st[k] >> (8 * i));
    return PyBytes_FromStringAndSize((const char *)out, 16);
}

static void release_views(Py_buffer *views, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        if (views[i].obj != NULL)
            PyBuffer_Release(&views[i]);
}

/* -- md5_many ------------------------------------------------------------------------------------------- */

typedef struct {
    job_t job;
    uint32_t state[4];
    uint8_t pad[128];
} whole_t;

static int by_blocks_desc(const void *x, const void *y)
{
    const job_t *a = *(job_t *const *)x, *b = *(job_t *const *)y;
    size_t na = a->seg[0].blocks + a->seg[1].blocks, nb = b->seg[0].blocks + b->seg[1].blocks;
    return na < nb ? 1 : (na > nb ? -1 : 0);
}

static PyObject *md5_many(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"messages", "isa", NULL};
    PyObject *messages;
    const char *isa = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|z", kwlist, &messages, &isa))
        return NULL;
    const impl_t *impl = find_impl(isa);
    if (impl == NULL)
        return NULL;
    PyObject *seq = PySequence_Fast(messages, "messages must be a sequence of bytes-like objects");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    Py_buffer *views = PyMem_Calloc(n > 0 ? n : 1, sizeof(Py_buffer));
    whole_t *wholes = PyMem_Calloc(n > 0 ? n : 1, sizeof(whole_t));
    job_t **order = PyMem_Calloc(n > 0 ? n : 1, sizeof(job_t *));
    PyObject *result = NULL;
    Py_ssize_t got = 0;
    if (views == NULL || wholes == NULL || order == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; got < n; got++) {
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(seq, got), &views[got], PyBUF_SIMPLE) < 0)
            goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        whole_t *m = &wholes[i];
        const uint8_t *data = views[i].buf;
        size_t len = (size_t)views[i].len, body = len / 64;
        memcpy(m->state, IV, sizeof(IV));
        m->job.state = m->state;
        m->job.seg[0].ptr = data;
        m->job.seg[0].blocks = body;
        m->job.seg[1].ptr = m->pad;
        m->job.seg[1].blocks = pad_tail(m->pad, data + body * 64, len % 64, len);
        order[i] = &m->job;
    }
    /* Longest first: the lanes then run out of work at about the same time. */
    qsort(order, (size_t)n, sizeof(job_t *), by_blocks_desc);
    Py_BEGIN_ALLOW_THREADS
    run_jobs(impl, order, (size_t)n);
    Py_END_ALLOW_THREADS
    result = PyList_New(n);
    if (result == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *d = digest_bytes(wholes[i].state);
        if (d == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, d);
    }
done:
    if (views != NULL)
        release_views(views, got);
    PyMem_Free(views);
    PyMem_Free(wholes);
    PyMem_Free(order);
    Py_DECREF(seq);
    return result;
}

/* -- Md5Lanes: one streaming MD5 per lane --------------------------------------------------------------- */

typedef struct {
    uint32_t state[4];
    uint64_t length;
    uint8_t pending[64]; /* bytes of a block not yet whole */
    size_t npending;
} lane_t;

typedef struct {
    PyObject_HEAD
    const impl_t *impl;
    Py_ssize_t nlanes;
    lane_t *lanes;
    int busy; /* hashing without the GIL: a second thread must not change the lanes meanwhile */
} Md5Lanes;

static void lane_reset(lane_t *lane)
{
    memcpy(lane->state, IV, sizeof(IV));
    lane->length = 0;
    lane->npending = 0;
}

static int Md5Lanes_init(Md5Lanes *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"lanes", "isa", NULL};
    Py_ssize_t nlanes;
    const char *isa = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "n|z", kwlist, &nlanes, &isa))
        return -1;
    if (nlanes < 1) {
        PyErr_SetString(PyExc_ValueError, "lanes must be at least 1");
        return -1;
    }
    if ((self->impl = find_impl(isa)) == NULL)
        return -1;
    PyMem_Free(self->lanes);
    self->lanes = PyMem_Calloc((size_t)nlanes, sizeof(lane_t));
    if (self->lanes == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->nlanes = nlanes;
    for (Py_ssize_t i = 0; i < nlanes; i++)
        lane_reset(&self->lanes[i]);
    return 0;
}

static void Md5Lanes_dealloc(Md5Lanes *self)
{
    PyMem_Free(self->lanes);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int claim(Md5Lanes *self)
{
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Md5Lanes is in use by another thread");
        return -1;
    }
    self->busy = 1;
    return 0;
}

static PyObject *Md5Lanes_update_lanes(Md5Lanes *self, PyObject *chunks)
{
    PyObject *seq = PySequence_Fast(chunks, "update_lanes takes a sequence of bytes-like objects or None");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n != self->nlanes) {
        PyErr_Format(PyExc_ValueError, "update_lanes needs one entry per lane (%zd), got %zd", self->nlanes, n);
        Py_DECREF(seq);
        return NULL;
    }
    if (claim(self) < 0) {
        Py_DECREF(seq);
        return NULL;
    }
    Py_buffer *views = PyMem_Calloc((size_t)n, sizeof(Py_buffer));
    job_t *jobs = PyMem_Calloc((size_t)n, sizeof(job_t));
    job_t **order = PyMem_Calloc((size_t)n, sizeof(job_t *));
    PyObject *result = NULL;
    Py_ssize_t got = 0;
    if (views == NULL || jobs == NULL || order == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; got < n; got++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, got);
        if (item != Py_None && PyObject_GetBuffer(item, &views[got], PyBUF_SIMPLE) < 0)
            goto done;
    }
    size_t njobs = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        lane_t *lane = &self->lanes[i];
        const uint8_t *data = views[i].buf;
        size_t len = views[i].obj != NULL ? (size_t)views[i].len : 0;
        if (len == 0)
            continue;
        lane->length += len;
        job_t *job = &jobs[i];
        job->state = lane->state;
        if (lane->npending > 0) { /* complete the block left over from the last chunk first */
            size_t take = 64 - lane->npending < len ? 64 - lane->npending : len;
            memcpy(lane->pending + lane->npending, data, take);
            lane->npending += take;
            data += take;
            len -= take;
            if (lane->npending == 64) {
                job->seg[0].ptr = lane->pending;
                job->seg[0].blocks = 1;
            }
        }
        job->seg[1].ptr = data;
        job->seg[1].blocks = len / 64;
        order[njobs++] = job;
    }
    Py_BEGIN_ALLOW_THREADS
    run_jobs(self->impl, order, njobs);
    Py_END_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) { /* keep what is left of each chunk for the next */
        lane_t *lane = &self->lanes[i];
        if (jobs[i].state == NULL)
            continue;
        if (lane->npending == 64)
            lane->npending = 0;
        size_t rest = (size_t)views[i].len - (jobs[i].seg[1].ptr - (const uint8_t *)views[i].buf);
        size_t tail = rest - jobs[i].seg[1].blocks * 64;
        memcpy(lane->pending + lane->npending, jobs[i].seg[1].ptr + jobs[i].seg[1].blocks * 64, tail);
        lane->npending += tail;
    }
    result = Py_NewRef(Py_None);
done:
    if (views != NULL)
        release_views(views, got);
    PyMem_Free(views);
    PyMem_Free(jobs);
    PyMem_Free(order);
    self->busy = 0;
    Py_DECREF(seq);
    return result;
}

static int lane_index(Md5Lanes *self, PyObject *arg, Py_ssize_t *index)
{
    *index = PyNumber_AsSsize_t(arg, PyExc_IndexError);
    if (*index == -1 && PyErr_Occurred())
        return -1;
    if (*index < 0 || *index >= self->nlanes) {
        PyErr_Format(PyExc_IndexError, "lane %zd out of range (0..%zd)", *index, self->nlanes - 1);
        return -1;
    }
    return 0;
}

static PyObject *Md5Lanes_finish(Md5Lanes *self, PyObject *arg)
{
    Py_ssize_t i;
    if (lane_index(self, arg, &i) < 0 || claim(self) < 0)
        return NULL;
    lane_t *lane = &self->lanes[i];
    uint8_t pad[128];
    uint32_t state[4][MD5_MAX_W];
    const uint8_t *ptr[MD5_MAX_W] = {pad};
    size_t step[MD5_MAX_W] = {64};
    size_t blocks = pad_tail(pad, lane->pending, lane->npending, lane->length);
    for (int k = 0; k < 4; k++)
        state[k][0] = lane->state[k];
    md5_blocks_scalar(state, ptr, step, blocks);
    for (int k = 0; k < 4; k++)
        lane->state[k] = state[k][0];
    PyObject *digest = digest_bytes(lane->state);
    lane_reset(lane);
    self->busy = 0;
    return digest;
}

static PyObject *Md5Lanes_reset(Md5Lanes *self, PyObject *arg)
{
    Py_ssize_t i;
    if (lane_index(self, arg, &i) < 0 || claim(self) < 0)
        return NULL;
    lane_reset(&self->lanes[i]);
    self->busy = 0;
    Py_RETURN_NONE;
}

static PyObject *Md5Lanes_get_lanes(Md5Lanes *self, void *closure)
{
    return PyLong_FromSsize_t(self->nlanes);
}

static PyObject *Md5Lanes_get_isa(Md5Lanes *self, void *closure)
{
    return PyUnicode_FromString(self->impl->name);
}

static PyMethodDef Md5Lanes_methods[] = {
    {"update_lanes", (PyCFunction)Md5Lanes_update_lanes, METH_O,
     "update_lanes(chunks): feed chunks[i] (bytes-like, or None for nothing) to lane i's message."},
    {"finish", (PyCFunction)Md5Lanes_finish, METH_O,
     "finish(lane) -> bytes: the MD5 of lane's message; the lane then starts a new, empty message."},
    {"reset", (PyCFunction)Md5Lanes_reset, METH_O, "reset(lane): drop lane's message and start an empty one."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Md5Lanes_getset[] = {
    {"lanes", (getter)Md5Lanes_get_lanes, NULL, "number of messages hashed side by side", NULL},
    {"isa", (getter)Md5Lanes_get_isa, NULL, "the implementation in use: avx512, avx2 or scalar", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Md5LanesType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "safenet._md5mb.Md5Lanes",
    .tp_basicsize = sizeof(Md5Lanes),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Md5Lanes(lanes, isa=None): one streaming MD5 per lane, hashed side by side in SIMD lanes.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Md5Lanes_init,
    .tp_dealloc = (destructor)Md5Lanes_dealloc,
    .tp_methods = Md5Lanes_methods,
    .tp_getset = Md5Lanes_getset,
};

/* -- module --------------------------------------------------------------------------------------------- */

static PyObject *available(PyObject *self, PyObject *unused)
{
    PyObject *names = PyList_New(0);
    if (names == NULL)
        return NULL;
    for (int i = 0; i < N_IMPLS; i++) {
        if (!impl_supported(&IMPLS[i]))
            continue;
        PyObject *name = PyUnicode_FromString(IMPLS[i].name);
        if (name == NULL || PyList_Append(names, name) < 0) {
            Py_XDECREF(name);
            Py_DECREF(names);
            return NULL;
        }
        Py_DECREF(name);
    }
    PyObject *result = PyList_AsTuple(names);
    Py_DECREF(names);
    return result;
}

static PyMethodDef module_methods[] = {
    {"md5_many", (PyCFunction)(void (*)(void))md5_many, METH_VARARGS | METH_KEYWORDS,
     "md5_many(messages, isa=None) -> list[bytes]: the MD5 digest of each message, hashed side by side."},
    {"available", available, METH_NOARGS,
     "available() -> tuple[str, ...]: the implementations this CPU runs, fastest first."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "safenet._md5mb", "Multi-buffer MD5: many messages hashed at once in SIMD lanes.", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__md5mb(void)
{
#ifdef MD5_X86
    __builtin_cpu_init(); /* idempotent; makes __builtin_cpu_supports safe whatever the load order */
#endif
    if (PyType_Ready(&Md5LanesType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Md5Lanes", (PyObject *)&Md5LanesType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
