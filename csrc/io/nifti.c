/* nifti.c: NIfTI-1 and NIfTI-2 header validation, reading and atomic writing.
 *
 * The only file that includes libnifti's header.  libnifti converts between
 * the on-disk header structs and its nifti_image (byte swapping, quaternion
 * to matrix, sform rows, unit and dim_info codes) in both directions.  The
 * byte I/O is done here so that (a) the exact file asked for is read (libnifti
 * would read X.nii when asked for X.nii.gz if both exist), (b) every defect
 * is reported as a message naming the file instead of printed to stderr, and
 * (c) voxel data can be memory-mapped or inflated with libdeflate.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <nifti2_io.h>

#include "sacroai/sai_io.h"

#define EXT_TOTAL_MAX ((int64_t)1 << 30) /* extensions beyond 1 GiB are treated as corrupt */

/* deflate can expand at most ~1032:1; a header claiming more voxels than that
 * from a .gz is corrupt, whatever it says. */
#define GZ_MAX_RATIO 1032

/* ------------------------------------------------------------------ paths */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

typedef enum { KIND_NII, KIND_HDR, KIND_IMG, KIND_UNKNOWN } path_kind;

/* Classify a path by suffix; *stem_len receives the length before the
 * extension (.nii/.hdr/.img with optional .gz). */
static path_kind classify(const char *path, size_t *stem_len, int *gz)
{
    size_t n = strlen(path);
    *gz = ends_with(path, ".gz");
    size_t base = *gz ? n - 3 : n;
    static const char *const exts[] = {".nii", ".hdr", ".img"};
    for (int i = 0; i < 3; i++) {
        size_t m = strlen(exts[i]);
        if (base >= m && strncmp(path + base - m, exts[i], m) == 0) {
            *stem_len = base - m;
            return (path_kind)i;
        }
    }
    *stem_len = base;
    return KIND_UNKNOWN;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Build stem + ext (+ ".gz" if gz) into out. */
static sai_status make_path(char *out, const char *path, size_t stem_len, const char *ext, int gz)
{
    int w = snprintf(out, SAI_PATH_MAX, "%.*s%s%s", (int)stem_len, path, ext, gz ? ".gz" : "");
    if (w < 0 || w >= SAI_PATH_MAX) return sai_error_set(SAI_EINVAL, "%s: path too long", path);
    return SAI_OK;
}

/* The partner of one file of a .hdr/.img pair: same compression first. */
static sai_status find_partner(const char *path, size_t stem_len, int gz, const char *ext,
                               char *out)
{
    if (make_path(out, path, stem_len, ext, gz)) return SAI_EINVAL;
    if (file_exists(out)) return SAI_OK;
    if (make_path(out, path, stem_len, ext, !gz)) return SAI_EINVAL;
    if (file_exists(out)) return SAI_OK;
    make_path(out, path, stem_len, ext, gz);
    return sai_error_set(SAI_ENOENT, "%s: the %s file of this .hdr/.img pair (%s) does not exist",
                         path, ext, out);
}

static int is_gzip_file(const char *p)
{
    unsigned char m[2] = {0, 0};
    FILE *f = fopen(p, "rb");
    if (!f) return 0;
    size_t r = fread(m, 1, 2, f);
    fclose(f);
    return r == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

/* ------------------------------------------------------------- reading */

static void once_quiet_libnifti(void)
{
    static int done = 0;
    if (!done) {
        nifti_set_debug_level(0); /* the core never prints */
        done = 1;
    }
}

/* Read exactly n bytes from a gz handle (which also reads plain files). */
static int gz_read_exact(gzFile g, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        int r = gzread(g, (char *)buf + got, (unsigned)(n - got));
        if (r <= 0) return 0;
        got += (size_t)r;
    }
    return 1;
}

static int64_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (int64_t)st.st_size : -1;
}

static int64_t physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    return (pages > 0 && psize > 0) ? (int64_t)pages * psize : INT64_MAX;
}

