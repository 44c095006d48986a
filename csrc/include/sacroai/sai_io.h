/* sai_io.h: NIfTI-1/2 reading and writing, gzip, voxel scaling.
 *
 * Header logic (byte order, qform quaternion -> matrix, sform, header
 * construction on write) goes through libnifti.  The byte I/O is ours:
 * exact file names (no libnifti file-name guessing), mmap-friendly offsets,
 * libdeflate for .gz, and atomic writes (temporary file, then rename).
 */
#ifndef SAI_IO_H
#define SAI_IO_H

#include <stdint.h>

#include "sacroai/sai_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SAI_PATH_MAX 4096

typedef struct {
    int32_t code;
    int32_t size; /* bytes of data (the block size minus 8) */
    char *data;
} sai_nifti_ext;

typedef struct {
    /* file layout */
    int version;         /* 1 or 2 */
    int two_files;       /* .hdr/.img pair */
    int data_gz;         /* the data file is gzip-compressed */
    int swapped;         /* file byte order differs from this machine's */
    int big_endian;      /* file byte order */
    int64_t vox_offset;  /* byte offset of the voxels in the data file */
    char data_path[SAI_PATH_MAX];
    char magic[5];
    /* array */
    int ndim;
    int64_t dim[8];      /* dim[1..ndim] */
    int datatype;        /* NIFTI_TYPE_* */
    int nbyper;          /* bytes per voxel */
    int swapsize;        /* byte-swap unit (0 for 1-byte types) */
    int64_t nvox;
    int64_t nbytes;      /* nvox * nbyper */
    double pixdim[8];
    /* intensity */
    double scl_slope, scl_inter, cal_min, cal_max;
    /* geometry */
    int qform_code, sform_code;
    double quatern[3], qoffset[3], qfac;
    double qto_xyz[4][4], sto_xyz[4][4];
    int xyz_units, time_units;
    double toffset;
    /* acquisition and meaning */
    int freq_dim, phase_dim, slice_dim, slice_code;
    int64_t slice_start, slice_end;
    double slice_duration;
    int intent_code;
    double intent_p[3];
    char intent_name[17];
    char descrip[81];
    char aux_file[25];
    /* extensions (owned; free with sai_nifti_info_free) */
    int n_ext;
    sai_nifti_ext *ext;
    int ext_truncated;   /* the extension chain was malformed and cut short */
} sai_nifti_info;

/* Read and validate the header (and extensions) of `path`: .nii, .nii.gz,
 * .hdr(.gz) with its .img(.gz), or .img(.gz) with its .hdr(.gz).  Checks the
 * data file's length when it is not compressed. */
sai_status sai_nifti_read_info(const char *path, sai_nifti_info *info);
void sai_nifti_info_free(sai_nifti_info *info);

/* Bytes the caller must place before the voxels in the buffer given to
 * sai_nifti_read_data: vox_offset for gzip data (the stream is inflated from
 * its start, in place), 0 otherwise. */
int64_t sai_nifti_data_prefix(const sai_nifti_info *info);
/* Read the voxels (file byte order) into buf of prefix + nbytes bytes. */
sai_status sai_nifti_read_data(const sai_nifti_info *info, void *buf, int64_t bufsize);

/* Write header + extensions + voxels (native order, Fortran layout) to
 * `path` atomically.  info->version 0 picks NIfTI-1 unless a dimension needs
 * NIfTI-2.  The geometry written is qto_xyz/sto_xyz with their codes;
 * the quaternion is derived from qto_xyz by libnifti.  gzip_level is used
 * when the path ends in .gz (1..9). */
sai_status sai_nifti_write(const char *path, const sai_nifti_info *info, const void *data,
                           int gzip_level);

/* In-place byte swap of n items of `size` bytes (2, 4, 8, 16). */
void sai_byteswap(void *buf, int64_t n, int size);

/* gzip (gzip.c) */
/* Inflate a whole gzip file into out (exactly `want` bytes are required;
 * more in the stream is ignored).  `*got` receives the bytes produced. */
sai_status sai_gunzip_file(const char *path, void *out, int64_t want, int64_t *got);
const char *sai_deflate_backend(void);

/* Scaling (scale.c): dst = src * slope + inter, element-wise, parallel. */
sai_status sai_scale(const void *src, sai_dtype src_type, int64_t n, double slope, double inter,
                     void *dst, sai_dtype dst_type);

#ifdef __cplusplus
}
#endif
#endif
