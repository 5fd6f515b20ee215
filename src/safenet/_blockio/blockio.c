/* safenet._blockio: scattered positional reads of one file, a fixed number in flight, without the interpreter lock.
 *
 * Sampling a device reads thousands of 4 KiB blocks at random offsets, a round at a time. Python threads calling
 * os.pread each take and give back the interpreter lock around every read, so sixteen of them spend more time
 * queueing for the lock than the device spends reading (0.7-0.8 of fio's psync IOPS at queue depth 16 on the
 * project's machine). Here a Reader keeps `threads` POSIX threads, as fio's psync jobs are, that take the next
 * few offsets of the oldest submitted round from one queue; the interpreter lock is never taken by them, and a
 * round submitted while another is being read is started by each thread as soon as the older one has no offsets
 * left, so the device sees `threads` reads in flight across rounds, with no pause between them.
 *
 *   reader = Reader(fd, block, threads)
 *   round = reader.submit(offsets, out, lengths)   # returns at once; the threads read
 *   round.wait()                                    # without the interpreter lock, until the round is read
 *   reader.close()                                  # reads what was submitted, then stops the threads
 *
 *   offsets  a buffer of native int64 (array('q')), the byte offsets to read;
 *   out      a writable buffer of len(offsets) * block bytes: block i lands at out[i * block];
 *   lengths  a writable buffer of native int32 (array('i')), one per offset: the bytes read (short at the end of
 *            the media), or -errno where the read failed (the caller raises it; the other blocks are still read).
 *   hi, lo   optional writable buffers of native uint64, one per offset: each whole block's XXH3-128 (high and low
 *            halves), hashed by the reader thread that read it; (0, 0) for a short or failed block. Only where the
 *            module was built with xxHash's header (module attribute XXH3 true; libxxhash-dev, which `make`
 *            installs); otherwise the caller hashes.
 * The Round holds its buffers until it is read, so they cannot be freed under the threads.
 *
 * Evidence is only read: the file descriptor is the caller's, opened read-only, and stays the caller's to close
 * (after close()).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<xxhash.h>)
#define XXH_INLINE_ALL /* header-only: nothing to link */
#include <xxhash.h>
#define HAVE_XXH3 1
#endif
#endif
#ifndef HAVE_XXH3
#define HAVE_XXH3 0
#endif

#define CHUNK 8 /* offsets a thread takes at a time: small, so no thread waits long for the last ones */
#define MAX_THREADS 256

typedef struct round_s {
    const int64_t *offsets;
    Py_ssize_t count;
    char *out;
    int32_t *lengths;
    uint64_t *hi, *lo;   /* NULL: not hashed here */
    Py_ssize_t next;     /* the first offset no thread has taken (under the reader's lock) */
    Py_ssize_t finished; /* offsets read (under the reader's lock) */
    struct round_s *following;
} round_t;

typedef struct {
    PyObject_HEAD
    int fd;
    Py_ssize_t block;
    int ready; /* the lock and conditions are initialised */
    int started;
    int closed;
    int stopping;
    pthread_t threads[MAX_THREADS];
    pthread_mutex_t lock;
    pthread_cond_t work; /* a round was queued, or the reader is closing */
    pthread_cond_t done; /* a round was read */
    round_t *first, *last; /* rounds with offsets not yet taken, oldest first */
} ReaderObject;

typedef struct {
    PyObject_HEAD
    ReaderObject *reader;
    round_t round;
    Py_buffer offsets, out, lengths, hi, lo;
    int held;   /* offsets, out and lengths are held (until the round is read and the object freed) */
    int hashed; /* hi and lo are held too */
} RoundObject;

static PyTypeObject ReaderType;
static PyTypeObject RoundType;

