/* gzip.c: inflate a whole .gz file straight into the caller's buffer.
 *
 * libdeflate (when built with it) inflates whole members about 2-3x faster
 * than zlib.  It needs to know that the output fits, so zlib's streaming
 * inflate takes over when the stream holds more bytes than wanted.  The
 * compressed file is memory-mapped, not copied.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#ifdef SAI_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include "sacroai/sai_io.h"

const char *sai_deflate_backend(void)
{
#ifdef SAI_HAVE_LIBDEFLATE
    return "libdeflate " LIBDEFLATE_VERSION_STRING " (zlib " ZLIB_VERSION " fallback)";
#else
    return "zlib " ZLIB_VERSION;
#endif
}

/* Streaming inflate of concatenated gzip members; stops after `want` bytes. */
static sai_status inflate_zlib(const char *path, const unsigned char *in, size_t in_size, void *out,
                               int64_t want, int64_t *got)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 32) != Z_OK) return sai_error_set(SAI_ENOMEM, "%s: inflateInit failed", path);
    size_t in_pos = 0;
    int64_t produced = 0;
    sai_status rc = SAI_OK;
    while (produced < want) {
        size_t in_left = in_size - in_pos;
        zs.next_in = (unsigned char *)in + in_pos;
        zs.avail_in = in_left > (1u << 30) ? (1u << 30) : (unsigned)in_left;
        int64_t out_left = want - produced;
        zs.next_out = (unsigned char *)out + produced;
        zs.avail_out = out_left > (1 << 30) ? (1u << 30) : (unsigned)out_left;
        unsigned before_in = zs.avail_in, before_out = zs.avail_out;
        int zr = inflate(&zs, Z_NO_FLUSH);
        in_pos += before_in - zs.avail_in;
        produced += before_out - zs.avail_out;
        if (zr == Z_STREAM_END) {
            /* another member may follow */
            if (in_pos + 2 <= in_size && in[in_pos] == 0x1f && in[in_pos + 1] == 0x8b) {
                inflateReset(&zs);
                continue;
            }
            break;
        }
        if (zr == Z_OK) continue;
        if (zr == Z_BUF_ERROR && in_pos >= in_size) break; /* input ran out: truncated */
        rc = sai_error_set(SAI_EFORMAT, "%s: corrupt gzip stream (%s)", path, zs.msg ? zs.msg : "zlib error");
        break;
    }
    inflateEnd(&zs);
    *got = produced;
    if (!rc && produced < want)
        rc = sai_error_set(SAI_EFORMAT, "%s: truncated gzip stream: it ends after %lld bytes, %lld "
                           "are needed", path, (long long)produced, (long long)want);
    return rc;
}

sai_status sai_gunzip_file(const char *path, void *out, int64_t want, int64_t *got)
{
    *got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sai_error_set(SAI_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        close(fd);
        return sai_error_set(SAI_EFORMAT, "%s: empty file", path);
    }
    size_t in_size = (size_t)st.st_size;
    unsigned char *in = mmap(NULL, in_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (in == MAP_FAILED) return sai_error_set(SAI_EIO, "%s: cannot map: %s", path, strerror(errno));
    madvise(in, in_size, MADV_SEQUENTIAL);
    sai_status rc = SAI_OK;
    int done = 0;
#ifdef SAI_HAVE_LIBDEFLATE
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    if (!d) {
        munmap(in, in_size);
        return sai_error_set(SAI_ENOMEM, "%s: cannot allocate a decompressor", path);
    }
    size_t in_pos = 0;
    int64_t produced = 0;
    for (;;) {
        size_t used_in = 0, used_out = 0;
        enum libdeflate_result r = libdeflate_gzip_decompress_ex(
            d, in + in_pos, in_size - in_pos, (char *)out + produced, (size_t)(want - produced),
            &used_in, &used_out);
        if (r == LIBDEFLATE_SUCCESS) {
            in_pos += used_in;
            produced += (int64_t)used_out;
            if (produced >= want || in_pos + 2 > in_size || in[in_pos] != 0x1f || in[in_pos + 1] != 0x8b) {
                done = 1;
                *got = produced;
                if (produced < want)
                    rc = sai_error_set(SAI_EFORMAT, "%s: truncated data: the gzip stream holds %lld "
                                       "bytes, %lld are needed", path, (long long)produced,
                                       (long long)want);
            }
            if (done) break;
            continue;
        }
        if (r == LIBDEFLATE_INSUFFICIENT_SPACE) break; /* more bytes than wanted: zlib stops early */
        done = 1;
        rc = sai_error_set(SAI_EFORMAT, "%s: corrupt or truncated gzip stream", path);
        break;
    }
    libdeflate_free_decompressor(d);
#endif
    if (!done) rc = inflate_zlib(path, in, in_size, out, want, got);
    munmap(in, in_size);
    return rc;
}