static void copy_text(char *dst, const char *src, size_t n)
{
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Copy what libnifti derived into info. */
static void info_from_nim(sai_nifti_info *info, const nifti_image *nim)
{
    info->qform_code = nim->qform_code;
    info->sform_code = nim->sform_code;
    info->quatern[0] = nim->quatern_b;
    info->quatern[1] = nim->quatern_c;
    info->quatern[2] = nim->quatern_d;
    info->qoffset[0] = nim->qoffset_x;
    info->qoffset[1] = nim->qoffset_y;
    info->qoffset[2] = nim->qoffset_z;
    info->qfac = nim->qfac;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) {
            info->qto_xyz[r][c] = nim->qto_xyz.m[r][c];
            info->sto_xyz[r][c] = nim->sto_xyz.m[r][c];
        }
    info->xyz_units = nim->xyz_units;
    info->time_units = nim->time_units;
    info->toffset = nim->toffset;
    info->freq_dim = nim->freq_dim;
    info->phase_dim = nim->phase_dim;
    info->slice_dim = nim->slice_dim;
    info->slice_code = nim->slice_code;
    info->slice_start = nim->slice_start;
    info->slice_end = nim->slice_end;
    info->slice_duration = nim->slice_duration;
    info->intent_code = nim->intent_code;
    info->intent_p[0] = nim->intent_p1;
    info->intent_p[1] = nim->intent_p2;
    info->intent_p[2] = nim->intent_p3;
    copy_text(info->intent_name, nim->intent_name, 16);
    copy_text(info->descrip, nim->descrip, 80);
    copy_text(info->aux_file, nim->aux_file, 24);
    info->cal_min = nim->cal_min;
    info->cal_max = nim->cal_max;
}

/* Validate the raw (already native-order) dimensions, datatype, pixdim and
 * scaling that both header versions share. */
static sai_status check_common(const char *path, sai_nifti_info *info, const int64_t *dim,
                               const double *pixdim, int datatype)
{
    if (dim[0] < 1 || dim[0] > 7)
        return sai_error_set(SAI_EFORMAT, "%s: dim[0] = %lld, expected 1 to 7 dimensions", path,
                             (long long)dim[0]);
    info->ndim = (int)dim[0];
    for (int i = 0; i < 8; i++) info->dim[i] = i <= dim[0] ? dim[i] : 1;
    info->dim[0] = dim[0];
    int nbyper = 0, swapsize = 0;
    nifti_datatype_sizes(datatype, &nbyper, &swapsize);
    if (nbyper <= 0 || datatype == DT_BINARY)
        return sai_error_set(SAI_EFORMAT, "%s: unsupported NIfTI datatype code %d (%s)", path,
                             datatype, nifti_datatype_to_string(datatype));
    info->datatype = datatype;
    info->nbyper = nbyper;
    info->swapsize = swapsize > 1 ? swapsize : 0;
    size_t nvox = 1;
    for (int i = 1; i <= dim[0]; i++) {
        if (dim[i] <= 0)
            return sai_error_set(SAI_EFORMAT, "%s: dim[%d] = %lld, expected a positive size", path,
                                 i, (long long)dim[i]);
        if (!sai_mul_size(nvox, (size_t)dim[i], &nvox) || nvox > ((size_t)1 << 56))
            return sai_error_set(SAI_EFORMAT, "%s: the dimensions overflow (absurd header)", path);
    }
    size_t nbytes;
    if (!sai_mul_size(nvox, (size_t)nbyper, &nbytes) || nbytes > ((size_t)1 << 60))
        return sai_error_set(SAI_EFORMAT, "%s: the dimensions overflow (absurd header)", path);
    info->nvox = (int64_t)nvox;
    info->nbytes = (int64_t)nbytes;
    for (int i = 0; i < 8; i++) info->pixdim[i] = pixdim[i];
    int nspatial = dim[0] < 3 ? (int)dim[0] : 3;
    for (int i = 1; i <= nspatial; i++)
        if (!isfinite(pixdim[i]) || pixdim[i] == 0.0)
            return sai_error_set(SAI_EFORMAT, "%s: pixdim[%d] = %g, expected a finite, non-zero "
                                 "voxel size", path, i, pixdim[i]);
    return SAI_OK;
}