static void read_one(int fd, Py_ssize_t block, round_t *round, Py_ssize_t i)
{
    char *dst = round->out + i * block;
    Py_ssize_t done = 0;
    int failed = 0; /* the errno of a failed read, 0 when none failed */
    while (done < block) {
        ssize_t n = pread(fd, dst + done, (size_t)(block - done), (off_t)(round->offsets[i] + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            failed = errno;
            break;
        }
        if (n == 0)
            break; /* the end of the media: a short block */
        done += n;
    }
    round->lengths[i] = failed ? -failed : (int32_t)done;
#if HAVE_XXH3
    if (round->hi != NULL) {
        /* (0, 0) for a short or failed block, whatever the caller's arrays held: never another block's hash */
        XXH128_hash_t h = {0, 0};
        if (!failed && done == block)
            h = XXH3_128bits(dst, (size_t)block);
        round->hi[i] = h.high64;
        round->lo[i] = h.low64;
    }
#endif
}

static void *work(void *arg)
{
    ReaderObject *r = (ReaderObject *)arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (r->first == NULL && !r->stopping)
            pthread_cond_wait(&r->work, &r->lock);
        if (r->first == NULL)
            break; /* stopping, and every submitted round taken */
        round_t *round = r->first;
        Py_ssize_t a = round->next;
        Py_ssize_t b = a + CHUNK < round->count ? a + CHUNK : round->count;
        round->next = b;
        if (b == round->count) {
            r->first = round->following;
            if (r->first == NULL)
                r->last = NULL;
        }
        pthread_mutex_unlock(&r->lock);
        for (Py_ssize_t i = a; i < b; i++)
            read_one(r->fd, r->block, round, i);
        pthread_mutex_lock(&r->lock);
        round->finished += b - a;
        if (round->finished == round->count)
            pthread_cond_broadcast(&r->done); /* the round may be freed by its waiter from here on */
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static void stop(ReaderObject *r)
{
    if (!r->ready || r->closed)
        return;
    r->closed = 1;
    pthread_mutex_lock(&r->lock);
    r->stopping = 1;
    pthread_cond_broadcast(&r->work);
    pthread_mutex_unlock(&r->lock);
    for (int t = 0; t < r->started; t++)
        pthread_join(r->threads[t], NULL);
    r->started = 0;
}

static int Reader_init(ReaderObject *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"fd", "block", "threads", NULL};
    int fd, threads;
    Py_ssize_t block;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "ini", names, &fd, &block, &threads))
        return -1;
    if (self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "a Reader is initialised once");
        return -1;
    }
    if (block <= 0 || block > (1 << 30)) {
        PyErr_SetString(PyExc_ValueError, "block must be a positive size up to 1 GiB");
        return -1;
    }
    if (threads < 1 || threads > MAX_THREADS) {
        PyErr_SetString(PyExc_ValueError, "threads must be between 1 and 256");
        return -1;
    }
    self->fd = fd;
    self->block = block;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->work, NULL);
    pthread_cond_init(&self->done, NULL);
    self->ready = 1;
    for (; self->started < threads; self->started++)
        if (pthread_create(&self->threads[self->started], NULL, work, self) != 0)
            break;
    if (self->started == 0) {
        stop(self);
        PyErr_SetString(PyExc_OSError, "no reader thread could be started");
        return -1;
    }
    return 0;
}