static sai_status read_extensions(gzFile g, const char *path, sai_nifti_info *info,
                                  int64_t limit)
{
    /* limit: bytes available for extensions (vox_offset - header for a single
     * file; -1 for a .hdr, read until the end). */
    unsigned char extender[4];
    if (!gz_read_exact(g, extender, 4) || extender[0] == 0) return SAI_OK;
    int64_t used = 0;
    int cap = 0;
    for (;;) {
        int32_t head[2];
        if (limit >= 0 && used + 8 > limit) break;
        if (!gz_read_exact(g, head, 8)) break;
        if (info->swapped) nifti_swap_4bytes(2, head);
        int32_t esize = head[0];
        if (esize < 8 || (limit >= 0 && used + esize > limit) || used + esize > EXT_TOTAL_MAX) {
            info->ext_truncated = 1;
            break;
        }
        if (info->n_ext == cap) {
            int ncap = cap ? cap * 2 : 4;
            sai_nifti_ext *p = realloc(info->ext, (size_t)ncap * sizeof *p);
            if (!p) return sai_error_set(SAI_ENOMEM, "%s: out of memory reading extensions", path);
            info->ext = p;
            cap = ncap;
        }
        sai_nifti_ext *e = &info->ext[info->n_ext];
        e->code = head[1];
        e->size = esize - 8;
        e->data = malloc(e->size ? (size_t)e->size : 1);
        if (!e->data) return sai_error_set(SAI_ENOMEM, "%s: out of memory reading extensions", path);
        if (e->size && !gz_read_exact(g, e->data, (size_t)e->size)) {
            free(e->data);
            info->ext_truncated = 1;
            break;
        }
        info->n_ext++;
        used += esize;
    }
    return SAI_OK;
}

static sai_status parse_header(gzFile g, const char *hdr_path, sai_nifti_info *info,
                               nifti_image **nim_out)
{
    union {
        nifti_1_header h1;
        nifti_2_header h2;
        unsigned char bytes[540];
    } u;
    memset(&u, 0, sizeof u);
    if (!gz_read_exact(g, u.bytes, 4)) {
        int err;
        gzerror(g, &err);
        return sai_error_set(SAI_EFORMAT, "%s: %s", hdr_path,
                             err < 0 ? "corrupt or truncated gzip stream" :
                                       "file is too short to hold a NIfTI header");
    }
    int32_t sizeof_hdr;
    memcpy(&sizeof_hdr, u.bytes, 4);
    int32_t swapped_size = sizeof_hdr;
    nifti_swap_4bytes(1, &swapped_size);
    if (sizeof_hdr == 348 || sizeof_hdr == 540) {
        info->swapped = 0;
    } else if (swapped_size == 348 || swapped_size == 540) {
        info->swapped = 1;
        sizeof_hdr = swapped_size;
    } else {
        return sai_error_set(SAI_EFORMAT, "%s: bad sizeof_hdr %d (expected 348 for NIfTI-1 or "
                             "540 for NIfTI-2): not a NIfTI file", hdr_path, (int)sizeof_hdr);
    }
    info->big_endian = (nifti_short_order() == 2 /* MSB first */) != info->swapped;
    info->version = sizeof_hdr == 348 ? 1 : 2;
    if (!gz_read_exact(g, u.bytes + 4, (size_t)sizeof_hdr - 4)) {
        int err;
        gzerror(g, &err);
        return sai_error_set(SAI_EFORMAT, "%s: %s inside the %d-byte header", hdr_path,
                             err < 0 ? "corrupt or truncated gzip stream" : "file ends", sizeof_hdr);
    }
    const char *magic = info->version == 1 ? u.h1.magic : u.h2.magic;
    int single = 0;
    if (info->version == 1 && (strcmp(magic, "n+1") == 0 || strcmp(magic, "ni1") == 0)) {
        single = magic[1] == '+';
    } else if (info->version == 2 && (memcmp(magic, "n+2", 4) == 0 || memcmp(magic, "ni2", 4) == 0)) {
        single = magic[1] == '+';
    } else {
        char shown[9];
        for (int i = 0; i < 8 && i < (info->version == 1 ? 4 : 8); i++)
            shown[i] = (magic[i] >= 32 && magic[i] < 127) ? magic[i] : '?';
        shown[info->version == 1 ? 4 : 8] = '\0';
        return sai_error_set(SAI_EFORMAT, "%s: bad magic '%s' (expected 'n+%d' or 'ni%d'%s)",
                             hdr_path, shown, info->version, info->version,
                             info->version == 1 ? "; an Analyze 7.5 header is not NIfTI" : "");
    }
    memcpy(info->magic, magic, 3);
    info->magic[3] = '\0';
    info->two_files = !single;
    if (info->swapped) swap_nifti_header(u.bytes, info->version);

    int64_t dim[8];
    double pixdim[8];
    int datatype;
    double vox_offset;
    if (info->version == 1) {
        for (int i = 0; i < 8; i++) {
            dim[i] = u.h1.dim[i];
            pixdim[i] = u.h1.pixdim[i];
        }
        datatype = u.h1.datatype;
        vox_offset = u.h1.vox_offset;
        info->scl_slope = u.h1.scl_slope;
        info->scl_inter = u.h1.scl_inter;
    } else {
        for (int i = 0; i < 8; i++) {
            dim[i] = u.h2.dim[i];
            pixdim[i] = u.h2.pixdim[i];
        }
        datatype = u.h2.datatype;
        vox_offset = (double)u.h2.vox_offset;
        info->scl_slope = u.h2.scl_slope;
        info->scl_inter = u.h2.scl_inter;
    }
    sai_status st = check_common(hdr_path, info, dim, pixdim, datatype);
    if (st) return st;
    if (!isfinite(vox_offset) || vox_offset < 0 || vox_offset > 9.0e15)
        return sai_error_set(SAI_EFORMAT, "%s: vox_offset %g is not a valid byte offset", hdr_path,
                             vox_offset);
    info->vox_offset = (int64_t)vox_offset;
    if (single && info->vox_offset < sizeof_hdr + 4) {
        if (info->vox_offset != 0)
            return sai_error_set(SAI_EFORMAT, "%s: vox_offset %lld points inside the header", hdr_path,
                                 (long long)info->vox_offset);
        info->vox_offset = sizeof_hdr + 4; /* as libnifti: 0 in a .nii means "right after" */
    }

    nifti_image *nim = info->version == 1 ? nifti_convert_n1hdr2nim(u.h1, hdr_path)
                                          : nifti_convert_n2hdr2nim(u.h2, hdr_path);
    if (!nim) return sai_error_set(SAI_EFORMAT, "%s: libnifti rejected the header", hdr_path);
    info_from_nim(info, nim);
    *nim_out = nim;
    return SAI_OK;
}

void sai_nifti_info_free(sai_nifti_info *info)
{
    for (int i = 0; i < info->n_ext; i++) free(info->ext[i].data);
    free(info->ext);
    info->ext = NULL;
    info->n_ext = 0;
}