static void Reader_dealloc(ReaderObject *self)
{
    Py_BEGIN_ALLOW_THREADS
    stop(self);
    Py_END_ALLOW_THREADS
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Reader_close(ReaderObject *self, PyObject *unused)
{
    (void)unused;
    Py_BEGIN_ALLOW_THREADS
    stop(self);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *Reader_submit(ReaderObject *self, PyObject *args)
{
    PyObject *offsets, *out, *lengths, *hi = Py_None, *lo = Py_None;
    if (!PyArg_ParseTuple(args, "OOO|OO", &offsets, &out, &lengths, &hi, &lo))
        return NULL;
    if ((hi == Py_None) != (lo == Py_None) || (hi != Py_None && !HAVE_XXH3)) {
        PyErr_SetString(PyExc_ValueError, "hi and lo go together, and only where XXH3 was built in");
        return NULL;
    }
    if (self->closed || self->started == 0) {
        PyErr_SetString(PyExc_ValueError, "the reader is closed");
        return NULL;
    }
    RoundObject *round = PyObject_New(RoundObject, &RoundType);
    if (round == NULL)
        return NULL;
    round->held = 0;
    round->hashed = 0;
    Py_INCREF(self);
    round->reader = self;
    if (PyObject_GetBuffer(offsets, &round->offsets, PyBUF_SIMPLE) < 0)
        goto fail;
    if (PyObject_GetBuffer(out, &round->out, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&round->offsets);
        goto fail;
    }
    if (PyObject_GetBuffer(lengths, &round->lengths, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&round->offsets);
        PyBuffer_Release(&round->out);
        goto fail;
    }
    round->held = 1;
    if (hi != Py_None) {
        if (PyObject_GetBuffer(hi, &round->hi, PyBUF_WRITABLE) < 0)
            goto fail;
        if (PyObject_GetBuffer(lo, &round->lo, PyBUF_WRITABLE) < 0) {
            PyBuffer_Release(&round->hi);
            goto fail;
        }
        round->hashed = 1;
    }
    Py_ssize_t count = round->offsets.len / (Py_ssize_t)sizeof(int64_t);
    if (round->offsets.len % (Py_ssize_t)sizeof(int64_t) != 0) {
        PyErr_SetString(PyExc_ValueError, "offsets must be a buffer of int64 values");
        goto fail;
    }
    if (count > PY_SSIZE_T_MAX / self->block || round->out.len < count * self->block) {
        PyErr_SetString(PyExc_ValueError, "out holds fewer than len(offsets) * block bytes");
        goto fail;
    }
    if (round->lengths.len < count * (Py_ssize_t)sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "lengths holds fewer than len(offsets) int32 values");
        goto fail;
    }
    if (round->hashed && (round->hi.len < count * 8 || round->lo.len < count * 8)) {
        PyErr_SetString(PyExc_ValueError, "hi and lo hold fewer than len(offsets) uint64 values");
        goto fail;
    }
    round_t *r = &round->round;
    r->hi = round->hashed ? (uint64_t *)round->hi.buf : NULL;
    r->lo = round->hashed ? (uint64_t *)round->lo.buf : NULL;
    r->offsets = (const int64_t *)round->offsets.buf;
    r->count = count;
    r->out = (char *)round->out.buf;
    r->lengths = (int32_t *)round->lengths.buf;
    r->next = r->finished = 0;
    r->following = NULL;
    if (count > 0) {
        pthread_mutex_lock(&self->lock);
        int stopping = self->stopping; /* closed from another thread since the check above: no thread would read it */
        if (!stopping) {
            if (self->last != NULL)
                self->last->following = r;
            else
                self->first = r;
            self->last = r;
            pthread_cond_broadcast(&self->work);
        }
        pthread_mutex_unlock(&self->lock);
        if (stopping) {
            PyErr_SetString(PyExc_ValueError, "the reader is closed");
            goto fail;
        }
    }
    return (PyObject *)round;
fail:
    round->round.count = 0; /* never queued: nothing to wait for */
    round->round.finished = 0;
    Py_DECREF(round);
    return NULL;
}

static void wait_read(RoundObject *self)
{
    ReaderObject *r = self->reader;
    pthread_mutex_lock(&r->lock);
    while (self->round.finished < self->round.count)
        pthread_cond_wait(&r->done, &r->lock);
    pthread_mutex_unlock(&r->lock);
}

static PyObject *Round_wait(RoundObject *self, PyObject *unused)
{
    (void)unused;
    Py_BEGIN_ALLOW_THREADS
    wait_read(self);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static void Round_dealloc(RoundObject *self)
{
    if (self->held) {
        Py_BEGIN_ALLOW_THREADS
        wait_read(self); /* the threads may still be writing into the buffers */
        Py_END_ALLOW_THREADS
        PyBuffer_Release(&self->offsets);
        PyBuffer_Release(&self->out);
        PyBuffer_Release(&self->lengths);
    }
    if (self->hashed) {
        PyBuffer_Release(&self->hi);
        PyBuffer_Release(&self->lo);
    }
    Py_XDECREF(self->reader);
    PyObject_Free(self);
}

static PyMethodDef Reader_methods[] = {
    {"submit", (PyCFunction)Reader_submit, METH_VARARGS,
     "submit(offsets, out, lengths, hi=None, lo=None) -> Round: queue a round of reads (int64 offsets; block "
     "bytes each into out; each read's size or -errno into the int32 lengths; with hi and lo, each whole block's "
     "XXH3-128 halves into those uint64 buffers) and return at once."},
    {"close", (PyCFunction)Reader_close, METH_NOARGS,
     "close(): read what was submitted, then stop the threads (the file descriptor stays the caller's)."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef Round_methods[] = {
    {"wait", (PyCFunction)Round_wait, METH_NOARGS, "wait(): until every read of the round is done."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "safenet._blockio.Reader",
    .tp_basicsize = sizeof(ReaderObject),
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Reader(fd, block, threads): positional reads of block bytes, threads of them in flight.",
    .tp_methods = Reader_methods,
    .tp_init = (initproc)Reader_init,
    .tp_new = PyType_GenericNew,
};

static PyTypeObject RoundType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "safenet._blockio.Round",
    .tp_basicsize = sizeof(RoundObject),
    .tp_dealloc = (destructor)Round_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A submitted round of reads; wait() until it is read.",
    .tp_methods = Round_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_blockio", .m_doc = NULL, .m_size = -1, .m_methods = NULL,
};

PyMODINIT_FUNC PyInit__blockio(void)
{
    if (PyType_Ready(&ReaderType) < 0 || PyType_Ready(&RoundType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "XXH3", HAVE_XXH3) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&ReaderType);
    if (PyModule_AddObject(m, "Reader", (PyObject *)&ReaderType) < 0) {
        Py_DECREF(&ReaderType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