sai_status sai_nifti_read_info(const char *path, sai_nifti_info *info)
{
    memset(info, 0, sizeof *info);
    once_quiet_libnifti();
    if (strlen(path) >= SAI_PATH_MAX) return sai_error_set(SAI_EINVAL, "path too long");
    struct stat st;
    if (stat(path, &st) != 0)
        return sai_error_set(errno == ENOENT ? SAI_ENOENT : SAI_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return sai_error_set(SAI_EIO, "%s: not a regular file", path);

    size_t stem_len;
    int gz_suffix;
    path_kind kind = classify(path, &stem_len, &gz_suffix);
    char hdr_path[SAI_PATH_MAX];
    if (kind == KIND_IMG) {
        if (find_partner(path, stem_len, gz_suffix, ".hdr", hdr_path)) return SAI_ENOENT;
    } else {
        snprintf(hdr_path, sizeof hdr_path, "%s", path);
    }

    gzFile g = gzopen(hdr_path, "rb");
    if (!g) return sai_error_set(SAI_EIO, "%s: cannot open: %s", hdr_path, strerror(errno));
    gzbuffer(g, 1 << 16);
    nifti_image *nim = NULL;
    sai_status rc = parse_header(g, hdr_path, info, &nim);
    if (rc == SAI_OK) {
        int hsize = info->version == 1 ? 348 : 540;
        rc = read_extensions(g, hdr_path, info, info->two_files ? -1 : info->vox_offset - hsize - 4);
    }
    gzclose(g);
    if (nim) nifti_image_free(nim);
    if (rc) {
        sai_nifti_info_free(info);
        return rc;
    }

    /* locate the voxels */
    if (!info->two_files) {
        if (kind == KIND_HDR || kind == KIND_IMG) {
            sai_nifti_info_free(info);
            return sai_error_set(SAI_EFORMAT, "%s: magic '%s' says a single .nii file, but the "
                                 "name is a .hdr/.img pair", hdr_path, info->magic);
        }
        snprintf(info->data_path, sizeof info->data_path, "%s", path);
    } else if (kind == KIND_IMG) {
        snprintf(info->data_path, sizeof info->data_path, "%s", path);
    } else if (kind == KIND_HDR) {
        if (find_partner(path, stem_len, gz_suffix, ".img", info->data_path)) {
            sai_nifti_info_free(info);
            return SAI_ENOENT;
        }
    } else {
        sai_nifti_info_free(info);
        return sai_error_set(SAI_EFORMAT, "%s: magic '%s' says a .hdr/.img pair; name the file "
                             ".hdr or .img", path, info->magic);
    }
    info->data_gz = is_gzip_file(info->data_path);

    int64_t fsize = file_size(info->data_path);
    int64_t need = info->vox_offset + info->nbytes;
    if (!info->data_gz) {
        if (fsize < need) {
            sai_error_set(SAI_EFORMAT, "%s: data block shorter than the header says: %lld bytes of "
                          "voxels expected at offset %lld, the file has %lld bytes",
                          info->data_path, (long long)info->nbytes, (long long)info->vox_offset,
                          (long long)fsize);
            sai_nifti_info_free(info);
            return SAI_EFORMAT;
        }
    } else if (fsize >= 0 && need / GZ_MAX_RATIO > fsize + 4096) {
        sai_error_set(SAI_EFORMAT, "%s: the header claims %lld bytes of voxels, more than a %lld-byte "
                      "gzip file can hold (absurd dimensions or a truncated file)",
                      info->data_path, (long long)info->nbytes, (long long)fsize);
        sai_nifti_info_free(info);
        return SAI_EFORMAT;
    } else if (need > physical_memory()) {
        sai_error_set(SAI_EFORMAT, "%s: the header claims %lld bytes of voxels, more than this "
                      "machine's memory", info->data_path, (long long)info->nbytes);
        sai_nifti_info_free(info);
        return SAI_EFORMAT;
    }
    return SAI_OK;
}

int64_t sai_nifti_data_prefix(const sai_nifti_info *info)
{
    return info->data_gz ? info->vox_offset : 0;
}

sai_status sai_nifti_read_data(const sai_nifti_info *info, void *buf, int64_t bufsize)
{
    int64_t prefix = sai_nifti_data_prefix(info);
    if (bufsize < prefix + info->nbytes)
        return sai_error_set(SAI_EINVAL, "read buffer of %lld bytes is smaller than %lld",
                             (long long)bufsize, (long long)(prefix + info->nbytes));
    if (info->data_gz) {
        int64_t got = 0;
        sai_status rc = sai_gunzip_file(info->data_path, buf, prefix + info->nbytes, &got);
        if (rc) return rc;
        if (got < prefix + info->nbytes)
            return sai_error_set(SAI_EFORMAT, "%s: data block shorter than the header says: %lld "
                                 "bytes of voxels expected after offset %lld, the stream ends "
                                 "after %lld", info->data_path, (long long)info->nbytes,
                                 (long long)info->vox_offset, (long long)got);
        return SAI_OK;
    }
    int fd = open(info->data_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sai_error_set(SAI_EIO, "%s: cannot open: %s", info->data_path, strerror(errno));
    char *dst = buf;
    int64_t done = 0;
    while (done < info->nbytes) {
        size_t chunk = (size_t)(info->nbytes - done);
        if (chunk > ((size_t)1 << 30)) chunk = (size_t)1 << 30;
        ssize_t r = pread(fd, dst + done, chunk, (off_t)(info->vox_offset + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            if (r == 0)
                return sai_error_set(SAI_EFORMAT, "%s: data block shorter than the header says "
                                     "(file ends after %lld of %lld voxel bytes)", info->data_path,
                                     (long long)done, (long long)info->nbytes);
            return sai_error_set(SAI_EIO, "%s: read failed: %s", info->data_path, strerror(e));
        }
        done += r;
    }
    close(fd);
    return SAI_OK;
}

void sai_byteswap(void *buf, int64_t n, int size)
{
    if (size > 1) nifti_swap_Nbytes(n, size, buf);
}

/* ------------------------------------------------------------- writing */

typedef struct {
    int fd;
    int gz;
    z_stream zs;
    unsigned char out[1 << 16];
    const char *path; /* for messages */
} sink;

static sai_status sink_open(sink *s, const char *tmp, int gz, int level, const char *final_path)
{
    memset(s, 0, sizeof *s);
    s->path = final_path;
    s->fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (s->fd < 0) return sai_error_set(SAI_EIO, "%s: cannot create a temporary file: %s",
                                        final_path, strerror(errno));
    s->gz = gz;
    if (gz && deflateInit2(&s->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        close(s->fd);
        return sai_error_set(SAI_ENOMEM, "%s: cannot start gzip compression", final_path);
    }
    return SAI_OK;
}

static sai_status write_all(sink *s, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(s->fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return sai_error_set(SAI_EIO, "%s: write failed: %s", s->path, strerror(errno));
        c += w;
        n -= (size_t)w;
    }
    return SAI_OK;
}

static sai_status sink_put(sink *s, const void *p, size_t n, int finish)
{
    if (!s->gz) return n ? write_all(s, p, n) : SAI_OK;
    const unsigned char *c = p;
    size_t left = n;
    do {
        unsigned chunk = left > (1u << 30) ? (1u << 30) : (unsigned)left;
        s->zs.next_in = (unsigned char *)c;
        s->zs.avail_in = chunk;
        int last = finish && chunk == left;
        int zr;
        do {
            s->zs.next_out = s->out;
            s->zs.avail_out = sizeof s->out;
            zr = deflate(&s->zs, last ? Z_FINISH : Z_NO_FLUSH);
            if (zr == Z_STREAM_ERROR) return sai_error_set(SAI_EINTERNAL, "%s: gzip error", s->path);
            size_t have = sizeof s->out - s->zs.avail_out;
            if (have && write_all(s, s->out, have)) return SAI_EIO;
        } while (s->zs.avail_out == 0 || (last && zr != Z_STREAM_END));
        c += chunk;
        left -= chunk;
    } while (left);
    return SAI_OK;
}

static sai_status sink_close(sink *s, int ok)
{
    if (s->gz) deflateEnd(&s->zs);
    if (close(s->fd) != 0 && ok) return sai_error_set(SAI_EIO, "%s: close failed: %s", s->path,
                                                      strerror(errno));
    return SAI_OK;
}

static sai_status temp_name(char *out, const char *final_path)
{
    static unsigned counter = 0;
    const char *slash = strrchr(final_path, '/');
    int dirlen = slash ? (int)(slash - final_path + 1) : 0;
    int w = snprintf(out, SAI_PATH_MAX, "%.*s.%s.%ld.%u.%lx.tmp", dirlen, final_path,
                     final_path + dirlen, (long)getpid(), __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED),
                     (unsigned long)time(NULL));
    if (w < 0 || w >= SAI_PATH_MAX) return sai_error_set(SAI_EINVAL, "%s: path too long", final_path);
    return SAI_OK;
}

static nifti_image *nim_from_info(const sai_nifti_info *info, int version, int two_files)
{
    int64_t dims[8];
    for (int i = 0; i < 8; i++) dims[i] = i <= info->ndim ? info->dim[i] : 1;
    dims[0] = info->ndim;
    nifti_image *nim = nifti_make_new_nim(dims, info->datatype, 0);
    if (!nim) return NULL;
    for (int i = 1; i < 8; i++) nim->pixdim[i] = info->pixdim[i];
    nim->dx = nim->pixdim[1];
    nim->dy = nim->pixdim[2];
    nim->dz = nim->pixdim[3];
    nim->dt = nim->pixdim[4];
    nim->du = nim->pixdim[5];
    nim->dv = nim->pixdim[6];
    nim->dw = nim->pixdim[7];
    nim->scl_slope = info->scl_slope;
    nim->scl_inter = info->scl_inter;
    nim->cal_min = info->cal_min;
    nim->cal_max = info->cal_max;
    nim->qform_code = info->qform_code;
    nim->sform_code = info->sform_code;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) {
            nim->qto_xyz.m[r][c] = info->qto_xyz[r][c];
            nim->sto_xyz.m[r][c] = info->sto_xyz[r][c];
        }
    double dx, dy, dz;
    nifti_dmat44_to_quatern(nim->qto_xyz, &nim->quatern_b, &nim->quatern_c, &nim->quatern_d,
                            &nim->qoffset_x, &nim->qoffset_y, &nim->qoffset_z, &dx, &dy, &dz,
                            &nim->qfac);
    nim->xyz_units = info->xyz_units;
    nim->time_units = info->time_units;
    nim->toffset = info->toffset;
    nim->freq_dim = info->freq_dim;
    nim->phase_dim = info->phase_dim;
    nim->slice_dim = info->slice_dim;
    nim->slice_code = info->slice_code;
    nim->slice_start = info->slice_start;
    nim->slice_end = info->slice_end;
    nim->slice_duration = info->slice_duration;
    nim->intent_code = info->intent_code;
    nim->intent_p1 = info->intent_p[0];
    nim->intent_p2 = info->intent_p[1];
    nim->intent_p3 = info->intent_p[2];
    memcpy(nim->intent_name, info->intent_name, 16);
    nim->intent_name[15] = '\0';
    memcpy(nim->descrip, info->descrip, 80);
    nim->descrip[79] = '\0';
    memcpy(nim->aux_file, info->aux_file, 24);
    nim->aux_file[23] = '\0';
    nim->nifti_type = version == 1 ? (two_files ? NIFTI_FTYPE_NIFTI1_2 : NIFTI_FTYPE_NIFTI1_1)
                                   : (two_files ? NIFTI_FTYPE_NIFTI2_2 : NIFTI_FTYPE_NIFTI2_1);
    return nim;
}

static int64_t ext_block_size(const sai_nifti_ext *e) { return ((int64_t)e->size + 8 + 15) / 16 * 16; }

static sai_status put_extensions(sink *s, const sai_nifti_info *info)
{
    unsigned char extender[4] = {info->n_ext > 0, 0, 0, 0};
    if (sink_put(s, extender, 4, 0)) return SAI_EIO;
    static const char zeros[16] = {0};
    for (int i = 0; i < info->n_ext; i++) {
        const sai_nifti_ext *e = &info->ext[i];
        int32_t head[2] = {(int32_t)ext_block_size(e), e->code};
        if (sink_put(s, head, 8, 0) || sink_put(s, e->data, (size_t)e->size, 0) ||
            sink_put(s, zeros, (size_t)(ext_block_size(e) - 8 - e->size), 0))
            return SAI_EIO;
    }
    return SAI_OK;
}

sai_status sai_nifti_write(const char *path, const sai_nifti_info *info, const void *data,
                           int gzip_level)
{
    once_quiet_libnifti();
    size_t stem_len;
    int gz;
    path_kind kind = classify(path, &stem_len, &gz);
    if (kind == KIND_UNKNOWN)
        return sai_error_set(SAI_EINVAL, "%s: expected a name ending in .nii, .nii.gz, .hdr(.gz) "
                             "or .img(.gz)", path);
    if (strlen(path) + 40 >= SAI_PATH_MAX) return sai_error_set(SAI_EINVAL, "%s: path too long", path);
    int two = kind != KIND_NII;
    int version = info->version;
    int64_t maxdim = 0;
    for (int i = 1; i <= info->ndim; i++) maxdim = info->dim[i] > maxdim ? info->dim[i] : maxdim;
    if (version == 0) version = maxdim > 32767 ? 2 : 1;
    if (version != 1 && version != 2)
        return sai_error_set(SAI_EINVAL, "nifti_version must be 1 or 2, not %d", version);
    if (version == 1 && maxdim > 32767)
        return sai_error_set(SAI_EINVAL, "%s: a dimension of %lld does not fit NIfTI-1 (max 32767); "
                             "use NIfTI-2", path, (long long)maxdim);
    if (info->ndim < 1 || info->ndim > 7)
        return sai_error_set(SAI_EINVAL, "%s: %d dimensions; NIfTI holds 1 to 7", path, info->ndim);
    if (gzip_level < 1 || gzip_level > 9) gzip_level = 6;

    nifti_image *nim = nim_from_info(info, version, two);
    if (!nim) return sai_error_set(SAI_EINVAL, "%s: libnifti could not build a header", path);
    union {
        nifti_1_header h1;
        nifti_2_header h2;
    } h;
    memset(&h, 0, sizeof h);
    int hsize = version == 1 ? 348 : 540;
    int64_t ext_bytes = 0;
    for (int i = 0; i < info->n_ext; i++) ext_bytes += ext_block_size(&info->ext[i]);
    int64_t vox_offset = two ? 0 : (hsize + 4 + ext_bytes + 15) / 16 * 16;
    int conv = version == 1 ? nifti_convert_nim2n1hdr(nim, &h.h1) : nifti_convert_nim2n2hdr(nim, &h.h2);
    nifti_image_free(nim);
    if (conv) return sai_error_set(SAI_EINVAL, "%s: libnifti could not convert the header", path);
    if (version == 1) {
        h.h1.vox_offset = (float)vox_offset;
        memcpy(h.h1.magic, two ? "ni1" : "n+1", 4);
    } else {
        h.h2.vox_offset = vox_offset;
        memcpy(h.h2.magic, two ? "ni2\0\r\n\032\n" : "n+2\0\r\n\032\n", 8);
    }

    char hdr_final[SAI_PATH_MAX], img_final[SAI_PATH_MAX], hdr_tmp[SAI_PATH_MAX], img_tmp[SAI_PATH_MAX];
    if (two) {
        make_path(hdr_final, path, stem_len, ".hdr", gz);
        make_path(img_final, path, stem_len, ".img", gz);
    } else {
        snprintf(hdr_final, sizeof hdr_final, "%s", path);
    }
    if (temp_name(hdr_tmp, hdr_final) || (two && temp_name(img_tmp, img_final))) return SAI_EINVAL;

    sink s;
    sai_status rc = sink_open(&s, hdr_tmp, gz, gzip_level, hdr_final);
    if (rc) return rc;
    rc = sink_put(&s, &h, (size_t)hsize, 0);
    if (!rc) rc = put_extensions(&s, info);
    if (!rc && !two) {
        static const char zeros[16] = {0};
        int64_t pad = vox_offset - hsize - 4 - ext_bytes;
        rc = sink_put(&s, zeros, (size_t)pad, 0);
        if (!rc) rc = sink_put(&s, data, (size_t)info->nbytes, 1);
    } else if (!rc) {
        rc = sink_put(&s, NULL, 0, 1);
    }
    sai_status rc2 = sink_close(&s, rc == SAI_OK);
    if (!rc) rc = rc2;
    if (!rc && two) {
        sink si;
        rc = sink_open(&si, img_tmp, gz, gzip_level, img_final);
        if (!rc) {
            rc = sink_put(&si, data, (size_t)info->nbytes, 1);
            rc2 = sink_close(&si, rc == SAI_OK);
            if (!rc) rc = rc2;
        }
    }
    if (!rc && two && rename(img_tmp, img_final) != 0)
        rc = sai_error_set(SAI_EIO, "%s: cannot rename the temporary file: %s", img_final,
                           strerror(errno));
    if (!rc && rename(hdr_tmp, hdr_final) != 0)
        rc = sai_error_set(SAI_EIO, "%s: cannot rename the temporary file: %s", hdr_final,
                           strerror(errno));
    if (rc) {
        unlink(hdr_tmp);
        if (two) unlink(img_tmp);
    }
    return rc;
}
